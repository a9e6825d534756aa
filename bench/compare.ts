// Issue #6's comparison benchmark, one command, one run, same machine: corral's bundled app
// (cached GET /api/players and POST /api/login, in front of the Sheets API emulator with 800 ms
// latency and a 30 s TTL) vs
//   1. the ceiling: a bare node:cluster server answering the body corral answered, same worker count,
//      its workers accepting their own connections as corral's do by default (CEILING_ACCEPT_ENV);
//   2. the seeds' original setup: a Flask app with a per-worker 30 s cache in front of the same kind
//      of emulator, under `gunicorn -k gevent -w N --worker-connections 1000` (skipped, with a
//      message, when Debian's gunicorn / python3-gevent / python3-flask are missing).
// On the loads that open connections (1000 keep-alive, 100 without keep-alive) corral is also
// measured with CORRAL_ACCEPT=round-robin, where the master accepts and deals connections out. On
// the login's goal loads a third reference runs beside them: the login floor, a bare node:cluster
// server that reads, parses and checks the login and signs its token, and does nothing else.
// Every server runs for the whole section; for each load the three are measured back to back, in
// a rotating order, so drift on a shared box favours none of them. Ratios are what to read.

import { loadavg } from 'node:os';
import { cpuUsPerOk, treeCpuSeconds } from './lib/cpu.js';
import { mostReadsInTtl, readCalls, startEmulatorProcess, type EmulatorProcess } from './lib/emulator-proc.js';
import { GUNICORN_SKIP, gunicornMissing, gunicornVersion, startGunicorn } from './lib/gunicorn.js';
import { loadName, type LoadShape } from './lib/compare-loads.js';
import { load, type LoadResult } from './lib/load.js';
import { machine, median, save, table } from './lib/report.js';
import { LOGIN_PATH, ROUTES, startBareWithBody, startCorralOnEmulator, startLoginFloor, ttlWindows, warmLoad, warmUp, type Route } from './lib/sheets-app.js';
import { startTogether, type Running } from './lib/servers.js';

export interface CompareOptions {
  readonly seconds: number;
  /** The first count gets the matrix (`loads`, both routes); the others only GET /api/players at 100 keep-alive connections. */
  readonly workerCounts: readonly number[];
  /** The matrix's loads (BENCH_COMPARE_LOADS; lib/compare-loads.ts FULL_MATRIX by default). */
  readonly loads: readonly LoadShape[];
  readonly ttlS: number;
  readonly latencyMs: number;
  /**
   * Rounds of the rows the goals are judged on (100 and 1000 keep-alive connections): one 10 s load
   * of each server moves by ±15 % on a shared 2-core box, so those rows show the median round.
   */
  readonly goalRounds: number;
  /** Seconds of unmeasured load on each route of each server before its first measured round. */
  readonly warmupSeconds: number;
}

const SHORT: readonly LoadShape[] = [{ connections: 100, keepAlive: true }];

type Kind = 'bare' | 'corral' | 'gunicorn' | 'corralRoundRobin' | 'floor';

/**
 * Rows where corral is also measured with CORRAL_ACCEPT=round-robin (the master accepts and deals
 * connections out): the loads that open connections, where who accepts them matters.
 */
const ACCEPT_ROWS: readonly LoadShape[] = [
  { connections: 1000, keepAlive: true },
  { connections: 100, keepAlive: false },
];
const isAcceptRow = (l: LoadShape) => ACCEPT_ROWS.some((x) => x.connections === l.connections && x.keepAlive === l.keepAlive);
/** A load's figures plus the server process tree's CPU microseconds per successful (2xx) answer
 * (lib/cpu.ts cpuUsPerOk): on a shared, noisy 2-core box this holds up where requests/s does not. */
export type Measured = LoadResult & { cpuUsPerOk: number };

export interface Row {
  workers: number;
  route: string;
  connections: number;
  keepAlive: boolean;
  bare: Measured;
  corral: Measured;
  gunicorn?: Measured;
  /** corral with CORRAL_ACCEPT=round-robin, on the ACCEPT_ROWS loads of the full matrix. */
  corralRoundRobin?: Measured;
  /** The login floor (startLoginFloor), on the login's goal loads. */
  floor?: Measured;
  upstream: { corral: number; gunicorn?: number };
  /** req/s of every round, when the row was measured in several (the row shows the median one). */
  roundsRps?: Partial<Record<Kind, number[]>>;
  /**
   * p99 (ms) of every round, when the row was measured in several. The p99 goal is judged on their
   * median: 10 s loads at 1000 connections gave the same corral a p99 of 27 ms and of 892 ms
   * (see isGoalLoad).
   */
  roundsP99?: Partial<Record<Kind, number[]>>;
  /** Errors of every round (the row shows the median round's). */
  roundsErrors?: Partial<Record<Kind, number[]>>;
  /**
   * With several rounds: the median over rounds of corral's req/s divided by the other server's in
   * the same round. The ratio columns and the goals use it (see pairedRatio).
   */
  pairedRatios?: { bare: number; gunicorn?: number; bareOverGunicorn?: number; floor?: number; floorOverBare?: number; sharedOverRoundRobin?: number };
}

