// `npm run bench [section...]`: runs the benchmarks in one session and prints ratios against a
// reference measured in the same run. Sections: daemon, sheets, compare, accept, ratelimit, streams, spread (default: all).

import { benchAccept } from './accept.js';
import { benchCompare } from './compare.js';
import { benchDaemon } from './daemon.js';
import { benchRateLimit } from './ratelimit.js';
import { benchSheets } from './sheets.js';
import { benchSpread } from './spread.js';
import { benchStreams } from './streams.js';

const SECTIONS: Record<string, () => Promise<void>> = {
  daemon: async () => void (await benchDaemon({ seconds: Number(process.env.BENCH_SECONDS ?? 5), rounds: Number(process.env.BENCH_ROUNDS ?? 3), workerCounts: [2, 8], connections: [100, 1000] })),
  sheets: () => benchSheets({ seconds: Number(process.env.BENCH_SECONDS ?? 10), workers: 8, connections: [100, 300, 1000], ttlS: 30, latencyMs: 800 }),
  compare: () =>
    benchCompare({
      seconds: Number(process.env.BENCH_SECONDS ?? 10),
      workerCounts: (process.env.BENCH_COMPARE_WORKERS ?? '8,2').split(',').map(Number),
      ttlS: 30,
      latencyMs: 800,
      // Five, not three: at three rounds one slow round of the shared box still moved the ratio.
      goalRounds: Number(process.env.BENCH_ROUNDS ?? 5),
      warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 10),
    }),
  accept: () => benchAccept({ seconds: Number(process.env.BENCH_SECONDS ?? 10), rounds: Number(process.env.BENCH_ROUNDS ?? 3), workers: 8, connections: 1000 }),
  streams: () =>
    benchStreams({ seconds: Number(process.env.BENCH_SECONDS ?? 8), rounds: Number(process.env.BENCH_ROUNDS ?? 3), workers: 2, connections: 100, warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 5) }),
  spread: () =>
    benchSpread({
      seconds: Number(process.env.BENCH_SECONDS ?? 3),
      rounds: Number(process.env.BENCH_ROUNDS ?? 8),
      workers: Number(process.env.BENCH_SPREAD_WORKERS ?? 8),
      copies: 3,
      connections: 100,
      warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 5),
    }),
  ratelimit: () => benchRateLimit({ seconds: Number(process.env.BENCH_SECONDS ?? 8), rounds: Number(process.env.BENCH_ROUNDS ?? 3), workers: 8, connections: 100, clients: 1000 }),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length > 0 ? wanted : Object.keys(SECTIONS);
for (const name of names) {
  const section = SECTIONS[name];
  if (!section) {
    console.error(`unknown bench section "${name}"; known: ${Object.keys(SECTIONS).join(', ')}`);
    process.exit(64);
  }
  await section();
}
