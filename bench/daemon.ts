// Issue #2's benchmark: corral serving a fixture app that returns a precomputed 12 KB JSON body vs
// a bare node:cluster server with the same worker count and body. Goal: corral >= 0.9 x bare.

import { load, type LoadResult } from './lib/load.js';
import { machine, save, table } from './lib/report.js';
import { startBare, startCorralFor } from './lib/servers.js';

export interface DaemonBenchOptions {
  readonly seconds: number;
  readonly workerCounts: readonly number[];
  readonly connections: readonly number[];
}

interface Row {
  workers: number;
  connections: number;
  bare: LoadResult;
  corral: LoadResult;
  corralAccessLog: LoadResult;
}

export async function benchDaemon(o: DaemonBenchOptions): Promise<void> {
  console.log(`\n## corral vs bare node:cluster (12 KB precomputed body, keep-alive)\nmachine: ${machine()}\n`);
  const rows: Row[] = [];
  for (const workers of o.workerCounts) {
    for (const connections of o.connections) {
      // Alternate which server goes first, so drift on a shared box does not favour either one.
      const bare = await startBare(workers);
      const bareResult = await load(bare.url, { connections, seconds: o.seconds }).finally(() => bare.stop());
      const env = { CORRAL_WORKER_CONNECTIONS: '10000', CORRAL_RATE_LIMIT: '0' };
      const quiet = await startCorralFor({ app: 'body-12k.mjs', workers, env: { ...env, CORRAL_ACCESS_LOG: 'false' } });
      const corralResult = await load(quiet.url, { connections, seconds: o.seconds }).finally(() => quiet.stop());
      const logged = await startCorralFor({ app: 'body-12k.mjs', workers, env });
      const loggedResult = await load(logged.url, { connections, seconds: o.seconds }).finally(() => logged.stop());
      rows.push({ workers, connections, bare: bareResult, corral: corralResult, corralAccessLog: loggedResult });
      console.log(
        `workers ${workers}, ${connections} connections: bare ${bareResult.rps.toFixed(0)} req/s, corral ${corralResult.rps.toFixed(0)} req/s (ratio ${(corralResult.rps / bareResult.rps).toFixed(2)}), with access log ${loggedResult.rps.toFixed(0)} req/s (ratio ${(loggedResult.rps / bareResult.rps).toFixed(2)})`,
      );
    }
  }
  console.log(
    `\n${table(
      ['workers', 'conns', 'bare req/s', 'corral req/s', 'corral/bare', 'corral+access log req/s', 'ratio', 'bare p99 ms', 'corral p99 ms', 'errors (bare/corral/log)'],
      rows.map((r) => [
        r.workers,
        r.connections,
        Math.round(r.bare.rps),
        Math.round(r.corral.rps),
        (r.corral.rps / r.bare.rps).toFixed(2),
        Math.round(r.corralAccessLog.rps),
        (r.corralAccessLog.rps / r.bare.rps).toFixed(2),
        r.bare.p99Ms,
        r.corral.p99Ms,
        `${r.bare.errors}/${r.corral.errors}/${r.corralAccessLog.errors}`,
      ]),
    )}\n(load tool: ${rows[0]?.bare.tool}; goal corral/bare >= 0.9 with the access log off)`,
  );
  console.log(`saved ${save('daemon', { rows })}`);
}