export interface Upstream {
  calls: number;
  elapsedS: number;
  windows: number;
  quotaRejections: number;
  /** The most reads of one range within one TTL of each other (mostReadsInTtl): the goal's figure. */
  mostInTtl: number;
}

export interface Goal {
  readonly what: string;
  readonly figure: string;
  readonly met: boolean | undefined;
}

const fmt = (n: number | undefined, digits = 1) => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const ratio = (a: LoadResult | undefined, b: LoadResult | undefined) => (a && b && b.rps > 0 ? a.rps / b.rps : NaN);
/** How many times less CPU per 2xx answer corral spends than `other` (>1: corral is cheaper). */
const cpuRatio = (corral: Measured | undefined, other: Measured | undefined) => (corral && other && corral.cpuUsPerOk > 0 ? other.cpuUsPerOk / corral.cpuUsPerOk : NaN);
/** The round with the median req/s (a real round, so its latencies and CPU belong to it). */
const medianRound = (runs: readonly Measured[]): Measured | undefined => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor((runs.length - 1) / 2)];
const shape = (l: LoadShape) => `${l.connections}${l.keepAlive ? '' : ' close'}`;
/**
 * The loads a goal is judged on get several rounds: 100 keep-alive connections (the req/s ratios)
 * and 1000 (the p99). A single 10 s load is not enough for either on a shared 2-core box: req/s
 * moves by ±15 %, and the p99 at 1000 connections moved from 27 ms to 892 ms between loads of the
 * same corral. That p99 follows how long the master took to hand out the load's 1000 new
 * connections (round-robin: one per busy worker per turn of its event loop) and how long wrk,
 * which shares the cores, was kept off them while answers waited in its sockets.
 */
const isGoalLoad = (l: LoadShape) => l.keepAlive && (l.connections === 100 || l.connections === 1000);
/** p99 of the median round by p99 (a real round's figure); NaN without rounds. */
const medianP99 = (r: Row, kind: Kind): number => median(r.roundsP99?.[kind] ?? []);

/**
 * The median of the per-round ratios a/b. Each round measures the servers back to back, so a
 * slowdown of the shared box that lasts longer than a round (seen here: the same server at 25k
 * req/s in one round and 35k in the next) weighs on both sides of a round's ratio, where the ratio
 * of two separately chosen median rounds can pair a fast round of one with a slow round of the other.
 */
function pairedRatio(a: readonly Measured[] | undefined, b: readonly Measured[] | undefined): number {
  if (!a || !b || a.length !== b.length) return NaN;
  return median(a.map((x, i) => ratio(x, b[i])));
}
/** Errors of `kind` in every round of the row (its one load when it had one). */
const allErrors = (r: Row, kind: Kind): number | undefined => (r.roundsErrors?.[kind] ? r.roundsErrors[kind].reduce((a, b) => a + b, 0) : r[kind]?.errors);

/** corral/other as the row shows it: paired over rounds when it had several, else its one load. */
const rowRatio = (r: Row, other: 'bare' | 'gunicorn'): number => r.pairedRatios?.[other] ?? ratio(r.corral, r[other]);

async function upstreamSince(emu: EmulatorProcess, baseCalls: number, baseRejections: number, t0: number, ttlS: number): Promise<Upstream> {
  const c = await emu.counters();
  const elapsedS = (Date.now() - t0) / 1000;
  const mostInTtl = mostReadsInTtl(await emu.reads(t0), ttlS * 1000);
  return { calls: readCalls(c) - baseCalls, elapsedS, windows: ttlWindows(elapsedS, ttlS), quotaRejections: c.quotaRejections - baseRejections, mostInTtl };
}

/**
 * One worker count's rows. `matrix`: the first count's (both routes, the round-robin corral on its
 * ACCEPT_ROWS, the login floor), else the one short row.
 */
