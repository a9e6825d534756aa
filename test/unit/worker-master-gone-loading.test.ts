// A worker whose master dies while it is still loading its own modules (entry.ts's import of
// main.js) exits as a running worker does when its master goes: EXIT.MASTER_GONE, saying so in
// its log file (worker.master_gone). node:cluster's own 'disconnect' listener, in place before any
// of corral's code runs, exited such a worker with code 0 and no line: an orphan that said nothing.

import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { identityEnv } from '../../src/config/identity.js';
import { EXIT } from '../../src/errors.js';

const WORKER_ENTRY = fileURLToPath(new URL('../../src/worker/entry.js', import.meta.url));
const HOLD = fileURLToPath(new URL('../../../test/fixtures/hold-load-until-disconnect.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'corral-worker-gone-loading-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a worker whose master is gone while it loads its modules exits MASTER_GONE and says so in its log file, not 0 in silence', async () => {
  const logFile = join(dir, 'worker.log');
  cluster.setupPrimary({ exec: WORKER_ENTRY, execArgv: ['--import', HOLD], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], silent: false });
  const worker = cluster.fork({
    CORRAL_DATA_DIR: join(dir, 'data'),
    CORRAL_LOG_FILE: logFile,
    CORRAL_LOG_LEVEL: 'info',
    CORRAL_TEST_HOLD_MODULE: '/dist/src/worker/main.js',
    ...identityEnv({ role: 'worker', workerId: 1, generation: 1 }),
  });
  const exited = new Promise<number | null>((resolve) => worker.process.once('exit', (code) => resolve(code)));
  // The loading of main.js has begun and is held: as the master's death does, the channel closes
  // (not through node:cluster's disconnect(), which tells the worker it was asked for).
  let held = false;
  worker.once('message', (m) => {
    held = m === 'held';
    if (held) worker.process.disconnect();
  });
  const bound = setTimeout(() => worker.process.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(bound);
  const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  const events = text.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { event?: unknown }).event);
  assert.ok(held, `the loading of main.js was held when the channel closed (exit code ${code})`);
  assert.equal(code, EXIT.MASTER_GONE, "exited as for a master gone, neither 0 (node:cluster's own exit) nor killed at the bound");
  assert.ok(events.includes('worker.master_gone'), `worker.master_gone in the log file (got ${JSON.stringify(events)})`);
  assert.ok(!events.includes('worker.ready') && !events.includes('app.loaded'), `it did not boot on (got ${JSON.stringify(events)})`);
});
