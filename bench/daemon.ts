// Issue #2's benchmark: corral serving a fixture app that returns a precomputed 12 KB JSON body vs
// a bare node:cluster server with the same worker count and body. Goal: corral >= 0.9 x bare.
// Each configuration is measured in several rounds, alternating which server goes first, and the
// medians are compared: on a shared 2-core machine one run of each is mostly noise. CPU time per
// request of each server's whole process tree is reported too; it holds up better than req/s.

import { cpuUsPerOk, treeCpuSeconds } from './lib/cpu.js';
import { load, type LoadResult } from './lib/load.js';
import { machine, median, save, table } from './lib/report.js';
import { CEILING_ACCEPT_ENV } from './lib/sheets-app.js';
import { startBare, startCorralFor, type Running } from './lib/servers.js';

export interface DaemonBenchOptions {
  readonly seconds: number;
  /** Unmeasured load on each fresh server before its measured one: a cold server measures the JIT. */
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly workerCounts: readonly number[];
  readonly connections: readonly number[];
}

export type Measured = LoadResult & { cpuUsPerOk: number };
export type Variant = 'bare' | 'corral' | 'corral+log';

/** Load plus the server tree's CPU microseconds per 2xx answer, after `warmupSeconds` of unmeasured load. */
async function measure(server: Running, connections: number, seconds: number, warmupSeconds: number): Promise<Measured> {
  try {
    if (warmupSeconds > 0) await load(server.url, { connections, seconds: warmupSeconds });
    const pid = server.pid ?? -1;
    const before = treeCpuSeconds(pid);
    const r = await load(server.url, { connections, seconds });
    const used = treeCpuSeconds(pid) - before;
    return { ...r, cpuUsPerOk: cpuUsPerOk(used, r) };
  } finally {
    await server.stop();
  }
}

/**
 * A fresh server of `variant`. The bare one accepts as corral does by default (CORRAL_ACCEPT=shared,
 * each worker its own: CEILING_ACCEPT_ENV), as compare's ceilings do: with node:cluster's default
 * the master dealt connections out round-robin, and the ratio measured the accept policy too.
 */
export function start(variant: Variant, workers: number): Promise<Running> {
  if (variant === 'bare') return startBare(workers, undefined, { ...CEILING_ACCEPT_ENV });
  const env = { CORRAL_WORKER_CONNECTIONS: '10000', CORRAL_RATE_LIMIT: '0', CORRAL_ACCESS_LOG: variant === 'corral+log' ? 'true' : 'false' };
  return startCorralFor({ app: 'body-12k.mjs', workers, env });
}

export interface Row {
  workers: number;
  connections: number;
  runs: Record<Variant, Measured[]>;
}

/**
 * A variant's median round of a figure: lib/report.ts's lower median, as every section takes it,
 * so with an even BENCH_ROUNDS it is a round that was measured. This section used to average the
 * two middle rounds, unlike the others and unlike what the README says of BENCH_ROUNDS.
 */
export function rowMedian(row: Row, v: Variant, f: (x: Measured) => number): number {
  return median(row.runs[v].map(f));
}

export async function benchDaemon(o: DaemonBenchOptions): Promise<{ rows: Row[]; ratio100: number | undefined }> {
  console.log(`\n## corral vs bare node:cluster (12 KB precomputed body, keep-alive, ${o.rounds} rounds of ${o.seconds} s, each after ${o.warmupSeconds} s of unmeasured load on the fresh server (BENCH_WARMUP_SECONDS), medians)\nmachine: ${machine()}\n`);
  const rows: Row[] = [];
  const variants: Variant[] = ['bare', 'corral', 'corral+log'];
  for (const workers of o.workerCounts) {
    for (const connections of o.connections) {
      const row: Row = { workers, connections, runs: { bare: [], corral: [], 'corral+log': [] } };
      for (let round = 0; round < o.rounds; round++) {
        // Rotate the order so drift on a shared box does not favour one server.
        const order = variants.map((_, i) => variants[(i + round) % variants.length] as Variant);
        for (const v of order) row.runs[v].push(await measure(await start(v, workers), connections, o.seconds, o.warmupSeconds));
      }
      rows.push(row);
      const m = (v: Variant) => rowMedian(row, v, (r) => r.rps);
      console.log(`workers ${workers}, ${connections} connections: bare ${m('bare').toFixed(0)} req/s, corral ${m('corral').toFixed(0)} (x${(m('corral') / m('bare')).toFixed(2)}), with access log ${m('corral+log').toFixed(0)} (x${(m('corral+log') / m('bare')).toFixed(2)})`);
    }
  }
  console.log(
    `\n${table(
      ['workers', 'conns', 'bare req/s', 'corral req/s', 'corral/bare', 'corral+access log', 'ratio', 'CPU µs/2xx bare', 'corral', 'corral+log', 'p99 ms bare/corral', 'errors'],
      rows.map((r) => [
        r.workers,
        r.connections,
        Math.round(rowMedian(r, 'bare', (x) => x.rps)),
        Math.round(rowMedian(r, 'corral', (x) => x.rps)),
        (rowMedian(r, 'corral', (x) => x.rps) / rowMedian(r, 'bare', (x) => x.rps)).toFixed(2),
        Math.round(rowMedian(r, 'corral+log', (x) => x.rps)),
        (rowMedian(r, 'corral+log', (x) => x.rps) / rowMedian(r, 'bare', (x) => x.rps)).toFixed(2),
        rowMedian(r, 'bare', (x) => x.cpuUsPerOk).toFixed(0),
        rowMedian(r, 'corral', (x) => x.cpuUsPerOk).toFixed(0),
        rowMedian(r, 'corral+log', (x) => x.cpuUsPerOk).toFixed(0),
        `${rowMedian(r, 'bare', (x) => x.p99Ms).toFixed(1)}/${rowMedian(r, 'corral', (x) => x.p99Ms).toFixed(1)}`,
        variants.map((v) => r.runs[v].reduce((a, x) => a + x.errors, 0)).join('/'),
      ]),
    )}\n(load tool: ${rows[0]?.runs.bare[0]?.tool}; goal: corral/bare >= 0.9 at the same worker count, access log off; CPU µs/2xx = user+system CPU of the server's process tree per successful (2xx) answer)`,
  );
  const at100 = rows.find((r) => r.connections === 100 && r.workers === o.workerCounts[0]);
  const ratio100 = at100 ? rowMedian(at100, 'corral', (x) => x.rps) / rowMedian(at100, 'bare', (x) => x.rps) : undefined;
  console.log(`saved ${save('daemon', { rows })}`);
  return { rows, ratio100 };
}
