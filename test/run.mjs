// Runs the compiled test files in phases: unit tests in parallel, then the tests that spawn real
// processes (integration, browser, system) with less parallelism, since on a small machine many
// masters at once starve each other's heartbeats. Extra arguments are passed to `node --test`.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../dist/test/', import.meta.url));

function testFiles(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(testFiles(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// Concurrency measured on 2 cores: integration files mostly wait (on heartbeats, timeouts,
// restarts). With 60 files (November 2026), 3 at a time took 449-483 s in four fresh-clone runs, 4 at a
// time 361-379 s in three runs, none failing, the cores 85-87 % busy: a slower machine has the
// rest, and the tests wait on events, not on fixed times.
// Unit files mostly wait too (timers, sockets, child processes): on the same 2 cores, 1234 tests
// took 140 s two at a time, 111 s three, 92-103 s four (two runs, none failing), with the same CPU;
// 1321 tests (182 files) 102-111 s four at a time, 95-97 s six (two runs each, none failing).
// Integration files are bound by CPU since (63 files, 840 s of CPU, half of it starting the 1,100
// node processes they spawn): 420 s four at a time, 460 s five.

// Integration files that mostly wait (on a TTL, a 30 s outage, a settle time): in the integration
// phase, bound by CPU, each held one of its four places for its whole time at a fifth of a core or
// less (sheets-cache 131 s at 0.17 of a core, daemon-reload-settings 55 s at 0.23, daemon-limits
// 46 s at 0.24), while beside the browser files the systemd suite's 150 s used a third of a core
// and the cores were half idle. They run there, in a group of their own beside the browser files':
// that phase took 163 s, against 181-185 s before in CI. Two more such files (daemon-upgrade,
// daemon-app-contract) slowed the dashboard's Chromium file from 85 to 126 s, the phase to 191 s.
// With the systemd suite in two files the phase had room again: five more files that each used under
// a quarter of a core alone (CPU time over wall time, run one at a time on 2 cores: daemon-task-limit
// 0.14 of 39 s, admin-capacity 0.19 of 30 s, sheets-ranges-failing 0.13 of 22 s, sheets-disk-room
// 0.13 of 20 s, app-events-header 0.20 of 19 s) went there too, the longest first after
// sheets-cache: the integration phase took 363-372 s against 417 s (CI, November 2026). Not
// daemon-reload-bound (0.23 of 20 s): beside three Chromiums and two containers one of its workers,
// whose CORRAL_TIMEOUT is 2 s, was killed as stuck before its first beat (still loading its
// modules), and the reload it follows was rolled back for that rather than for its boot timeout.
// A child that never beat has the boot timeout since (stuck-judgement.ts); the file was not tried
// there again.
const WAITING_FILES = [
  'sheets-cache',
  'daemon-task-limit',
  'daemon-reload-settings',
  'admin-capacity',
  'daemon-limits',
  'sheets-ranges-failing',
  'sheets-disk-room',
  'app-events-header',
].map((f) => `integration/${f}.test.js`);
/**
 * A phase's groups run at the same time, each its own `node --test` with its own concurrency: the
 * first's output as it comes, the others' after it (two TAP streams at once would interleave).
 */
const phases = [
  { name: 'unit', groups: [{ dirs: ['unit'], concurrency: 6 }] },
  { name: 'integration', groups: [{ dirs: ['integration'], except: WAITING_FILES, concurrency: 4 }] },
  // The browser files and a booted systemd side by side: the page's tests wait on its 5 s
  // refresh, the systemd suite on the container (its root built from the first phase on). On 2
  // cores: 88 s four at a time, 118 s three, the longest file 85 s. Six at a time (the longest file
  // split in two) took 124 s against 143 s, but five Chromiums at once starved one: a report page
  // took over 30 s to load (CI, November 2026). Three Chromiums at most, as when the four places
  // were shared with the systemd suite.
  // The systemd suite is two files, each booting a container of its own, so that it is not the
  // phase's longest file: 89 s (systemd) and 72 s (systemd-limits) side by side against 150 s in
  // one file on the same 2 cores (November 2026). test/system/ comes first in its group, so both
  // take a place at once, and the first three waiting files beside them; the fourth starts when the
  // shortest of those five ends.
  {
    name: 'browser and system',
    groups: [
      { dirs: ['browser'], concurrency: 3 },
      // Five places: with four, the two containers and the waiting files (some 500 s of them) took
      // 176 s in CI, the browser files about 100 s; with five the phase took 152-166 s, sheets-cache
      // (127-133 s) its longest file (two CI runs, November 2026).
      { dirs: ['system'], files: WAITING_FILES, concurrency: 5 },
    ],
  },
  // Alone: a bound on latency, and a benchmark that loads both cores, would measure or starve
  // whatever ran beside them. The benchmark test checks completion, not speed, and ran beside the
  // browser and systemd files for a while (184-206 s against 137 + 135-160 s), until a 1 s load of
  // 1000 connections there got no answer at all (CI, November 2026).
  { name: 'latency and bench', groups: [{ dirs: ['latency', 'bench'], concurrency: 1 }] },
];

/** A group's files: its directories' (less `except`) and its own `files`, paths under dist/test/. */
function groupFiles(group) {
  const except = new Set((group.except ?? []).map((f) => join(root, f)));
  const own = (group.files ?? []).map((f) => join(root, f)).filter((f) => existsSync(f));
  return [...group.dirs.flatMap((d) => testFiles(join(root, d))).filter((f) => !except.has(f)), ...own];
}

// The systemd test's Debian root (debootstrap: its downloads, then a minute of unpacking on one
// core) is built from the first phase on, rather than at the head of its own phase. Begun with the
// integration phase, bound by CPU since, it took 232 s of it in CI (November 2026); the unit phase
// leaves a quarter of the cores idle. The phase that runs the systemd test waits for it; the test
// builds it itself if this failed.
const PREPARED_BEFORE = { prepare: join(root, 'system', 'prepare-root.js'), startWith: 'unit', waitBefore: 'browser and system' };

/** Starts the preparation in the background; the promise resolves with what it printed. */
function startPreparation(script) {
  // In a process group of its own with a channel to this one: when this run ends early (a pipe to
  // `head` closed, a signal to npm alone), the channel closes and it stops its whole group, its
  // debootstrap included, which went on building as root with nobody to wait for it.
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: testEnv, detached: true });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve) => child.once('close', (code) => resolve(code === 0 ? out : `${out}# systemd test root: preparation exited ${code}\n`)));
}