async function runWorkers(workers: number, matrix: boolean, routes: readonly Route[], o: CompareOptions, withGunicorn: boolean) {
  const loads = matrix ? o.loads : SHORT;
  const roundRobinRow = (route: Route, l: LoadShape) => matrix && route === routes[0] && isAcceptRow(l);
  const rows: Row[] = [];
  const stops: (() => Promise<void>)[] = [];
  const upstream: { corral?: Upstream; gunicorn?: Upstream } = {};
  let gunicornArgs: readonly string[] | undefined;
  try {
    // corral with its ceilings, and gunicorn, start side by side: nothing is measured before
    // every one is up and warmed (below), and one after the other they were most of a short run.
    const corralSide = async () => {
      const emuCorral = await startEmulatorProcess({ latencyMs: o.latencyMs });
      stops.push(() => emuCorral.stop());
      const corral = await startCorralOnEmulator(workers, emuCorral, o.ttlS);
      stops.push(() => corral.stop());
      // The one warm-up request; its answer is the body the ceiling serves. The login answer is
      // captured the same way (from the cache the warm-up filled).
      const bodies = new Map<string, string>();
      for (const route of routes) bodies.set(route.name, await warmUp(corral.url, route));
      const bare = new Map<string, Running>();
      const loginRoute = routes.find((r) => r.path === LOGIN_PATH);
      let floor: Running | undefined;
      await startTogether<() => void>(
        [
          ...routes.map((route) => async () => {
            const b = await startBareWithBody(workers, bodies.get(route.name) ?? '');
            return () => {
              stops.push(() => b.stop());
              bare.set(route.name, b);
            };
          }),
          ...(loginRoute
            ? [
                async () => {
                  const f = await startLoginFloor(workers, bodies.get(loginRoute.name) ?? '');
                  return () => {
                    stops.push(() => f.stop());
                    floor = f;
                  };
                },
              ]
            : []),
        ],
        (keep) => keep(),
      );
      return { emuCorral, corral, bare, loginRoute, floor };
    };
    const gunicornSide = async () => {
      if (!withGunicorn) return undefined;
      const emu = await startEmulatorProcess({ latencyMs: o.latencyMs });
      stops.push(() => emu.stop());
      const g = await startGunicorn({ workers, env: { ...emu.env, SHEET_CACHE_TTL: String(o.ttlS) } });
      stops.push(() => g.stop());
      const first = routes[0];
      if (first) await warmUp(g.url, first);
      return { emu, url: g.url, pid: g.pid, args: g.args };
    };
    // The round-robin corral's emulator (below) starts with them: idle, it takes no CPU from the rows
    // measured before that corral starts, and its start-up was the most of that corral's.
    const roundRobinEmuSide = async () => {
      if (!routes.some((route) => loads.some((l) => roundRobinRow(route, l)))) return undefined;
      const emu = await startEmulatorProcess({ latencyMs: o.latencyMs });
      stops.push(() => emu.stop());
      return emu;
    };
    const [corralSettled, gunicornSettled, roundRobinEmuSettled] = await Promise.allSettled([corralSide(), gunicornSide(), roundRobinEmuSide()]);
    if (corralSettled.status === 'rejected') throw corralSettled.reason;
    if (gunicornSettled.status === 'rejected') throw gunicornSettled.reason;
    if (roundRobinEmuSettled.status === 'rejected') throw roundRobinEmuSettled.reason;
    let roundRobinEmu = roundRobinEmuSettled.value;
    const { emuCorral, corral, bare, loginRoute, floor } = corralSettled.value;
    const gunicorn = gunicornSettled.value;
    // The same corral with CORRAL_ACCEPT=round-robin, on an emulator of its own (its upstream calls are
    // not corral's default figures). It runs only while its rows are measured, so its idle workers
    // do not share the cores with the other rows.
    let roundRobin: { url: string; pid: number; emu: EmulatorProcess; stop: () => Promise<void> } | undefined;
    const startRoundRobin = async () => {
      const emu = roundRobinEmu ?? (await startEmulatorProcess({ latencyMs: o.latencyMs }));
      roundRobinEmu = undefined;
      const s = await startCorralOnEmulator(workers, emu, o.ttlS, { CORRAL_ACCEPT: 'round-robin' }).catch(async (err: unknown) => {
        await emu.stop();
        throw err;
      });
      // Once, from the rows' end or the finally below. It used to be pushed as "stop it if it is
      // `roundRobin`", which it never became when its warm-up below threw: that corral was left running.
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        await s.stop();
        await emu.stop();
      };
      stops.push(stop);
      await warmUp(s.url, ROUTES[0] as Route);
      await warmLoad(s.url, ROUTES[0] as Route, o.warmupSeconds);
      return { url: s.url, pid: s.pid ?? -1, emu, stop };
    };
    const pids: Partial<Record<Kind, number>> = { corral: corral.pid, ...(floor?.pid !== undefined ? { floor: floor.pid } : {}) };
    const gunicornUrl = gunicorn?.url;
    const emuGunicorn = gunicorn?.emu;
    if (gunicorn) {
      gunicornArgs = gunicorn.args;
      pids.gunicorn = gunicorn.pid;
    }
    // Every server under test, on every route, before anything is measured (see warmLoad).
    for (const route of routes) {
      await warmLoad(corral.url, route, o.warmupSeconds);
      await warmLoad(bare.get(route.name)?.url ?? '', route, o.warmupSeconds);
      if (gunicornUrl) await warmLoad(gunicornUrl, route, o.warmupSeconds);
      if (floor && route === loginRoute) await warmLoad(floor.url, route, o.warmupSeconds);
    }
    const cBase = await emuCorral.counters();
    const gBase = emuGunicorn ? await emuGunicorn.counters() : undefined;
    const t0 = Date.now();

    let turn = 0;
    for (const route of routes) {
      for (const l of loads) {
        const kinds: Kind[] = gunicornUrl ? ['bare', 'corral', 'gunicorn'] : ['bare', 'corral'];
        if (roundRobinRow(route, l)) {
          roundRobin ??= await startRoundRobin();
          pids.corralRoundRobin = roundRobin.pid;
          kinds.push('corralRoundRobin');
        }
        if (floor && route === loginRoute && isGoalLoad(l)) kinds.push('floor');
        const rounds = isGoalLoad(l) ? o.goalRounds : 1;
        const measured: Partial<Record<Kind, Measured[]>> = {};
        const calls: Partial<Record<Kind, number>> = {};
        const measureOne = async (kind: Kind): Promise<void> => {
          const base = kind === 'bare' ? bare.get(route.name)?.url : kind === 'corral' ? corral.url : kind === 'corralRoundRobin' ? roundRobin?.url : kind === 'floor' ? floor?.url : gunicornUrl;
          const emu = kind === 'corral' ? emuCorral : kind === 'gunicorn' ? emuGunicorn : kind === 'corralRoundRobin' ? roundRobin?.emu : undefined;
          // A load starts with the quota of a fresh minute: rows run back to back, and one that
          // spent the quota (gunicorn's stampedes) left the next row refusals of its own making.
          await emu?.resetQuotas();
          const before = emu ? readCalls(await emu.counters()) : 0;
          const pid = (kind === 'bare' ? bare.get(route.name)?.pid : pids[kind]) ?? -1;
          const cpuBefore = treeCpuSeconds(pid);
          const r = await load(`${base}${route.path}`, {
            connections: l.connections,
            seconds: o.seconds,
            keepAlive: l.keepAlive,
            method: route.method,
            ...(route.body !== undefined ? { body: route.body } : {}),
          });
          const cpu = treeCpuSeconds(pid) - cpuBefore;
          (measured[kind] ??= []).push({ ...r, cpuUsPerOk: cpuUsPerOk(cpu, r) });
          if (emu) calls[kind] = (calls[kind] ?? 0) + readCalls(await emu.counters()) - before;
        };
        for (let round = 0; round < rounds; round++) {
          // Rotate who goes first from one load (or round) to the next.
          const order = kinds.map((_, i) => kinds[(i + turn) % kinds.length] as Kind);
          turn += 1;
          for (const kind of order) await measureOne(kind);
        }
        const results: Partial<Record<Kind, Measured>> = {};
        for (const kind of kinds) {
          const m = medianRound(measured[kind] ?? []);
          if (m) results[kind] = m;
        }
        const row: Row = {
          workers,
          route: route.name,
          connections: l.connections,
          keepAlive: l.keepAlive,
          bare: results.bare as Measured,
          corral: results.corral as Measured,
          ...(results.gunicorn ? { gunicorn: results.gunicorn } : {}),
          ...(results.corralRoundRobin ? { corralRoundRobin: results.corralRoundRobin } : {}),
          ...(results.floor ? { floor: results.floor } : {}),
          upstream: { corral: calls.corral ?? 0, ...(calls.gunicorn !== undefined ? { gunicorn: calls.gunicorn } : {}) },
          ...(rounds > 1
            ? {
                roundsRps: Object.fromEntries(kinds.map((k) => [k, (measured[k] ?? []).map((m) => Math.round(m.rps))])),
                roundsP99: Object.fromEntries(kinds.map((k) => [k, (measured[k] ?? []).map((m) => m.p99Ms)])),
                roundsErrors: Object.fromEntries(kinds.map((k) => [k, (measured[k] ?? []).map((m) => m.errors)])),
                pairedRatios: {
                  bare: pairedRatio(measured.corral, measured.bare),
                  ...(measured.gunicorn ? { gunicorn: pairedRatio(measured.corral, measured.gunicorn), bareOverGunicorn: pairedRatio(measured.bare, measured.gunicorn) } : {}),
                  ...(measured.floor ? { floor: pairedRatio(measured.corral, measured.floor), floorOverBare: pairedRatio(measured.floor, measured.bare) } : {}),
                  ...(measured.corralRoundRobin ? { sharedOverRoundRobin: pairedRatio(measured.corral, measured.corralRoundRobin) } : {}),
                },
              }
            : {}),
        };
        rows.push(row);
        console.log(
          `N=${workers} ${route.name} ${shape(l)} conns${rounds > 1 ? ` (median of ${rounds} rounds)` : ''}: bare ${row.bare.rps.toFixed(0)} req/s, corral ${row.corral.rps.toFixed(0)} req/s (p99 ${fmt(row.corral.p99Ms)} ms, ${allErrors(row, 'corral')} errors, ${row.upstream.corral} upstream)` +
            (row.gunicorn ? `, gunicorn ${row.gunicorn.rps.toFixed(0)} req/s (p99 ${fmt(row.gunicorn.p99Ms)} ms, ${allErrors(row, 'gunicorn')} errors, ${row.upstream.gunicorn} upstream)` : '') +
            `; corral/bare ${fmt(rowRatio(row, 'bare'), 2)}${row.gunicorn ? `, corral/gunicorn ${fmt(rowRatio(row, 'gunicorn'), 1)}` : ''}${rounds > 1 ? ' (median of the rounds\' ratios)' : ''}` +
            `; CPU µs/2xx ${fmt(row.bare.cpuUsPerOk, 0)}/${fmt(row.corral.cpuUsPerOk, 0)}/${fmt(row.gunicorn?.cpuUsPerOk, 0)}` +
            (row.floor ? `; login floor ${row.floor.rps.toFixed(0)} req/s (p99 ${fmt(row.floor.p99Ms)} ms, ${allErrors(row, 'floor')} errors, ${fmt(row.floor.cpuUsPerOk, 0)} µs/2xx; floor/bare ${fmt(row.pairedRatios?.floorOverBare, 2)}, corral/floor ${fmt(row.pairedRatios?.floor, 2)})` : '') +
            (row.corralRoundRobin ? `; corral CORRAL_ACCEPT=round-robin ${row.corralRoundRobin.rps.toFixed(0)} req/s (p99 ${fmt(row.corralRoundRobin.p99Ms)} ms, ${allErrors(row, 'corralRoundRobin')} errors, ${fmt(row.corralRoundRobin.cpuUsPerOk, 0)} µs/2xx)` : '') +
            (rounds > 1 ? `; p99 ms by round: ${kinds.map((k) => `${k} ${(row.roundsP99?.[k] ?? []).map((v) => fmt(v)).join('/')}`).join(', ')}` : ''),
        );
      }
      // Its rows are done: the round-robin corral leaves the cores to the rest.
      if (roundRobin) {
        const done = roundRobin;
        roundRobin = undefined;
        await done.stop();
      }
    }
    upstream.corral = await upstreamSince(emuCorral, readCalls(cBase), cBase.quotaRejections, t0, o.ttlS);
    if (emuGunicorn && gBase) upstream.gunicorn = await upstreamSince(emuGunicorn, readCalls(gBase), gBase.quotaRejections, t0, o.ttlS);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(`bench compare: stopping a server failed: ${String(err)}`));
  }
  return { rows, upstream, gunicornArgs };
}

