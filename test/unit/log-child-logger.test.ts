// A worker or keeper forked while CORRAL_LOG_FILE cannot be opened (a rotation gone wrong, which
// the master outlives with log.reopen_failed) logs to its stdout, relayed by the master, and boots;
// it threw CORRAL_ERR_LOG_FILE, its boot failed with exit 78 as did every replacement's, and once no
// worker was left the master gave up (boot.exhausted).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

test('a CORRAL_LOG_FILE that can never be a log file (/dev/stdout) still fails, as at the master start', () => {
  assert.throws(() => createChildLogger({ CORRAL_LOG_FILE: '/dev/stdout', CORRAL_LOG_LEVEL: 'info' }, { role: 'worker', worker: 1, generation: 1 }), { code: 'CORRAL_ERR_LOG_FILE' });
});