// A backstop, per test file: a file whose test failed while something it started (a client loop,
// a child process) keeps its process alive would otherwise hold CI until CI's own limit. The
// longest files, the systemd ones with their debootstrap, take a few minutes.
const FILE_TIMEOUT_MS = 15 * 60_000;
const extra = process.argv.slice(2);
// Node reads NODE_EXTRA_CA_CERTS at every start, before any code runs: with Debian's bundle (some
// 150 certificates) that was 40 ms of CPU in a start of 60 ms on a 2-core box, times the ~2,000
// node processes the phases start. Every test talks to loopback only, and the one that serves TLS
// gives its own CA (sheets-proxy), so the phases run without the host's.
const testEnv = { ...process.env };
delete testEnv.NODE_EXTRA_CA_CERTS;
// Each phase's output as node:test prints it by default, and beside it the failed tests alone,
// printed again after the last phase: a CI log cut to its tail still says what failed and why.
const reporterChosen = extra.some((a) => a.startsWith('--test-reporter'));
const summaryDir = mkdtempSync(join(tmpdir(), 'corral-test-failures-'));
const summaryReporter = fileURLToPath(new URL('./failure-summary-reporter.mjs', import.meta.url));
function reporterArgs(summaryFile) {
  if (reporterChosen) return [];
  const own = process.stdout.isTTY ? 'spec' : 'tap';
  return [`--test-reporter=${own}`, '--test-reporter-destination=stdout', `--test-reporter=${summaryReporter}`, `--test-reporter-destination=${summaryFile}`];
}
/**
 * Runs one group's files; its output goes to this process's stdout as it comes when `live`, else
 * once it ends. Resolves with its exit status and what its failure reporter wrote.
 */
