// What log.reopen_failed says when USR1 cannot reopen CORRAL_LOG_FILE: a file standing where the
// log's directory should be failed the destination's mkdir with a bare "EEXIST: file already
// exists, mkdir '/var/log/corral'", which named neither the file nor what to do.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeError } from '../../src/errors.js';
import { reopenFailure } from '../../src/log/logger.js';

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
