import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const dir = mkdtempSync(join(tmpdir(), 'corral-log-exit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const LOGGER_MODULE = fileURLToPath(new URL('../../src/log/logger.js', import.meta.url));

/**
 * A process that logs one line to a new file and exits 3 in its first turn, as a worker whose app
 * fails to import does; `wait` says whether it awaits opened() first. Its uncaughtException
 * handler exits 9 with the message, as the worker's reports it to the master.
 */
function exitRightAfterLogging(name: string, wait: boolean): { status: number | null; stderr: string; file: string } {
  const file = join(dir, name, 'corral.log');
  const script = `import { createLogger } from ${JSON.stringify(LOGGER_MODULE)};
const log = createLogger({ CORRAL_LOG_FILE: ${JSON.stringify(file)}, CORRAL_LOG_LEVEL: 'info' }, { role: 'worker', worker: 1, generation: 1 });
process.on('uncaughtException', (err) => { process.stderr.write('uncaught: ' + err.message); process.exit(9); });
log.logger.error({ event: 'app.load_failed' }, 'missing dependency');
${wait ? 'await log.opened(5000);' : ''}
log.flush();
process.exit(3);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stderr: r.stderr, file };
}

test('an exit right after logging to a file loses the line unless it awaits opened(), and never throws in pino\'s exit hook', () => {
  // The failure the worker's boot path had (CI: "no worker could boot after 3 attempts: sonic boom
  // is not ready yet" in place of the app's error): pino opens the file asynchronously, and its
  // exit hook flushed the unopened destination, throwing from inside process.exit().
  const hasty = exitRightAfterLogging('hasty', false);
  assert.equal(hasty.status, 3, hasty.stderr);
  assert.equal(hasty.stderr, '');
  assert.equal(readFileSync(hasty.file, 'utf8'), '', 'the line is lost without the wait');

  const patient = exitRightAfterLogging('patient', true);
  assert.equal(patient.status, 3, patient.stderr);
  assert.equal(patient.stderr, '');
  const lines = readFileSync(patient.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => [l.event, l.msg]), [['app.load_failed', 'missing dependency']]);
});

test('opened() resolves at once when the lines go to stdout', async () => {
  const { createLogger } = await import('../../src/log/logger.js');
  const log = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'info' }, { role: 'cli' });
  const started = performance.now();
  await log.opened(10_000);
  assert.ok(performance.now() - started < 1000, 'stdout needs no opening');
});