export function goalsFor(rows: readonly Row[], upstream: { corral?: Upstream }, gunicorn: boolean): Goal[] {
  const goals: Goal[] = [];
  for (const route of ROUTES) {
    const at = (c: number) => rows.find((r) => r.route === route.name && r.connections === c && r.keepAlive);
    const r100 = at(100);
    const r1000 = at(1000);
    if (r100) {
      const cb = rowRatio(r100, 'bare');
      const cpuB = `(CPU per 2xx answer: bare ${fmt(r100.bare.cpuUsPerOk, 0)} µs, corral ${fmt(r100.corral.cpuUsPerOk, 0)} µs = ${fmt(1 / cpuRatio(r100.corral, r100.bare), 2)}x)`;
      // With the login floor measured in the same rounds: how much of the gap any login on
      // node:http pays, and how much is corral's.
      const f = r100.floor;
      const floorNote = f
        ? `; the login floor reached ${fmt(r100.pairedRatios?.floorOverBare ?? ratio(f, r100.bare), 2)} × bare (${fmt(f.cpuUsPerOk, 0)} µs), corral ${fmt(r100.pairedRatios?.floor ?? ratio(r100.corral, f), 2)} × the floor`
        : '';
      goals.push({ what: `${route.name}: corral/bare ≥ 0.9 at 100 connections`, figure: `${fmt(cb, 2)} ${cpuB}${floorNote}`, met: cb >= 0.9 });
      const cg = rowRatio(r100, 'gunicorn');
      const cpuG = `(CPU per 2xx answer: gunicorn ${fmt(r100.gunicorn?.cpuUsPerOk, 0)} µs, corral ${fmt(r100.corral.cpuUsPerOk, 0)} µs = ${fmt(cpuRatio(r100.corral, r100.gunicorn), 1)}x less)`;
      // What the ceiling itself reaches against gunicorn in the same rounds: a goal above it asks
      // corral to be faster than a server that does nothing but answer.
      const ceiling = r100.pairedRatios?.bareOverGunicorn ?? ratio(r100.bare, r100.gunicorn);
      goals.push({
        what: `${route.name}: corral/gunicorn ≥ 10 at 100 connections`,
        figure: gunicorn ? `${fmt(cg, 1)} ${cpuG}; the ceiling, bare/gunicorn: ${fmt(ceiling, 1)}` : 'gunicorn skipped',
        met: gunicorn ? cg >= 10 : undefined,
      });
    } else {
      // Left out of BENCH_COMPARE_LOADS: said, rather than a goal missing from the list.
      for (const what of [`${route.name}: corral/bare ≥ 0.9 at 100 connections`, `${route.name}: corral/gunicorn ≥ 10 at 100 connections`]) goals.push({ what, figure: 'not measured: BENCH_COMPARE_LOADS has no 100', met: undefined });
    }
    if (!r1000) {
      goals.push({ what: `${route.name}: corral p99 < 50 ms at 1000 connections`, figure: 'not measured: BENCH_COMPARE_LOADS has no 1000', met: undefined });
    } else {
      // 1000 connections that each wait for their answer before sending again: by Little's law the
      // mean latency is connections / throughput, whatever the server does with its time.
      const meanMs = (c: Measured) => (c.answeredRps > 0 ? (c.connections * 1000) / c.answeredRps : NaN);
      const byRound = (kind: Kind) => (r1000.roundsP99?.[kind] ?? []).map((v) => fmt(v)).join('/');
      // Judged on the median over rounds, as the ratio goals are; one load alone (no rounds) counts as it is.
      const p99 = (kind: 'corral' | 'corralRoundRobin' | 'bare' | 'floor') => (r1000.roundsP99 ? medianP99(r1000, kind) : (r1000[kind]?.p99Ms ?? NaN));
      const rounds = r1000.roundsP99?.corral?.length ?? 1;
      const over = rounds > 1 ? `median of ${rounds} rounds` : 'one load';
      // A p99 is the latency of the answers wrk got: fast 503s, or connections reset or left
      // unanswered, make it short. With errors in the row it is not the served requests' latency,
      // and the goal is not met on it (it used to read "met" beside a row of errors).
      const unserved = (kind: 'corral' | 'corralRoundRobin') => {
        const n = allErrors(r1000, kind) ?? 0;
        return n > 0 ? `; not met with ${n} errors in the row` : '';
      };
      goals.push({
        what: `${route.name}: corral p99 < 50 ms at 1000 connections`,
        figure:
          `${fmt(p99('corral'))} ms, ${over}${rounds > 1 ? ` (${byRound('corral')})` : ''}; bare ${fmt(p99('bare'))} ms${rounds > 1 ? ` (${byRound('bare')})` : ''}` +
          ` (mean by Little's law in the median round: corral ${fmt(meanMs(r1000.corral))} ms, bare ${fmt(meanMs(r1000.bare))} ms)` +
          (r1000.floor ? `; the login floor ${fmt(p99('floor'))} ms${rounds > 1 ? ` (${byRound('floor')})` : ''}` : '') +
          unserved('corral'),
        met: p99('corral') < 50 && (allErrors(r1000, 'corral') ?? 0) === 0,
      });
      // The same load on corral with CORRAL_ACCEPT=round-robin (measured on this row only): how
      // much the master handing out the burst of new connections one by one adds to the p99.
      const roundRobin = r1000.corralRoundRobin;
      if (roundRobin) {
        goals.push({
          what: `${route.name}: corral p99 < 50 ms at 1000 connections, CORRAL_ACCEPT=round-robin`,
          figure: `${fmt(p99('corralRoundRobin'))} ms, ${over}${rounds > 1 ? ` (${byRound('corralRoundRobin')})` : ''}; ${roundRobin.rps.toFixed(0)} req/s in the median round, ${allErrors(r1000, 'corralRoundRobin')} errors in all rounds${unserved('corralRoundRobin')}`,
          met: p99('corralRoundRobin') < 50 && (allErrors(r1000, 'corralRoundRobin') ?? 0) === 0,
        });
      }
    }
  }
  const u = upstream.corral;
  // Judged per window, not on average: no range read a second time within a TTL of a read of it.
  if (u) {
    goals.push({
      what: 'corral: ≤ 1 upstream call per TTL window per range',
      figure: `at most ${u.mostInTtl} read${u.mostInTtl === 1 ? '' : 's'} of a range within one TTL; ${u.calls} calls / ${u.windows} windows = ${fmt(u.calls / u.windows, 2)} on average`,
      met: u.mostInTtl <= 1,
    });
  }
  return goals;
}

