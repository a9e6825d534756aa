// What the per-IP rate limit (CORRAL_RATE_LIMIT, on by default) costs: corral's bundled app on its
// offline sheet, cached GET /api/players, with the limit off and on. Requests come from 1000
// client addresses through X-Forwarded-For (127.0.0.1 trusted as the proxy) and the limit is set
// high enough never to refuse one, so both runs do the same work apart from the limit itself:
// finding the client's address, counting the request in the host counters' shared table, and the
// RateLimit-* headers. Rounds alternate which setting goes first; medians are compared.

import { cpuUsPerOk, treeCpuSeconds } from './lib/cpu.js';
import { haveWrk, load, type LoadResult } from './lib/load.js';
import { machine, median, save, table } from './lib/report.js';
import { PLAYERS_PATH } from './lib/sheets-app.js';
import { startCorralFor } from './lib/servers.js';

export interface RateLimitBenchOptions {
  readonly seconds: number;
  readonly rounds: number;
  readonly workers: number;
  readonly connections: number;
  readonly clients: number;
  /** Seconds of the same load, unmeasured, on each fresh server before the measured one (0: none). */
  readonly warmupSeconds: number;
}

type Setting = 'off' | 'on';
type Measured = LoadResult & { cpuUsPerOk: number };

async function measure(setting: Setting, o: RateLimitBenchOptions): Promise<Measured> {
  const server = await startCorralFor({
    workers: o.workers,
    env: {
      CORRAL_ACCESS_LOG: 'false',
      CORRAL_TRUSTED_PROXIES: '127.0.0.1',
      // On: the largest allowed, far above what each of 1000 clients sends in a minute here, so
      // nothing is refused.
      CORRAL_RATE_LIMIT: setting === 'on' ? '1000000' : '0',
    },
  });
  try {
    if (o.warmupSeconds > 0) await load(`${server.url}${PLAYERS_PATH}`, { connections: o.connections, seconds: o.warmupSeconds, clients: o.clients });
    const before = treeCpuSeconds(server.pid ?? -1);
    const r = await load(`${server.url}${PLAYERS_PATH}`, { connections: o.connections, seconds: o.seconds, clients: o.clients });
    const cpu = treeCpuSeconds(server.pid ?? -1) - before;
    return { ...r, cpuUsPerOk: cpuUsPerOk(cpu, r) };
  } finally {
    await server.stop();
  }
}

export async function benchRateLimit(o: RateLimitBenchOptions): Promise<void> {
  console.log(
    `\n## ratelimit: what the per-IP limit costs (cached GET /api/players, offline sheet, ${o.workers} workers, ${o.connections} connections, ` +
      `${o.clients} client addresses, ${o.rounds} rounds of ${o.seconds} s, medians)\nmachine: ${machine()}\n`,
  );
  if (!haveWrk()) {
    console.log('skipped: spreading requests over client addresses needs wrk (apt-get install wrk)');
    return;
  }
  const runs: Record<Setting, Measured[]> = { off: [], on: [] };
  for (let round = 0; round < o.rounds; round++) {
    const order: Setting[] = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const s of order) runs[s].push(await measure(s, o));
  }
  const m = (s: Setting, f: (x: Measured) => number) => median(runs[s].map(f));
  const errors = (s: Setting) => runs[s].reduce((n, r) => n + r.errors, 0);
  console.log(
    table(
      ['CORRAL_RATE_LIMIT', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/2xx', 'errors (all rounds)'],
      (['off', 'on'] as const).map((s) => [s === 'off' ? '0 (off)' : 'on', Math.round(m(s, (x) => x.rps)), m(s, (x) => x.p50Ms).toFixed(1), m(s, (x) => x.p99Ms).toFixed(1), Math.round(m(s, (x) => x.cpuUsPerOk)), errors(s)]),
    ),
  );
  console.log(
    `with the limit on: x${(m('on', (x) => x.rps) / m('off', (x) => x.rps)).toFixed(2)} the req/s, ` +
      `+${Math.round(m('on', (x) => x.cpuUsPerOk) - m('off', (x) => x.cpuUsPerOk))} µs of CPU per 2xx answer (client address, count, RateLimit-* headers)`,
  );
  console.log(`saved ${save('ratelimit', { settings: o, runs })}`);
}
