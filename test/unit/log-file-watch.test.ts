import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { watchLogFile } from '../../src/log/file-watch.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'corral-file-watch-'));
  const file = join(dir, 'corral.log');
  let fd = openSync(file, 'a');
  const calls: string[] = [];
  const watch = watchLogFile({ file: () => file, fd: () => fd, changed: (state) => calls.push(state), intervalMs: 3_600_000 });
  return {
    dir,
    file,
    calls,
    watch,
    reopen() {
      closeSync(fd);
      fd = openSync(file, 'a');
    },
    close() {
      watch.close();
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a removed log file is reported at the second check that finds it missing, once per open file', async () => {
  const t = setup();
  try {
    await t.watch.check();
    assert.deepEqual(t.calls, [], 'the file open is the one the path names');
    unlinkSync(t.file);
    // logrotate's create renames, then creates: one check between the two must not reopen first.
    await t.watch.check();
    assert.deepEqual(t.calls, []);
    await t.watch.check();
    assert.deepEqual(t.calls, ['missing']);
    // A reopen that failed leaves the same file open: not asked again every few seconds.
    await t.watch.check();
    assert.deepEqual(t.calls, ['missing']);
    // Reopened (created again), then removed again: said again.
    t.reopen();
    await t.watch.check();
    unlinkSync(t.file);
    await t.watch.check();
    await t.watch.check();
    assert.deepEqual(t.calls, ['missing', 'missing']);
  } finally {
    t.close();
  }
});

test('a log file moved aside with another in its place is reported at once; a directory or device in its place is not', async () => {
  const t = setup();
  try {
    renameSync(t.file, `${t.file}.1`);
    writeFileSync(t.file, '');
    await t.watch.check();
    assert.deepEqual(t.calls, ['replaced']);
    t.reopen();
    renameSync(t.file, `${t.file}.2`);
    mkdirSync(t.file);
    await t.watch.check();
    await t.watch.check();
    assert.deepEqual(t.calls, ['replaced'], 'a reopen would fail (log.reopen_failed says so at a USR1)');
  } finally {
    t.close();
  }
});
