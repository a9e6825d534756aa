// `npm run bench` end to end, in its shortest form (2 workers, 1 s loads, no warm-up): every
// section, `compare` (issue #6's comparison benchmark) with gunicorn among them, then `compare`
// alone without gunicorn, its goal loads in rounds. It checks that the runs complete and report
// what the README quotes from them (every row, rounds, goals, the gunicorn part or the message
// that skips it), never how fast anything was: figures from a run this short, on a box shared
// with the test runner, mean nothing. Runs alone (test/run.mjs), since it loads both cores.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GUNICORN_SKIP, gunicornMissing } from '../../bench/lib/gunicorn.js';
import { REPO_ROOT } from '../helpers/corral.js';

const RUN = join(REPO_ROOT, 'dist', 'bench', 'run.js');
const COMMITTED = join(REPO_ROOT, 'bench', 'results', 'compare.json');
const WORKERS = 2;

/** The parts of a load's figures this test reads (bench/lib/load.ts has the whole). */
interface Load {
  readonly requests: number;
  readonly rps: number;
  readonly errors: number;
  readonly p99Ms: number;
  readonly cpuUsPerOk: number;
}
interface Row {
  readonly workers: number;
  readonly route: string;
  readonly connections: number;
  readonly keepAlive: boolean;
  readonly bare: Load;
  readonly corral: Load;
  readonly gunicorn?: Load;
  readonly corralRoundRobin?: Load;
  readonly floor?: Load;
  readonly roundsRps?: Record<string, number[]>;
  readonly roundsP99?: Record<string, number[]>;
  readonly roundsErrors?: Record<string, number[]>;
}
interface Saved {
  readonly settings: { readonly loads: readonly string[]; readonly gunicorn: { readonly skipped?: string; readonly version?: string } };
  readonly rows: readonly Row[];
  readonly upstream: Record<string, { readonly corral?: { readonly calls: number; readonly windows: number; readonly mostInTtl: number } }>;
  readonly goals: readonly { readonly what: string; readonly figure: string; readonly met?: boolean }[];
}

interface BenchRun {
  readonly stdout: string;
  /** Where the run saved its figures (BENCH_RESULTS_DIR). */
  readonly dir: string;
  readonly saved: Saved;
}