function runGroup(files, group, summaryFile, live) {
  // `extra` goes to every group: a --test-name-pattern, a --test-reporter of one's own. A file
  // named in it would run in each group of its phase, and --test-concurrency would set theirs.
  const args = ['--test', `--test-concurrency=${group.concurrency}`, `--test-timeout=${FILE_TIMEOUT_MS}`, ...reporterArgs(summaryFile), ...extra, ...files];
  const child = spawn(process.execPath, args, { stdio: ['inherit', live ? 'inherit' : 'pipe', live ? 'inherit' : 'pipe'], env: testEnv });
  const held = [];
  if (!live) for (const s of [child.stdout, child.stderr]) s.on('data', (d) => held.push(d));
  return new Promise((resolve) => {
    // A spawn that fails (EAGAIN, ENOMEM) is the group's failure, not this run's crash with the
    // other group left running.
    child.once('error', (err) => resolve({ status: err.code ?? err.message, output: Buffer.concat(held), summary: '' }));
    child.once('close', (code, signal) => {
      let summary = '';
      try {
        summary = readFileSync(summaryFile, 'utf8');
      } catch {
        // The group died before its reporter wrote anything: its exit status is all there is.
      }
      resolve({ status: code ?? signal, output: Buffer.concat(held), summary });
    });
  });
}

const failures = [];
let failed = false;
let preparation;
for (const phase of phases) {
  // A directory with no compiled test file ran nothing: a hole, not a pass (a build that emitted
  // none there, a directory renamed). Left out without a word, every one empty was an exit 0.
  const empty = phase.groups.flatMap((g) => g.dirs).filter((d) => testFiles(join(root, d)).length === 0);
  if (empty.length > 0) {
    failed = true;
    const said = empty.map((d) => `# phase ${phase.name}: no test file in dist/test/${d}/, nothing ran there\n`).join('');
    process.stdout.write(said);
    failures.push(said);
  }
  const groups = phase.groups.map((g) => ({ group: g, files: groupFiles(g) })).filter((g) => g.files.length > 0);
  if (phase.name === PREPARED_BEFORE.waitBefore && preparation) process.stdout.write(await preparation);
  if (phase.name === PREPARED_BEFORE.startWith && testFiles(join(root, 'system')).length > 0) preparation = startPreparation(PREPARED_BEFORE.prepare);
  if (groups.length === 0) continue;
  const started = Date.now();
  process.stdout.write(`\n# phase: ${phase.name} (${groups.reduce((n, g) => n + g.files.length, 0)} files)\n`);
  const runs = groups.map(({ group, files }, i) => runGroup(files, group, join(summaryDir, `${phase.name.replace(/\W+/g, '-')}-${i}.txt`), i === 0));
  const results = [];
  for (const [i, r] of runs.entries()) {
    const result = await r;
    results.push(result);
    if (i > 0) process.stdout.write(`\n# phase ${phase.name}, beside it: ${groups[i].files.length} files (${groups[i].files.map((f) => f.slice(root.length)).join(', ')})\n${result.output}`);
  }
  const phaseFailed = results.map((r, i) => ({ ...r, label: i === 0 ? '' : ', beside it' })).filter((r) => r.status !== 0);
  process.stdout.write(`# phase ${phase.name}: ${phaseFailed.length === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s\n`);
  if (phaseFailed.length > 0) {
    failed = true;
    for (const r of phaseFailed) failures.push(`# phase ${phase.name}${r.label}: exit ${r.status}\n${r.summary || '(no failed test reported: see the phase output above)\n'}`);
  }
}
rmSync(summaryDir, { recursive: true, force: true });
if (failures.length > 0) process.stdout.write(`\n# FAILED: what failed, phase by phase\n${failures.join('\n')}`);
process.exit(failed ? 1 : 0);
