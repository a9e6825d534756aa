// Issue #2's benchmark: corral serving a fixture app that returns a precomputed 12 KB JSON body vs
// a bare node:cluster server with the same worker count and body. Goal: corral >= 0.9 x bare.

import { treeCpuSeconds } from './lib/cpu.js';
import { load, type LoadResult } from './lib/load.js';
import { machine, save, table } from './lib/report.js';
import { startBare, startCorralFor, type Running } from './lib/servers.js';

type Measured = LoadResult & { cpuUsPerRequest: number };

/** Load plus the server tree's CPU microseconds per request (robust on a shared, noisy box). */
async function measure(server: Running, connections: number, seconds: number): Promise<Measured> {
  try {
    const pid = server.pid ?? -1;
    const before = treeCpuSeconds(pid);
    const r = await load(server.url, { connections, seconds });
    const used = treeCpuSeconds(pid) - before;
    return { ...r, cpuUsPerRequest: r.requests > 0 ? (used * 1e6) / r.requests : NaN };
  } finally {
    await server.stop();
  }
}

export interface DaemonBenchOptions {
  readonly seconds: number;
  readonly workerCounts: readonly number[];
  readonly connections: readonly number[];
}

interface Row {
  workers: number;
  connections: number;
  bare: Measured;
  corral: Measured;
  corralAccessLog: Measured;
}

export async function benchDaemon(o: DaemonBenchOptions): Promise<void> {
  console.log(`\n## corral vs bare node:cluster (12 KB precomputed body, keep-alive)\nmachine: ${machine()}\n`);
  const rows: Row[] = [];
  for (const workers of o.workerCounts) {
    for (const connections of o.connections) {
      // Alternate which server goes first, so drift on a shared box does not favour either one.
      const bareResult = await measure(await startBare(workers), connections, o.seconds);
      const env = { CORRAL_WORKER_CONNECTIONS: '10000', CORRAL_RATE_LIMIT: '0' };
      const corralResult = await measure(await startCorralFor({ app: 'body-12k.mjs', workers, env: { ...env, CORRAL_ACCESS_LOG: 'false' } }), connections, o.seconds);
      const loggedResult = await measure(await startCorralFor({ app: 'body-12k.mjs', workers, env }), connections, o.seconds);
      rows.push({ workers, connections, bare: bareResult, corral: corralResult, corralAccessLog: loggedResult });
      console.log(
        `workers ${workers}, ${connections} connections: bare ${bareResult.rps.toFixed(0)} req/s, corral ${corralResult.rps.toFixed(0)} req/s (ratio ${(corralResult.rps / bareResult.rps).toFixed(2)}), with access log ${loggedResult.rps.toFixed(0)} req/s (ratio ${(loggedResult.rps / bareResult.rps).toFixed(2)})`,
      );
    }
  }
  console.log(
    `\n${table(
      ['workers', 'conns', 'bare req/s', 'corral req/s', 'corral/bare', 'corral+access log req/s', 'ratio', 'CPU µs/req bare/corral/log', 'bare p99 ms', 'corral p99 ms', 'errors (bare/corral/log)'],
      rows.map((r) => [
        r.workers,
        r.connections,
        Math.round(r.bare.rps),
        Math.round(r.corral.rps),
        (r.corral.rps / r.bare.rps).toFixed(2),
        Math.round(r.corralAccessLog.rps),
        (r.corralAccessLog.rps / r.bare.rps).toFixed(2),
        `${r.bare.cpuUsPerRequest.toFixed(0)}/${r.corral.cpuUsPerRequest.toFixed(0)}/${r.corralAccessLog.cpuUsPerRequest.toFixed(0)}`,
        r.bare.p99Ms,
        r.corral.p99Ms,
        `${r.bare.errors}/${r.corral.errors}/${r.corralAccessLog.errors}`,
      ]),
    )}\n(load tool: ${rows[0]?.bare.tool}; goal corral/bare >= 0.9 with the access log off)`,
  );
  console.log(`saved ${save('daemon', { rows })}`);
}
