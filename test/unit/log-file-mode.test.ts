// The mode of CORRAL_LOG_FILE: created 0640 (its lines hold client addresses and event details;
// group-readable for an `adm` group, as logrotate's `create 0640` makes it after a rotation),
// whatever a shell's umask would have left; a file already there keeps the mode it has.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { LOG_FILE_MODE } from '../../src/log/log-file.js';
import { REPO_ROOT } from '../helpers/corral.js';

const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8);

describe('the log file mode', () => {
  let dir: string;
  let umask: number;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-log-mode-'));
    // A shell's usual umask: a file created with the default 0666 ends 0644, readable by everyone.
    umask = process.umask(0o022);
  });
  after(() => {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (file: string) => createLogger({ CORRAL_LOG_FILE: file, CORRAL_LOG_LEVEL: 'info' }, { role: 'master' }, { sync: true });

  it('creates a new log file (and one in a new directory) 0640 under umask 022', () => {
    for (const file of [join(dir, 'corral.log'), join(dir, 'new-dir', 'corral.log')]) {
      const log = open(file);
      log.logger.info({ event: 'test.line' }, 'a line');
      log.flush();
      assert.equal(modeOf(file), '640', file);
      assert.match(readFileSync(file, 'utf8'), /"event":"test\.line"/);
    }
  });

  it('creates a new directory for it writable by corral alone, 0755, under umask 000 too (it was 0777)', () => {
    const previous = process.umask(0o000);
    try {
      const file = join(dir, 'open-umask', 'deeper', 'corral.log');
      const log = open(file);
      log.logger.info({ event: 'test.line' }, 'a line');
      log.flush();
      assert.equal(modeOf(join(dir, 'open-umask')), '755');
      assert.equal(modeOf(join(dir, 'open-umask', 'deeper')), '755');
      assert.equal(modeOf(file), '640');
    } finally {
      process.umask(previous);
    }
  });

  it('makes a directory removed since again 0755 at a reopen (USR1), under umask 000 too', async () => {
    const file = join(dir, 'removed-dir', 'corral.log');
    const log = open(file);
    log.logger.info({ event: 'test.before' }, 'before');
    log.flush();
    rmSync(join(dir, 'removed-dir'), { recursive: true, force: true });
    const previous = process.umask(0o000);
    try {
      await log.reopen();
      log.logger.info({ event: 'test.after' }, 'after');
      log.flush();
      assert.equal(modeOf(join(dir, 'removed-dir')), '755', 'not 0777: sonic-boom would make it with the umask');
      assert.match(readFileSync(file, 'utf8'), /"event":"test\.after"/);
    } finally {
      process.umask(previous);
    }
  });

  it("keeps the mode of a log file already there: an operator's choice is not changed", () => {
    for (const mode of [0o600, 0o644]) {
      const file = join(dir, `existing-${mode.toString(8)}.log`);
      writeFileSync(file, '');
      chmodSync(file, mode);
      const log = open(file);
      log.logger.info({ event: 'test.line' }, 'a line');
      log.flush();
      assert.equal(modeOf(file), mode.toString(8));
    }
  });

  it("is the mode config/logrotate/corral creates a rotated-away file's successor with", () => {
    const policy = readFileSync(join(REPO_ROOT, 'config', 'logrotate', 'corral'), 'utf8');
    const create = /^\s*create\s+(0[0-7]{3})\s/m.exec(policy);
    assert.ok(create, 'a create line');
    assert.equal(create[1], `0${LOG_FILE_MODE.toString(8)}`);
  });

  it('creates the file 0640 again when a reopen (USR1) finds it moved away and not replaced', () => {
    const file = join(dir, 'rotated.log');
    const log = open(file);
    log.logger.info({ event: 'test.before' }, 'before the rotation');
    renameSync(file, `${file}.1`);
    log.reopen();
    log.logger.info({ event: 'test.after' }, 'after the rotation');
    log.flush();
    assert.ok(existsSync(file));
    assert.equal(modeOf(file), '640');
    assert.match(readFileSync(file, 'utf8'), /"event":"test\.after"/);
  });
});
