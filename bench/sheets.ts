// Issue #3's benchmark: corral's bundled app in front of the Sheets API emulator (800 ms upstream
// latency, 30 s TTL), cached read GET /api/players at 100, 300 and 1000 keep-alive connections after
// the first fill and `warmupSeconds` of unmeasured load (as compare: measured from a cold start,
// the first row measured the JIT): upstream calls (and per TTL window), p50/p99 latency. The three
// loads run back to back against the same corral, so the run spans at least one TTL expiry.

import { loadavg } from 'node:os';
import { cpuUsPerOk, treeCpuSeconds } from './lib/cpu.js';
import type { ReadCall } from '../src/sheets/emulator/index.js';
import { mostReadsInTtl, readCalls, startEmulatorProcess } from './lib/emulator-proc.js';
import { load, type LoadResult } from './lib/load.js';
import { machine, save, table } from './lib/report.js';
import { keeperFigures, ROUTES, startCorralOnEmulator, ttlWindows, warmLoad, warmUp } from './lib/sheets-app.js';

export interface SheetsBenchOptions {
  readonly seconds: number;
  readonly workers: number;
  readonly connections: readonly number[];
  readonly ttlS: number;
  readonly latencyMs: number;
  /** Unmeasured load (100 connections) on the route before the measured loads; 0: measured cold. */
  readonly warmupSeconds: number;
}

