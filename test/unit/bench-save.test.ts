// bench/results/*.json hold the figures the README quotes: a save replaces the file whole (written
// aside, then renamed over it), never truncates it in place, where a run stopped mid-write or a
// full disk left a torn file.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { save } from '../../bench/lib/report.js';
import { REPO_ROOT } from '../helpers/corral.js';

/** Root may create nothing under /proc, where mkdir(2) answers ENOENT under an existing parent. */
const procSkip = process.getuid?.() === 0 && statSync('/proc', { throwIfNoEntry: false })?.isDirectory() ? false : 'needs root and /proc (elsewhere mkdir under /proc answers EACCES, not ENOENT)';

test('a save replaces the figures whole: a reader of the old file still reads it entire', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-save-'));
  const before = process.env.BENCH_RESULTS_DIR;
  process.env.BENCH_RESULTS_DIR = dir;
  try {
    const old = `${JSON.stringify({ figures: 'old' })}\n`;
    writeFileSync(join(dir, 'daemon.json'), old);
    const fd = openSync(join(dir, 'daemon.json'), 'r');
    try {
      const file = save('daemon', { rows: [1, 2, 3] });
      assert.deepEqual((JSON.parse(readFileSync(file, 'utf8')) as { rows: number[] }).rows, [1, 2, 3]);
      // Truncated and rewritten in place, the open file would show the new figures (or none).
      assert.equal(readFileSync(fd, 'utf8'), old);
    } finally {
      closeSync(fd);
    }
    assert.deepEqual(readdirSync(dir), ['daemon.json'], 'no temporary file left behind');
  } finally {
    if (before === undefined) delete process.env.BENCH_RESULTS_DIR;
    else process.env.BENCH_RESULTS_DIR = before;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a BENCH_RESULTS_DIR that cannot be made (under /proc) exits 64 before any server starts, rather than hanging', { skip: procSkip }, () => {
  // Node's recursive mkdir loops for ever, deaf to signals, on an ENOENT under a parent that exists.
  const run = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'run.js'), 'idempotency-memory'], {
    env: { ...process.env, BENCH_RESULTS_DIR: '/proc/corral-bench-results/x' },
    encoding: 'utf8',
    timeout: 20_000,
    killSignal: 'SIGKILL',
  });
  assert.equal(run.signal, null, 'still running after 20 s');
  assert.equal(run.status, 64, run.stderr);
  assert.match(run.stderr, /^bench: BENCH_RESULTS_DIR=\/proc\/corral-bench-results\/x: the figures cannot be saved there: ENOENT/m);
});
