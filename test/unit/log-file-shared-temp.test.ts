// CORRAL_LOG_FILE in a directory every local user may create in (a sticky /tmp): a name there that
// another user made (a symlink to a file of corral's user, a file of their own) is refused by the
// settings and at each reopen, rather than appended to. Opened through such a symlink, corral
// appended its lines to whatever file the other user chose (root's crontab, a file of the
// service's); written to a file of theirs, it gave them every line (client addresses, events).

import assert from 'node:assert/strict';
import { chmodSync, lchownSync, chownSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';

const root = mkdtempSync(join(tmpdir(), 'corral-log-shared-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A directory others may create in, as /tmp is: mode 1777. */
const shared = join(root, 'tmp');
mkdirSync(shared);
chmodSync(shared, 0o1777);

const OTHER = 65534;
const asRoot = { skip: process.getuid?.() !== 0 ? 'needs root, to give a file to another user' : false };

function logFileRefusal(file: string): string | undefined {
  try {
    loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_LOG_FILE: file, CORRAL_DATA_DIR: join(root, 'data') }, cwd: root });
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.find((p) => p.name === 'CORRAL_LOG_FILE')?.allowed;
  }
}

test("a log file another user made in a shared temp dir, or a symlink of theirs there, is refused by the settings; this user's is not", asRoot, () => {
  const victim = join(root, 'victim');
  writeFileSync(victim, 'untouched\n');
  const link = join(shared, 'linked.log');
  symlinkSync(victim, link);
  lchownSync(link, OTHER, OTHER);
  assert.match(logFileRefusal(link) ?? '', new RegExp(`^${link} belongs to uid ${OTHER}, not to this user \\(uid 0\\) nor root, in ${shared}, where every local user may create a file: its owner could read every line, or make it a symlink to a file of this user's, which corral would append to: remove it \\(as root\\), or point CORRAL_LOG_FILE elsewhere`));
  const theirs = join(shared, 'theirs.log');
  writeFileSync(theirs, '');
  chownSync(theirs, OTHER, OTHER);
  assert.match(logFileRefusal(theirs) ?? '', /belongs to uid 65534/);
  assert.equal(logFileRefusal(join(shared, 'mine.log')), undefined);
  assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
});

test('a reopen (USR1 after a rotation) does not follow a symlink another user put at the path meanwhile: it fails, and lines stay in the file open before', asRoot, async () => {
  const file = join(shared, 'corral.log');
  const victim = join(root, 'victim-reopen');
  writeFileSync(victim, 'untouched\n');
  const log = createLogger({ CORRAL_LOG_FILE: file, CORRAL_LOG_LEVEL: 'info' }, { role: 'master' });
  try {
    await log.opened(5000);
    renameSync(file, `${file}.1`);
    symlinkSync(victim, file);
    lchownSync(file, OTHER, OTHER);
    // Said on stderr too (the journal), as any failed reopen.
    assert.equal(await log.reopen(), false);
    log.logger.info({ event: 'after' }, 'after');
    await log.drained(5000);
    log.flush();
    assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
    const lines = readFileSync(`${file}.1`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event?: string; msg?: string });
    const failed = lines.find((l) => l.event === 'log.reopen_failed');
    assert.match(failed?.msg ?? '', new RegExp(`^cannot reopen CORRAL_LOG_FILE ${file}: ${file} belongs to uid ${OTHER}, not to this user`));
    assert.ok(lines.some((l) => l.event === 'after'), 'lines go on to the file open before');
  } finally {
    log.flush();
  }
});
