// Why workers read their keeper link with `onread` (src/sheets/keeper-client/connection.ts): the
// bare node:cluster server three times, with each worker also holding one side socket that
// exchanges a short line every 200 ms, read through 'data' (Node's Readable streams) or through
// net's `onread` callback, or holding none. The side socket does almost no work itself; what
// differs is what every served request costs. Rounds rotate the order; medians are compared.

import { cpuUsPerOk, treeCpuSeconds } from './lib/cpu.js';
import { load, type LoadResult } from './lib/load.js';
import { machine, median, save, table } from './lib/report.js';
import { startBare, startTogether, type Running } from './lib/servers.js';

export interface StreamsBenchOptions {
  readonly seconds: number;
  readonly rounds: number;
  readonly workers: number;
  readonly connections: number;
  readonly warmupSeconds: number;
}

const SIDES = ['none', 'data', 'onread'] as const;
type Side = (typeof SIDES)[number];
type Measured = LoadResult & { cpuUsPerOk: number };

export async function benchStreams(o: StreamsBenchOptions): Promise<void> {
  console.log(
    `\n## streams: what one socket read through Node's streams costs every request a worker serves (bare server, 12 KB body, ${o.workers} workers, ` +
      `${o.connections} connections, ${o.rounds} rounds of ${o.seconds} s after ${o.warmupSeconds} s of warm-up each, medians)\nmachine: ${machine()}\n`,
  );
  const servers = new Map<Side, Running>();
  try {
    await startTogether(
      SIDES.map((side) => async () => [side, await startBare(o.workers, undefined, { BARE_SIDE_SOCKET: side })] as const),
      ([side, server]) => servers.set(side, server),
    );
    if (o.warmupSeconds > 0) for (const s of servers.values()) await load(s.url, { connections: o.connections, seconds: o.warmupSeconds });
    const runs: Record<Side, Measured[]> = { none: [], data: [], onread: [] };
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < SIDES.length; i++) {
        const side = SIDES[(i + round) % SIDES.length] as Side;
        const s = servers.get(side) as Running;
        const before = treeCpuSeconds(s.pid ?? -1);
        const r = await load(s.url, { connections: o.connections, seconds: o.seconds });
        const cpu = treeCpuSeconds(s.pid ?? -1) - before;
        runs[side].push({ ...r, cpuUsPerOk: cpuUsPerOk(cpu, r) });
      }
    }
    const rps = (side: Side) => median(runs[side].map((m) => m.rps));
    const cpu = (side: Side) => median(runs[side].map((m) => m.cpuUsPerOk));
    console.log(
      table(
        ['side socket', 'req/s (each round)', 'median req/s', 'vs none', 'CPU µs/2xx (each round)', 'median CPU µs/2xx', 'vs none'],
        SIDES.map((side) => [
          side,
          runs[side].map((m) => Math.round(m.rps)).join('/'),
          Math.round(rps(side)),
          (rps(side) / rps('none')).toFixed(2),
          runs[side].map((m) => m.cpuUsPerOk.toFixed(0)).join('/'),
          cpu(side).toFixed(1),
          `${cpu(side) - cpu('none') >= 0 ? '+' : ''}${(cpu(side) - cpu('none')).toFixed(1)} µs`,
        ]),
      ),
    );
    console.log(`saved ${save('streams', { settings: o, runs })}`);
  } finally {
    for (const s of servers.values()) await s.stop();
  }
}
