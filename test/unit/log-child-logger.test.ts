// A worker or keeper forked while CORRAL_LOG_FILE cannot be opened (a rotation gone wrong, which
// the master outlives with log.reopen_failed) logs to its stdout, relayed by the master, and boots;
// it threw CORRAL_ERR_LOG_FILE, its boot failed with exit 78 as did every replacement's, and once no
// worker was left the master gave up (boot.exhausted).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { createChildLogger } from '../../src/log/child-logger.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-child-logger-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const CHILD_LOGGER = pathToFileURL(fileURLToPath(new URL('../../src/log/child-logger.js', import.meta.url))).href;

test('a child that cannot open CORRAL_LOG_FILE logs to its stdout, says why once, and goes on', () => {
  // A file where the log's directory should be: no mode or owner gets past it, root's neither.
  writeFileSync(join(dir, 'logs'), '');
  const file = join(dir, 'logs', 'corral.log');
  const script = `
    const { createChildLogger } = await import(${JSON.stringify(CHILD_LOGGER)});
    const log = createChildLogger({ CORRAL_LOG_FILE: ${JSON.stringify(file)}, CORRAL_LOG_LEVEL: 'info' }, { role: 'worker', worker: 3, generation: 2 });
    log.logger.info({ event: 'worker.ready' }, 'serving');
    await log.drained(1000);
    log.flush();
    process.stderr.write('file=' + String(log.file()) + '\\n');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, JOURNAL_STREAM: '' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /file=undefined/);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l.event), ['log.file_unavailable', 'worker.ready']);
  assert.equal(lines[0]?.code, 'CORRAL_ERR_LOG_FILE');
  assert.equal(lines[0]?.file, file);
  assert.equal(lines[0]?.worker, 3);
  assert.match(String(lines[0]?.msg), /EEXIST|ENOTDIR/);
});

// Its lines stayed on stdout for as long as it ran, USR1 or not: a keeper runs for weeks, and its
// journal.*, sheets.* and redis.* lines were missing from the file `tail -F` follows, while
// log.file_unavailable told the operator to fix the directory and send USR1.
test('a child logging to its stdout for want of CORRAL_LOG_FILE moves its lines to the file at the reopen (USR1) that can open it, and says so on both', () => {
  const root = join(dir, 'moves');
  mkdirSync(root);
  writeFileSync(join(root, 'logs'), '');
  const file = join(root, 'logs', 'corral.log');
  const script = `
    const { rmSync } = await import('node:fs');
    const { createChildLogger } = await import(${JSON.stringify(CHILD_LOGGER)});
    const log = createChildLogger({ CORRAL_LOG_FILE: ${JSON.stringify(file)}, CORRAL_LOG_LEVEL: 'info' }, { role: 'keeper', worker: 0, generation: 2 });
    const sheets = log.logger.child({ component: 'sheets' });
    const access = log.access();
    log.logger.info({ event: 'journal.before' }, 'before');
    const unfixed = await log.reopen();
    rmSync(${JSON.stringify(join(root, 'logs'))});
    const fixed = await log.reopen();
    log.logger.info({ event: 'journal.after' }, 'after');
    sheets.info({ event: 'sheets.after' }, 'after');
    access.info({ event: 'access' }, 'GET /');
    const again = await log.reopen();
    await log.drained(1000);
    log.flush();
    process.stderr.write(JSON.stringify({ unfixed, fixed, again, file: log.file(), fd: log.fd() !== undefined }) + '\\n');
  `;
  // Its stdout relayed to the journal, as under systemd: journald's priority prefix there, none in the file.
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, JOURNAL_STREAM: '', CORRAL_INTERNAL_STDOUT_JOURNAL: '1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stderr.trim().split('\n').at(-1) ?? ''), { unfixed: false, fixed: true, again: true, file, fd: true });
  const stdout = r.stdout.trim().split('\n');
  assert.ok(stdout.every((l) => /^<\d>\{/.test(l)), r.stdout);
  const said = stdout.map((l) => JSON.parse(l.slice(3)) as Record<string, unknown>);
  assert.deepEqual(said.map((l) => l.event), ['log.file_unavailable', 'journal.before', 'log.reopen_failed', 'log.file_available']);
  assert.equal(said[2]?.file, file);
  assert.match(String(said[2]?.msg), /^cannot open CORRAL_LOG_FILE .*: a file, not a directory, stands at .*\/logs, where the log's directory should be .*; this keeper's lines keep going to its stdout \(relayed by the master\) until a reopen opens it \(fix it, then USR1 again\)$/);
  assert.match(String(said[3]?.msg), /^CORRAL_LOG_FILE .*corral\.log could be opened: this keeper's lines go to it from now on; from \S+ until now they went to its stdout/);
  const inFile = readFileSync(file, 'utf8').trim().split('\n');
  assert.ok(inFile.every((l) => l.startsWith('{')), 'no priority prefix in the file');
  const written = inFile.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(written.map((l) => l.event), ['log.file_available', 'journal.after', 'sheets.after', 'access']);
  assert.equal(written[0]?.unavailable_since, said[3]?.unavailable_since);
  assert.equal(written[2]?.component, 'sheets', "a child logger made before the move writes to the file too");
});

test('a CORRAL_LOG_FILE that can never be a log file (/dev/stdout) still fails, as at the master start', () => {
  assert.throws(() => createChildLogger({ CORRAL_LOG_FILE: '/dev/stdout', CORRAL_LOG_LEVEL: 'info' }, { role: 'worker', worker: 1, generation: 1 }), { code: 'CORRAL_ERR_LOG_FILE' });
});