interface Row {
  connections: number;
  result: LoadResult;
  /** CPU of corral's process tree (master, keeper, workers) per successful (2xx) answer. */
  cpuUsPerOk: number;
  upstreamCalls: number;
  windows: number;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/**
 * "≤ 1 upstream call per TTL window per range", judged as compare judges it and as the README says
 * of both sections: per window, from the emulator's log of reads, no range read again within a TTL
 * of a read of it. An average cannot tell: one read in each of two 10 s loads, 20 s apart, is 1.00
 * per load and 1.00 per window over the run (2 calls, 2 windows), and still two reads within 30 s.
 */
export function upstreamGoal(reads: readonly ReadCall[], ttlS: number): { met: boolean; mostInTtl: number } {
  const mostInTtl = mostReadsInTtl(reads, ttlS * 1000);
  return { met: mostInTtl <= 1, mostInTtl };
}

export async function benchSheets(o: SheetsBenchOptions): Promise<void> {
  const players = ROUTES[0];
  if (!players) throw new Error('no players route');
  console.log(
    `\n## sheets: cached GET /api/players through corral's keeper (issue 3)\nmachine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n` +
      `corral: bundled app, ${o.workers} workers, SHEET_CACHE_TTL=${o.ttlS}, CORRAL_RATE_LIMIT=0 (per-IP limit off for a one-IP load generator), access log off\n` +
      `upstream: corral emulator, ${o.latencyMs} ms latency on every values call, Google's default project quota (300 reads/min; the per-user quota off); ${o.seconds} s per load, keep-alive, after ${o.warmupSeconds} s of unmeasured load\n`,
  );
  const emu = await startEmulatorProcess({ latencyMs: o.latencyMs });
  const rows: Row[] = [];
  let total = { calls: 0, elapsedS: 0, windows: 0, mostInTtl: 0 };
  let goal = { met: false, mostInTtl: 0 };
  let keeper: { hits: number; waited: number } | undefined;
  try {
    const corral = await startCorralOnEmulator(o.workers, emu, o.ttlS);
    try {
      await warmUp(corral.url, players);
      await warmLoad(corral.url, players, o.warmupSeconds);
      const keeperBefore = await keeperFigures(corral.corral.dataDir).catch(() => undefined);
      const base = readCalls(await emu.counters());
      const t0 = Date.now();
      for (const connections of o.connections) {
        const before = readCalls(await emu.counters());
        const cpuBefore = treeCpuSeconds(corral.pid ?? -1);
        const result = await load(`${corral.url}${players.path}`, { connections, seconds: o.seconds });
        const cpu = treeCpuSeconds(corral.pid ?? -1) - cpuBefore;
        const upstreamCalls = readCalls(await emu.counters()) - before;
        const windows = ttlWindows(result.seconds, o.ttlS);
        rows.push({ connections, result, cpuUsPerOk: cpuUsPerOk(cpu, result), upstreamCalls, windows });
        console.log(
          `${connections} connections: ${result.rps.toFixed(0)} req/s, p50 ${fmt(result.p50Ms)} ms, p99 ${fmt(result.p99Ms)} ms, ${result.errors} errors, ${upstreamCalls} upstream calls`,
        );
      }
      const elapsedS = (Date.now() - t0) / 1000;
      goal = upstreamGoal(await emu.reads(t0), o.ttlS);
      total = { calls: readCalls(await emu.counters()) - base, elapsedS, windows: ttlWindows(elapsedS, o.ttlS), mostInTtl: goal.mostInTtl };
      const keeperAfter = await keeperFigures(corral.corral.dataDir).catch(() => undefined);
      if (keeperBefore && keeperAfter) {
        keeper = { hits: (keeperAfter.cacheHits ?? 0) - (keeperBefore.cacheHits ?? 0), waited: (keeperAfter.cacheMisses ?? 0) - (keeperBefore.cacheMisses ?? 0) };
      }
    } finally {
      await corral.stop();
    }
  } finally {
    await emu.stop();
  }

  const at1000 = rows.find((r) => r.connections === 1000)?.result;
  const p99At1000 = at1000?.p99Ms;
  // As compare judges it: a p99 over a load with errors is not the served requests' latency.
  const p99Met = at1000 !== undefined && at1000.p99Ms < 50 && at1000.errors === 0;
  const perWindow = total.calls / total.windows;
  const worstRow = Math.max(...rows.map((r) => r.upstreamCalls / r.windows));
  console.log(
    `\n${table(
      ['conns', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'CPU µs/2xx', 'upstream calls', 'TTL windows', 'calls/window'],
      rows.map((r) => [r.connections, Math.round(r.result.rps), fmt(r.result.p50Ms), fmt(r.result.p99Ms), r.result.errors, fmt(r.cpuUsPerOk, 0), r.upstreamCalls, r.windows, (r.upstreamCalls / r.windows).toFixed(2)]),
    )}\n` +
      `whole run after the warm-up: ${total.calls} upstream read calls in ${total.elapsedS.toFixed(1)} s = ${total.windows} TTL windows of ${o.ttlS} s ` +
      `(at most floor(elapsed/TTL)+1 refreshes fit), ${perWindow.toFixed(2)} calls per window for the one range read (Players)\n` +
      (keeper
        ? `keeper after the warm-up: ${keeper.hits} answers to workers from its cache (their L1 copies expire), ${keeper.waited} that waited for upstream (stale-while-revalidate: expected 0)\n`
        : 'keeper figures unavailable\n') +
      `goal ≤ 1 upstream call per TTL window per range: ${goal.met ? 'met' : 'MISSED'} (at most ${goal.mostInTtl} read${goal.mostInTtl === 1 ? '' : 's'} of a range within one TTL; on average: whole run ${perWindow.toFixed(2)}, worst load ${worstRow.toFixed(2)} per window)\n` +
      (p99At1000 !== undefined ? `p99 at 1000 connections: ${fmt(p99At1000)} ms (issue 6 goal < 50 ms: ${p99Met ? 'met' : 'MISSED'}${at1000 && at1000.errors > 0 ? `, ${at1000.errors} errors` : ''})\n` : '') +
      `(load tool: ${rows[0]?.result.tool ?? 'n/a'})`,
  );
  console.log(`saved ${save('sheets', { settings: { ...o, readsPerMinute: 300, readsPerMinutePerUser: 0, rateLimit: 0, accessLog: false }, loadavg: loadavg(), rows, total, keeper })}`);
}