const scratch = mkdtempSync(join(tmpdir(), 'corral-bench-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** node dist/bench/run.js [sections...], as `npm run bench` runs it after its build, in its shortest form. */
async function bench(name: string, sections: readonly string[], env: Record<string, string>): Promise<BenchRun> {
  const dir = join(scratch, name);
  const child = spawn(process.execPath, [RUN, ...sections], {
    env: {
      ...process.env,
      BENCH_RESULTS_DIR: dir,
      BENCH_SECONDS: '1',
      BENCH_WARMUP_SECONDS: '0',
      // Every section's worker count: daemon's 2 and 8, and the 8 of sheets, accept, ratelimit,
      // spread and export-memory, were most of the run (starting 8 workers on 2 busy cores).
      BENCH_WORKERS: String(WORKERS),
      BENCH_EXPORT_ROWS: '20000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a bench that hangs can be stopped with every server it started.
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // A bench that hangs must fail here, not hold the run or leave its servers on the cores.
  const guard = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), 5 * 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(guard);
  assert.equal(code, 0, `bench ${sections.join(' ') || '(every section)'} exited ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  return { stdout, dir, saved: JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as Saved };
}

/** Every row of the matrix at N = WORKERS (the first count gets it): two routes, `loads` (all five by default). */
function assertMatrix(saved: Saved, rounds: number, withGunicorn: boolean, loads: readonly string[] = ['10', '100', '300', '1000', '100 close']): void {
  const rows = saved.rows.filter((r) => r.workers === WORKERS);
  const shapes = rows.map((r) => `${r.route} ${r.connections}${r.keepAlive ? '' : ' close'}`);
  assert.deepEqual(shapes, [...loads.map((l) => `GET /api/players ${l}`), ...loads.map((l) => `POST /api/login ${l}`)]);
  if (withGunicorn) assert.ok(rows.filter((r) => (r.gunicorn?.requests ?? 0) > 0).length >= rows.length / 2, 'gunicorn answered in most loads');
  for (const r of rows) {
    const where = `${r.route} at ${r.connections}${r.keepAlive ? '' : ' close'}`;
    assert.ok(r.bare.rps > 0 && r.corral.rps > 0, `${where}: bare and corral answered`);
    // corral answers every request of every load: the old setup's failure was errors under load.
    assert.equal(r.corral.errors, 0, `${where}: corral errors`);
    assert.ok(Number.isFinite(r.corral.p99Ms) && Number.isFinite(r.corral.cpuUsPerOk), `${where}: corral latency and CPU figures`);
    // gunicorn's figures are there for every load; one may hold no answer at all: in a 1 s load,
    // a worker whose 30 s cache expired waits 800 ms for the emulator before any answer, and on a
    // busy machine that is the whole load (seen in CI: POST /api/login at 100 close).
    if (withGunicorn) assert.ok(r.gunicorn, `${where}: gunicorn was loaded`);
    else assert.equal(r.gunicorn, undefined, `${where}: no gunicorn figures`);
    // CORRAL_ACCEPT=round-robin on the GET loads that open connections, and only there.
    const acceptRow = r.route === 'GET /api/players' && (r.connections === 1000 || !r.keepAlive);
    assert.equal(r.corralRoundRobin !== undefined, acceptRow, `${where}: round-robin accept measured`);
    // The goal loads (100 and 1000 keep-alive) in rounds, with every server's p99 kept per round.
    const goalLoad = r.keepAlive && (r.connections === 100 || r.connections === 1000);
    // The login floor beside the login's goal loads, and only there. It logs in for real: a body
    // it could not parse or a code it did not take would answer errors here.
    const floorRow = r.route === 'POST /api/login' && goalLoad;
    assert.equal(r.floor !== undefined, floorRow, `${where}: login floor measured`);
    if (r.floor) {
      assert.ok(r.floor.rps > 0, `${where}: the login floor answered`);
      assert.equal(r.floor.errors, 0, `${where}: the login floor's errors`);
    }
    if (goalLoad && rounds > 1) {
      const kinds = ['bare', 'corral', ...(withGunicorn ? ['gunicorn'] : []), ...(acceptRow ? ['corralRoundRobin'] : []), ...(floorRow ? ['floor'] : [])];
      assert.deepEqual(Object.keys(r.roundsP99 ?? {}).sort(), kinds.sort(), `${where}: p99 by round`);
      for (const k of kinds) {
        assert.equal(r.roundsRps?.[k]?.length, rounds, `${where}: ${k} req/s rounds`);
        assert.equal(r.roundsP99?.[k]?.length, rounds, `${where}: ${k} p99 rounds`);
        assert.equal(r.roundsErrors?.[k]?.length, rounds, `${where}: ${k} errors rounds`);
      }
      // corral answers every request of every round, not only of the median one shown.
      assert.deepEqual(r.roundsErrors?.corral, Array(rounds).fill(0), `${where}: corral errors by round`);
    } else assert.equal(r.roundsP99, undefined, `${where}: one load, no rounds`);
  }
}

function goal(saved: Saved, what: string) {
  const g = saved.goals.find((x) => x.what === what);
  assert.ok(g, `goal "${what}" in ${JSON.stringify(saved.goals.map((x) => x.what))}`);
  return g;
}

describe('npm run bench', () => {
  it('--help lists the sections and settings without running any; an unknown option or a results directory that cannot be written is refused before any server starts', () => {
    const help = spawnSync(process.execPath, [RUN, '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: npm run bench/);
    for (const section of ['daemon', 'sheets', 'compare', 'spread', 'idempotency-memory']) assert.ok(help.stdout.includes(section), `${section} in:\n${help.stdout}`);
    for (const setting of ['BENCH_WORKERS', 'BENCH_COMPARE_WORKERS']) assert.ok(help.stdout.includes(setting), `${setting} in:\n${help.stdout}`);
    assert.doesNotMatch(help.stdout, /req\/s/, 'no section ran');
    const bad = spawnSync(process.execPath, [RUN, '--rounds=3'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(bad.status, 64);
    assert.match(bad.stderr, /^bench: unknown option "--rounds=3": sections are named without dashes; see --help/);
    assert.equal(bad.stdout, '', 'no section ran');
    const badLoads = spawnSync(process.execPath, [RUN, 'compare'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, BENCH_COMPARE_LOADS: '100,fast' } });
    assert.equal(badLoads.status, 64);
    assert.match(badLoads.stderr, /^bench: BENCH_COMPARE_LOADS=100,fast: "fast" is not a load: a number of connections ≥ 1, with -close for a connection per request \(e\.g\. 10,100,300,1000,100-close\)/);
    assert.equal(badLoads.stdout, '', 'no section ran');
    // More workers than corral runs (CORRAL_WORKERS' most): refused before the bare server, which
    // has no such cap, forks them all, not when corral refuses its own start minutes in.
    for (const [setting, value] of [['BENCH_WORKERS', '100000'], ['BENCH_COMPARE_WORKERS', '8,513'], ['BENCH_SPREAD_WORKERS', '600'], ['BENCH_EXPORT_WORKERS', '1000']] as const) {
      const many = spawnSync(process.execPath, [RUN, 'idempotency-memory'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, BENCH_RESULTS_DIR: join(scratch, 'many-workers'), [setting]: value } });
      assert.equal(many.status, 64, `${setting}=${value}: ${many.stderr}`);
      assert.match(many.stderr, new RegExp(`^bench: ${setting}=${value}: .*at most 512 \\(CORRAL_WORKERS' most\\)`));
      assert.equal(many.stdout, '', 'no section ran');
    }
    // A results directory that cannot be made (a file stands there): refused before the section
    // runs, not at its save, once its load had run and its figures were lost.
    const notADir = join(scratch, 'results-is-a-file');
    writeFileSync(notADir, '');
    const badDir = spawnSync(process.execPath, [RUN, 'idempotency-memory'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, BENCH_RESULTS_DIR: join(notADir, 'sub') } });
    assert.equal(badDir.status, 64, badDir.stderr);
    assert.match(badDir.stderr, /^bench: BENCH_RESULTS_DIR=.*results-is-a-file\/sub: the figures cannot be saved there: .*ENOTDIR/);
    assert.equal(badDir.stdout, '', 'no section ran');
  });

  const missing = gunicornMissing();
  // Where Debian's gunicorn is absent, the whole run goes on without it (the next test checks
  // how compare says so). One round per load here; the next test runs compare's goal loads in rounds.
  it(`every section runs, and compare measures bare node:cluster${missing ? '' : ' and gunicorn + gevent'}: every load, goals, and the figures saved where asked`, async () => {
    const committedBefore = statSync(COMMITTED).mtimeMs;
    const { stdout, dir, saved } = await bench('every-section', [], { BENCH_ROUNDS: '1' });
    assert.equal(statSync(COMMITTED).mtimeMs, committedBefore, 'BENCH_RESULTS_DIR keeps the committed figures as they are');
    assert.deepEqual(readdirSync(dir).sort(), ['accept', 'compare', 'daemon', 'export-memory', 'idempotency-memory', 'ratelimit', 'sheets', 'spread', 'streams'].map((s) => `${s}.json`));
    const keys = JSON.parse(readFileSync(join(dir, 'idempotency-memory.json'), 'utf8')) as { keys: number; heapBytes: number; journalBytes: number };
    assert.equal(keys.keys, 100_000, 'the default CORRAL_IDEMPOTENCY_KEYS held');
    assert.ok(keys.heapBytes > 0 && keys.journalBytes > 0, JSON.stringify(keys));
    if (missing) assert.ok(stdout.includes(`gunicorn: ${GUNICORN_SKIP}`), `the skip message in:\n${stdout}`);
    else assert.match(saved.settings.gunicorn.version ?? '', /gunicorn/);
    assertMatrix(saved, 1, !missing);
    assert.deepEqual(saved.settings.loads, ['10', '100', '300', '1000', '100-close'], 'the whole matrix by default');
    for (const route of ['GET /api/players', 'POST /api/login']) {
      for (const what of [`${route}: corral/bare ≥ 0.9 at 100 connections`, ...(missing ? [] : [`${route}: corral/gunicorn ≥ 10 at 100 connections`]), `${route}: corral p99 < 50 ms at 1000 connections`]) {
        assert.equal(typeof goal(saved, what).met, 'boolean', `${what} is judged`);
      }
      assert.match(goal(saved, `${route}: corral p99 < 50 ms at 1000 connections`).figure, /one load/);
      if (!missing) assert.match(goal(saved, `${route}: corral/gunicorn ≥ 10 at 100 connections`).figure, /the ceiling, bare\/gunicorn: \d/);
    }
    assert.match(goal(saved, 'POST /api/login: corral/bare ≥ 0.9 at 100 connections').figure, /the login floor reached \d+\.\d+ × bare \(\d+ µs\), corral \d+\.\d+ × the floor/);
    assert.match(goal(saved, 'POST /api/login: corral p99 < 50 ms at 1000 connections').figure, /the login floor \d+\.\d ms/);
    // One range behind one keeper: at most one upstream call per TTL window, however many
    // workers and connections asked (the cache's single flight, not a timing).
    const up = saved.upstream[WORKERS]?.corral;
    assert.ok(up && up.windows >= 1, 'corral upstream counted');
    assert.ok(up.calls <= up.windows, `corral made ${up.calls} upstream calls in ${up.windows} TTL windows`);
    // Judged per window, from the emulator's log of read calls.
    assert.ok(up.mostInTtl <= 1, `no range read twice within a TTL (${up.mostInTtl})`);
    const upstreamGoal = goal(saved, 'corral: ≤ 1 upstream call per TTL window per range');
    assert.equal(upstreamGoal.met, true);
    assert.match(upstreamGoal.figure, /^at most [01] reads? of a range within one TTL; \d+ calls \/ \d+ windows = \d+\.\d\d on average$/);
    assert.match(stdout, new RegExp(`### N = ${WORKERS} workers`));
    assert.match(stdout, new RegExp(`goals \\(N = ${WORKERS}\\):`));
  });

  // The goal loads alone (BENCH_COMPARE_LOADS): the whole matrix ran in the test above.
  it('compare without gunicorn says how to install it and compares corral with the bare server alone, its goal loads in rounds', async () => {
    const rounds = 2;
    const { stdout, dir, saved } = await bench('without-gunicorn', ['compare'], { BENCH_ROUNDS: String(rounds), BENCH_GUNICORN: join(scratch, 'no-such-gunicorn'), BENCH_COMPARE_LOADS: '100,1000' });
    assert.deepEqual(readdirSync(dir), ['compare.json'], 'the section asked for alone');
    assert.ok(stdout.includes(`gunicorn: ${GUNICORN_SKIP}`), `the skip message in:\n${stdout}`);
    assert.match(saved.settings.gunicorn.skipped ?? '', /BENCH_GUNICORN=.*no-such-gunicorn is not an executable/);
    assertMatrix(saved, rounds, false, ['100', '1000']);
    assert.deepEqual(saved.settings.loads, ['100', '1000']);
    const g = goal(saved, 'GET /api/players: corral/gunicorn ≥ 10 at 100 connections');
    assert.equal(g.figure, 'gunicorn skipped');
    assert.equal(g.met, undefined, 'not judged without gunicorn');
    for (const route of ['GET /api/players', 'POST /api/login']) {
      assert.equal(typeof goal(saved, `${route}: corral/bare ≥ 0.9 at 100 connections`).met, 'boolean');
      assert.match(goal(saved, `${route}: corral p99 < 50 ms at 1000 connections`).figure, new RegExp(`median of ${rounds} rounds`));
    }
    assert.match(goal(saved, 'GET /api/players: corral p99 < 50 ms at 1000 connections, CORRAL_ACCEPT=round-robin').figure, new RegExp(`median of ${rounds} rounds`));
    assert.match(goal(saved, 'POST /api/login: corral p99 < 50 ms at 1000 connections').figure, /the login floor \d+\.\d ms \(/);
  });
});
