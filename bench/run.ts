// `npm run bench [section...]`: runs the benchmarks in one session and prints ratios against a
// reference measured in the same run. Sections: daemon, sheets, compare, accept, ratelimit, streams, spread, export-memory, idempotency-memory (default: all).

import { defaultOf } from '../src/config/setting-value.js';
import { schema } from '../src/config/schema.js';
import { MAX_WORKERS } from '../src/config/schema-daemon.js';
import { benchAccept } from './accept.js';
import { benchCompare } from './compare.js';
import { FULL_MATRIX, loadName, parseCompareLoads } from './lib/compare-loads.js';
import { benchDaemon } from './daemon.js';
import { benchExportMemory } from './export-memory.js';
import { benchIdempotencyMemory } from './idempotency-memory.js';
import { exitOnSignals } from './lib/orphan-guard.js';
import { resultsDir, resultsDirProblem } from './lib/report.js';
import { benchRateLimit } from './ratelimit.js';
import { benchSheets } from './sheets.js';
import { benchSpread } from './spread.js';
import { benchStreams } from './streams.js';

const USAGE = 64;

function refuse(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(USAGE);
}

/**
 * A whole number from the environment, or undefined when unset. Checked when this file loads,
 * before any section starts its servers: wrk takes whole seconds only, and a NaN or a 0 s load
 * used to fail minutes into a run.
 */
const wholeAtLeast = (text: string, min: number): boolean => /^\d+$/.test(text) && Number(text) >= min;

function envInt(name: string, min: number): number | undefined {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!wholeAtLeast(raw, min)) refuse(`${name}=${raw}: must be a whole number ≥ ${min}`);
  return Number(raw);
}

/**
 * A worker count: at most what corral runs. Over it, the bare node:cluster server, which has no
 * such cap, forked them all (100000 processes) before corral refused its own start.
 */
const WORKERS_CAP = `at most ${MAX_WORKERS} (CORRAL_WORKERS' most)`;

function envWorkers(name: string): number | undefined {
  const n = envInt(name, 1);
  if (n !== undefined && n > MAX_WORKERS) refuse(`${name}=${n}: a worker count must be ${WORKERS_CAP}`);
  return n;
}

function envIntList(name: string, fallback: readonly number[]): number[] {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return [...fallback];
  const parts = raw.split(',').map((p) => p.trim());
  if (!parts.every((p) => wholeAtLeast(p, 1) && Number(p) <= MAX_WORKERS)) refuse(`${name}=${raw}: must be worker counts from 1, ${WORKERS_CAP}, separated by commas, e.g. ${fallback.join(',')}`);
  return parts.map(Number);
}

// Each section has its own defaults; these override them all when set.
const SECONDS = envInt('BENCH_SECONDS', 1);
const ROUNDS = envInt('BENCH_ROUNDS', 1);
const WARMUP_SECONDS = envInt('BENCH_WARMUP_SECONDS', 0);
const seconds = (fallback: number) => SECONDS ?? fallback;
const rounds = (fallback: number) => ROUNDS ?? fallback;
const warmupSeconds = (fallback: number) => WARMUP_SECONDS ?? fallback;
// One worker count for every section (the lists of daemon and compare become this one count),
// unless a section's own setting names its count.
const WORKERS = envWorkers('BENCH_WORKERS');
const workers = (fallback: number) => WORKERS ?? fallback;
const workerCounts = (fallback: readonly number[]) => (WORKERS !== undefined ? [WORKERS] : [...fallback]);
const compareWorkers = envIntList('BENCH_COMPARE_WORKERS', workerCounts([8, 2]));
const EXPORT_ROWS = envInt('BENCH_EXPORT_ROWS', 1);
const EXPORT_WORKERS = envWorkers('BENCH_EXPORT_WORKERS');
const spreadWorkers = envWorkers('BENCH_SPREAD_WORKERS') ?? workers(8);
const compareLoads = (() => {
  const raw = process.env.BENCH_COMPARE_LOADS?.trim();
  if (raw === undefined || raw === '') return FULL_MATRIX;
  const loads = parseCompareLoads(raw);
  if ('refused' in loads) refuse(`BENCH_COMPARE_LOADS=${raw}: ${loads.refused}`);
  return loads;
})();

