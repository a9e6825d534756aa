// What log.reopen_failed says when USR1 cannot reopen CORRAL_LOG_FILE: a file standing where the
// log's directory should be failed the destination's mkdir with a bare "EEXIST: file already
// exists, mkdir '/var/log/corral'", which named neither the file nor what to do.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeError } from '../../src/errors.js';
import { reopenFailure } from '../../src/log/destination-open.js';
import { createLogger } from '../../src/log/logger.js';

test('a file at the log directory\'s path is said as such, other failures as they are', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-log-reopen-'));
  try {
    const logDir = join(dir, 'log');
    writeFileSync(logDir, 'not a directory');
    let failure: unknown;
    try {
      mkdirSync(logDir, { recursive: true });
    } catch (err) {
      failure = err;
    }
    const said = reopenFailure(describeError(failure), join(logDir, 'corral.log'));
    assert.match(said, new RegExp(`^a file, not a directory, stands at ${logDir}, where the log's directory should be \\(EEXIST: `));
    assert.equal(reopenFailure({ message: 'EACCES: permission denied', code: 'EACCES' }, join(logDir, 'corral.log')), 'EACCES: permission denied');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("reopen() resolves whether the file at CORRAL_LOG_FILE's path was opened: true once lines go there, false when its open failed", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-log-reopen-'));
  const file = join(dir, 'corral.log');
  const log = createLogger({ CORRAL_LOG_FILE: file, CORRAL_LOG_LEVEL: 'info' }, { role: 'master' });
  const stderr = process.stderr.write;
  try {
    await log.opened(5000);
    log.logger.info({ event: 'before' }, 'before');
    renameSync(file, `${file}.1`);
    // Something other than a file at the path: the open fails (EISDIR) whoever runs it, root too.
    mkdirSync(file);
    // The failure is said on stderr as well: kept out of the test's output.
    process.stderr.write = (() => true) as typeof process.stderr.write;
    assert.equal(await log.reopen(), false);
    process.stderr.write = stderr;
    rmdirSync(file);
    assert.equal(await log.reopen(), true);
    log.logger.info({ event: 'after' }, 'after');
    // The line's write is in flight on the thread pool (the destination is asynchronous), which
    // flush() cannot complete: read before it lands, the file did not hold it yet (a loaded run).
    await log.drained(5000);
    log.flush();
    assert.match(readFileSync(file, 'utf8'), /"event":"after"/);
    assert.doesNotMatch(readFileSync(file, 'utf8'), /"event":"before"/);
  } finally {
    process.stderr.write = stderr;
    log.flush();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reopens that fail, one a USR1 for as long as the path cannot be opened, leave nothing behind: the one that works closes the old file once', async () => {
  // Each failed reopen left sonic-boom's listener that closes the old fd once a new one is ready:
  // twelve daily rotations into a broken path made a MaxListenersExceededWarning, and the reopen
  // that worked then closed the old fd thirteen times, the last twelve on whatever had its number.
  const dir = mkdtempSync(join(tmpdir(), 'corral-log-reopen-'));
  const file = join(dir, 'corral.log');
  const log = createLogger({ CORRAL_LOG_FILE: file, CORRAL_LOG_LEVEL: 'info' }, { role: 'master' });
  const stderr = process.stderr.write;
  const close = fs.close;
  const warnings: string[] = [];
  const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    await log.opened(5000);
    const oldFd = log.fd();
    assert.equal(typeof oldFd, 'number');
    renameSync(file, `${file}.1`);
    mkdirSync(file);
    process.stderr.write = (() => true) as typeof process.stderr.write;
    for (let i = 0; i < 12; i++) assert.equal(await log.reopen(), false);
    process.stderr.write = stderr;
    rmdirSync(file);
    const closed: number[] = [];
    fs.close = ((fd: number, ...rest: unknown[]) => {
      closed.push(fd);
      return (close as (...a: unknown[]) => void)(fd, ...rest);
    }) as typeof fs.close;
    assert.equal(await log.reopen(), true);
    fs.close = close;
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(closed.filter((fd) => fd === oldFd), [oldFd], 'the old file closed once');
    assert.deepEqual(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), []);
  } finally {
    fs.close = close;
    process.stderr.write = stderr;
    process.off('warning', onWarning);
    log.flush();
    rmSync(dir, { recursive: true, force: true });
  }
});