/**
 * The goals as the load tool lets them be judged. Without wrk, autocannon drives the load from
 * this process: one JavaScript thread on the cores the servers use, which caps bare and corral
 * alike well below what they serve (corral/bare then drifts toward 1 and read "met"), compresses
 * corral/gunicorn, and adds its own loop's delays to every p99. Those goals are not judged then;
 * the upstream count does not depend on the load tool and still is.
 */
export function judgedWithLoadTool(goals: readonly Goal[], tool: string | undefined): Goal[] {
  if (tool === 'wrk' || tool === undefined) return [...goals];
  return goals.map((g) =>
    g.what.includes('upstream call')
      ? g
      : { ...g, figure: `not judged: the load came from ${tool} in this process (wrk is not installed: apt-get install wrk), which caps what the servers are asked for; measured ${g.figure}`, met: undefined },
  );
}

export async function benchCompare(o: CompareOptions): Promise<void> {
  const missing = gunicornMissing();
  console.log(
    `\n## compare: corral vs bare node:cluster vs gunicorn + gevent + Flask (issue 6)\nmachine: ${machine()}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n` +
      `workers: ${o.workerCounts.join(', ')} (the same N for all three servers; the first count gets the matrix, loads ${o.loads.map(loadName).join(', ')} (BENCH_COMPARE_LOADS) on both routes, the others GET /api/players at 100 keep-alive connections)\n` +
      `upstream: one corral emulator per server under test, ${o.latencyMs} ms latency on every values call, Google's default project quota (300 reads/min; the per-user quota off); TTL ${o.ttlS} s; ${o.seconds} s per load, after ${o.warmupSeconds} s of unmeasured load on each route of each server (BENCH_WARMUP_SECONDS)\n` +
      `corral: bundled app, CORRAL_RATE_LIMIT=0 (per-IP limit off for a one-IP load generator), access log off; CORRAL_ACCEPT=shared (the default) unless a line says round-robin\n` +
      `bare and the login floor: NODE_CLUSTER_SCHED_POLICY=none, each worker accepting its own connections as corral's do by default\n` +
      `gunicorn: ${missing ? `${GUNICORN_SKIP} (${missing})` : `${gunicornVersion()}, bench/fixtures/flask/app.py, -k gevent --worker-connections 1000 --timeout 120, no access log (default)`}\n`,
  );
  const all: Row[] = [];
  const upstreamBy: Record<number, { corral?: Upstream; gunicorn?: Upstream }> = {};
  let goals: Goal[] = [];
  let gunicornArgs: readonly string[] | undefined;
  for (const [i, workers] of o.workerCounts.entries()) {
    const full = i === 0;
    const r = await runWorkers(workers, full, full ? ROUTES : ROUTES.slice(0, 1), o, !missing);
    all.push(...r.rows);
    upstreamBy[workers] = r.upstream;
    gunicornArgs ??= r.gunicornArgs;
    if (full) goals = judgedWithLoadTool(goalsFor(r.rows, r.upstream, !missing), r.rows[0]?.bare.tool);
  }

  for (const workers of o.workerCounts) {
    const rows = all.filter((r) => r.workers === workers);
    console.log(
      `\n### N = ${workers} workers\n${table(
        ['route', 'conns', 'bare req/s', 'corral req/s', 'gunicorn req/s', 'corral/bare', 'corral/gunicorn', 'p50/p99 ms bare', 'corral', 'gunicorn', 'CPU µs/2xx b/c/g', 'errors b/c/g (all rounds)', 'upstream c/g (all rounds)'],
        rows.map((r) => [
          r.route,
          shape(r),
          Math.round(r.bare.rps),
          Math.round(r.corral.rps),
          r.gunicorn ? Math.round(r.gunicorn.rps) : 'skipped',
          fmt(rowRatio(r, 'bare'), 2),
          r.gunicorn ? fmt(rowRatio(r, 'gunicorn'), 1) : 'n/a',
          `${fmt(r.bare.p50Ms)}/${fmt(r.bare.p99Ms)}`,
          `${fmt(r.corral.p50Ms)}/${fmt(r.corral.p99Ms)}`,
          r.gunicorn ? `${fmt(r.gunicorn.p50Ms)}/${fmt(r.gunicorn.p99Ms)}` : 'n/a',
          `${fmt(r.bare.cpuUsPerOk, 0)}/${fmt(r.corral.cpuUsPerOk, 0)}/${r.gunicorn ? fmt(r.gunicorn.cpuUsPerOk, 0) : '-'}`,
          `${allErrors(r, 'bare')}/${allErrors(r, 'corral')}/${allErrors(r, 'gunicorn') ?? '-'}`,
          `${r.upstream.corral}/${r.upstream.gunicorn ?? '-'}`,
        ]),
      )}`,
    );
    const floorRows = rows.filter((r) => r.floor);
    if (floorRows.length > 0) {
      console.log(
        `\nthe login floor (reads, parses and checks the login, signs its token, nothing else), N = ${workers}:\n${table(
          ['route', 'conns', 'bare req/s', 'floor req/s', 'corral req/s', 'floor/bare', 'corral/floor', 'p50/p99 ms floor', 'CPU µs/2xx b/f/c', 'errors floor (all rounds)'],
          floorRows.map((r) => {
            const f = r.floor as Measured;
            return [
              r.route,
              shape(r),
              Math.round(r.bare.rps),
              Math.round(f.rps),
              Math.round(r.corral.rps),
              fmt(r.pairedRatios?.floorOverBare ?? ratio(f, r.bare), 2),
              fmt(r.pairedRatios?.floor ?? ratio(r.corral, f), 2),
              `${fmt(f.p50Ms)}/${fmt(f.p99Ms)}`,
              `${fmt(r.bare.cpuUsPerOk, 0)}/${fmt(f.cpuUsPerOk, 0)}/${fmt(r.corral.cpuUsPerOk, 0)}`,
              allErrors(r, 'floor') ?? '-',
            ];
          }),
        )}`,
      );
    }
    const acceptRows = rows.filter((r) => r.corralRoundRobin);
    if (acceptRows.length > 0) {
      console.log(
        `\nwho accepts connections (CORRAL_ACCEPT), N = ${workers}:\n${table(
          ['route', 'conns', 'round-robin req/s', 'shared req/s', 'shared/rr', 'p50/p99 ms round-robin', 'shared', 'CPU µs/2xx rr/shared', 'errors rr/shared (all rounds)'],
          acceptRows.map((r) => {
            const rr = r.corralRoundRobin as Measured;
            const sh = r.corral;
            return [
              r.route,
              shape(r),
              Math.round(rr.rps),
              Math.round(sh.rps),
              // Paired over the rounds when the row had several, as the other ratios are.
              fmt(r.pairedRatios?.sharedOverRoundRobin ?? ratio(sh, rr), 2),
              `${fmt(rr.p50Ms)}/${fmt(rr.p99Ms)}`,
              `${fmt(sh.p50Ms)}/${fmt(sh.p99Ms)}`,
              `${fmt(rr.cpuUsPerOk, 0)}/${fmt(sh.cpuUsPerOk, 0)}`,
              `${allErrors(r, 'corralRoundRobin')}/${allErrors(r, 'corral')}`,
            ];
          }),
        )}`,
      );
    }
    const u = upstreamBy[workers];
    for (const kind of ['corral', 'gunicorn'] as const) {
      const x = u?.[kind];
      if (x) {
        console.log(
          `${kind}: ${x.calls} upstream read calls in ${x.elapsedS.toFixed(1)} s after the warm-up (${x.windows} TTL windows) = ${fmt(x.calls / x.windows, 2)} per window for one range (Players); at most ${x.mostInTtl} reads of a range within one TTL; ${x.quotaRejections} refused by the quota (429)`,
        );
      }
    }
  }
  console.log(`\ngoals (N = ${o.workerCounts[0]}):`);
  for (const g of goals) console.log(`  ${g.met === undefined ? 'n/a   ' : g.met ? 'met   ' : 'MISSED'}  ${g.what}: ${g.figure}`);
  console.log(
    `(rows measured in several rounds show the round with the median req/s of each server, and as ratios the median of the rounds' own ratios; the p99 goals take the median of the rounds' p99; ` +
      `load tool: ${all[0]?.bare.tool ?? 'n/a'}; errors = transport errors + non-2xx answers, in every round of a row; CPU µs/2xx = user+system CPU of the server's whole process tree, emulator excluded, per successful (2xx) answer: refusing (503) does not make a server look cheaper)`,
  );
  console.log(
    `saved ${save('compare', {
      settings: { ...o, loads: o.loads.map(loadName), readsPerMinute: 300, readsPerMinutePerUser: 0, rateLimit: 0, accessLog: false, gunicorn: missing ? { skipped: missing } : { version: gunicornVersion(), args: gunicornArgs } },
      loadavgAtEnd: loadavg(),
      rows: all,
      upstream: upstreamBy,
      goals,
    })}`,
  );
}