const SECTIONS: Record<string, () => Promise<void>> = {
  daemon: async () => void (await benchDaemon({ seconds: seconds(5), rounds: rounds(3), workerCounts: workerCounts([2, 8]), connections: [100, 1000], warmupSeconds: warmupSeconds(2) })),
  sheets: () => benchSheets({ seconds: seconds(10), workers: workers(8), connections: [100, 300, 1000], ttlS: 30, latencyMs: 800, warmupSeconds: warmupSeconds(10) }),
  compare: () =>
    benchCompare({
      seconds: seconds(10),
      workerCounts: compareWorkers,
      loads: compareLoads,
      ttlS: 30,
      latencyMs: 800,
      // Five, not three: at three rounds one slow round of the shared box still moved the ratio.
      goalRounds: rounds(5),
      warmupSeconds: warmupSeconds(10),
    }),
  accept: () => benchAccept({ seconds: seconds(10), rounds: rounds(3), workers: workers(8), connections: 1000, warmupSeconds: warmupSeconds(3) }),
  streams: () => benchStreams({ seconds: seconds(8), rounds: rounds(3), workers: workers(2), connections: 100, warmupSeconds: warmupSeconds(5) }),
  spread: () =>
    benchSpread({
      seconds: seconds(3),
      rounds: rounds(8),
      workers: spreadWorkers,
      copies: 3,
      connections: 100,
      warmupSeconds: warmupSeconds(5),
    }),
  'export-memory': () => benchExportMemory({ rows: EXPORT_ROWS ?? 300_000, workers: EXPORT_WORKERS ?? workers(8) }),
  'idempotency-memory': () => benchIdempotencyMemory({ keys: defaultOf(schema.CORRAL_IDEMPOTENCY_KEYS), perPlayer: defaultOf(schema.CORRAL_IDEMPOTENCY_KEYS_PER_PLAYER) }),
  ratelimit: () => benchRateLimit({ seconds: seconds(8), rounds: rounds(3), workers: workers(8), connections: 100, clients: 1000, warmupSeconds: warmupSeconds(1) }),
};

const HELP = `Usage: npm run bench [-- section...]

Runs the benchmarks in one session on this machine and prints each one's ratios against a
reference measured in the same run; figures are saved as JSON in bench/results/.

Sections (default: all, in this order):
  ${Object.keys(SECTIONS).join(', ')}

Environment (checked before any server starts, BENCH_GUNICORN aside: compare skips gunicorn
with a message when it cannot run it):
  BENCH_SECONDS            length of each load in seconds (each section has its own default)
  BENCH_ROUNDS             rounds per load (daemon, accept, ratelimit, streams: 3; compare's goal rows: 5; spread: 8)
  BENCH_WARMUP_SECONDS     unmeasured load before measuring (compare, sheets: 10; streams, spread: 5; accept: 3; daemon: 2; ratelimit: 1; 0 = cold)
  BENCH_WORKERS            one worker count for every section in place of its own (daemon: 2 and 8; compare: 8 and 2;
                           streams: 2; the others: 8); BENCH_COMPARE_WORKERS, BENCH_SPREAD_WORKERS and
                           BENCH_EXPORT_WORKERS override it for their section
  BENCH_COMPARE_WORKERS    worker counts of compare, e.g. 8,2 (the default)
  BENCH_COMPARE_LOADS      the loads of compare's matrix: connections, -close for one per request
                           (default ${FULL_MATRIX.map(loadName).join(',')}; 100,1000 for the goal loads alone)
  BENCH_SPREAD_WORKERS     worker count of spread (default 8)
  BENCH_EXPORT_ROWS        rows of export-memory's tab (default 300000)
  BENCH_EXPORT_WORKERS     workers of export-memory (default 8)
  BENCH_GUNICORN           the gunicorn compare runs (default: gunicorn on PATH; skipped with a message when absent or not an executable file)
  BENCH_RESULTS_DIR        where figures are saved (default bench/results/)

See README.md, "Benchmarks", for what each section measures and its goals.
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}
const options = args.filter((a) => a.startsWith('-'));
// An option used to be dropped without a word, so `npm run bench -- --help` ran every section.
if (options.length > 0) refuse(`unknown option "${options.join('", "')}": sections are named without dashes; see --help`);
const names = args.length > 0 ? args : Object.keys(SECTIONS);
const unknown = names.filter((n) => !SECTIONS[n]);
if (unknown.length > 0) refuse(`unknown bench section "${unknown.join('", "')}"; known: ${Object.keys(SECTIONS).join(', ')}`);
// After --help and the names, which must not create the directory; before any server starts.
const resultsProblem = resultsDirProblem();
if (resultsProblem !== undefined) {
  const where = process.env.BENCH_RESULTS_DIR ? `BENCH_RESULTS_DIR=${process.env.BENCH_RESULTS_DIR}` : `${resultsDir()} (BENCH_RESULTS_DIR saves elsewhere)`;
  refuse(`${where}: the figures cannot be saved there: ${resultsProblem}`);
}
// A signal exits through 'exit', where every server started is stopped (lib/orphan-guard.ts).
exitOnSignals();
for (const name of names) await (SECTIONS[name] as () => Promise<void>)();
