// Who accepts connections, measured where it matters: 1000 keep-alive connections opened at once.
// corral's bundled app (cached GET /api/players, offline sheet) with CORRAL_ACCEPT=round-robin and
// =shared, beside a bare node:cluster server answering the same body with the same two policies
// (SCHED_RR and SCHED_NONE). Each round starts every server afresh, warms it up with 100
// connections, then opens the 1000; rounds rotate the order. The p99 is what to read.

import { haveWrk, load, type LoadResult } from './lib/load.js';
import { machine, median, save, table } from './lib/report.js';
import { ROUTES, startBareWithBody, warmUp, type Route } from './lib/sheets-app.js';
import { startCorralFor, type Running } from './lib/servers.js';

export interface AcceptBenchOptions {
  readonly seconds: number;
  readonly rounds: number;
  readonly workers: number;
  readonly connections: number;
  /** Seconds of 100 connections on each fresh server before the measured load (0: none). */
  readonly warmupSeconds: number;
}

interface Server {
  readonly name: string;
  readonly start: () => Promise<Running>;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

const corralEnv = { CORRAL_RATE_LIMIT: '0', CORRAL_ACCESS_LOG: 'false' };

export async function benchAccept(o: AcceptBenchOptions): Promise<void> {
  const players = ROUTES[0] as Route;
  console.log(
    `\n## accept: who accepts ${o.connections} keep-alive connections opened at once (CORRAL_ACCEPT)\nmachine: ${machine()}\n` +
      `${o.workers} workers; ${players.name}; each round: fresh start, ${players.name} warm-up at 100 connections for ${o.warmupSeconds} s, then ${o.connections} connections for ${o.seconds} s (wrk --timeout 10s); ${o.rounds} rounds\n`,
  );
  if (!haveWrk()) console.log('(wrk not installed: autocannon drives the load)');
  // The body the bare servers answer: corral's own answer.
  const probe = await startCorralFor({ workers: 1, env: corralEnv });
  const body = await warmUp(probe.url, players).finally(() => probe.stop());

  const servers: Server[] = [
    { name: 'bare, round-robin', start: () => startBareWithBody(o.workers, body, { NODE_CLUSTER_SCHED_POLICY: 'rr' }) },
    { name: 'bare, SCHED_NONE', start: () => startBareWithBody(o.workers, body, { NODE_CLUSTER_SCHED_POLICY: 'none' }) },
    { name: 'corral, CORRAL_ACCEPT=round-robin', start: () => startCorralFor({ workers: o.workers, env: { ...corralEnv, CORRAL_ACCEPT: 'round-robin' } }) },
    { name: 'corral, CORRAL_ACCEPT=shared', start: () => startCorralFor({ workers: o.workers, env: { ...corralEnv, CORRAL_ACCEPT: 'shared' } }) },
  ];
  const runs = new Map<string, LoadResult[]>(servers.map((s) => [s.name, []]));
  for (let round = 0; round < o.rounds; round++) {
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(i + round) % servers.length] as Server;
      const running = await server.start();
      try {
        const url = `${running.url}${players.path}`;
        await warmUp(running.url, players);
        if (o.warmupSeconds > 0) await load(url, { connections: 100, seconds: o.warmupSeconds });
        const r = await load(url, { connections: o.connections, seconds: o.seconds });
        runs.get(server.name)?.push(r);
        console.log(`round ${round + 1}, ${server.name}: p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms, ${Math.round(r.rps)} req/s, ${r.errors} errors`);
      } finally {
        await running.stop();
      }
    }
  }
  const rows = servers.map((s) => {
    const rs = runs.get(s.name) ?? [];
    return { server: s.name, p99Ms: rs.map((r) => r.p99Ms), p50Ms: rs.map((r) => r.p50Ms), rps: rs.map((r) => Math.round(r.rps)), errors: rs.reduce((n, r) => n + r.errors, 0) };
  });
  console.log(
    `\n${table(
      ['server', 'p99 ms, each round', 'median p99 ms', 'p50 ms (median)', 'req/s, each round', 'errors'],
      rows.map((r) => [r.server, r.p99Ms.map((x) => fmt(x)).join(' / '), fmt(median(r.p99Ms)), fmt(median(r.p50Ms)), r.rps.join(' / '), r.errors]),
    )}`,
  );
  console.log(`saved ${save('accept', { settings: o, rows })}`);
}
