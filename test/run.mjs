// Runs the compiled test files in phases: unit tests in parallel, then the tests that spawn real
// processes (integration, browser, system) with less parallelism, since on a small machine many
// masters at once starve each other's heartbeats. Extra arguments are passed to `node --test`.

import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
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
// restarts), and 3 at a time keep the cores about 85 % busy (2: 379 s; 3: 287 s; 4: 254 s at
// 91 %, with little room left for a slower machine).
// Unit files mostly wait too (timers, sockets, child processes): on the same 2 cores, 1234 tests
// took 140 s two at a time, 111 s three, 92-103 s four (two runs, none failing), with the same CPU.
const phases = [
  { name: 'unit', dirs: ['unit'], concurrency: 4 },
  { name: 'integration', dirs: ['integration'], concurrency: 3 },
  // A browser and a booted systemd side by side: the page's tests wait on its timers, the
  // systemd suite on debootstrap (one core) and on the container (together 140 s, alone 215 s).
  { name: 'browser and system', dirs: ['browser', 'system'], concurrency: 2 },
  // Alone: a bound on latency, and a benchmark that loads both cores, would measure or starve
  // whatever ran beside them.
  { name: 'latency and bench', dirs: ['latency', 'bench'], concurrency: 1 },
];

// A backstop, per test file: a file whose test failed while something it started (a client loop,
// a child process) keeps its process alive would otherwise hold CI until CI's own limit. The
// longest file, the systemd suite with its debootstrap, takes a few minutes.
const FILE_TIMEOUT_MS = 15 * 60_000;
const extra = process.argv.slice(2);
let failed = false;
for (const phase of phases) {
  const files = phase.dirs.flatMap((d) => testFiles(join(root, d)));
  if (files.length === 0) continue;
  const started = Date.now();
  process.stdout.write(`\n# phase: ${phase.name} (${files.length} files)\n`);
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${phase.concurrency}`, `--test-timeout=${FILE_TIMEOUT_MS}`, ...extra, ...files], { stdio: 'inherit' });
  process.stdout.write(`# phase ${phase.name}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s\n`);
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
