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

const phases = [
  { name: 'unit', dirs: ['unit'], concurrency: 2 },
  { name: 'integration', dirs: ['integration'], concurrency: 2 },
  // Alone: tests whose bounds (latency) or resources (a browser, a booted systemd, a benchmark
  // that loads both cores) would measure or starve whatever ran beside them.
  { name: 'latency, browser, system and bench', dirs: ['latency', 'browser', 'system', 'bench'], concurrency: 1 },
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
