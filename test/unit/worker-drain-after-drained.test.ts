// A QUIT that reaches a worker whose drain has already ended (it is running its close hooks, or
// waiting for the master's release) has no connection left to close: it must not say
// worker.drain_forced ("fast stop, closing remaining connections", a warning) with 0 open.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createWorkerServer } from '../../src/worker/server.js';
import { captureLogger } from '../fixtures/capture-logger.js';

it('a shorter drain after the drain ended forces nothing and says nothing', async () => {
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0' } });
  const log = await captureLogger('worker');
  try {
    const worker = createWorkerServer((_req, res) => res.end('ok'), { settings, logger: log.logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
    await worker.listen();
    await worker.drain(30_000, true);
    // The master's drain for a QUIT, read while the worker's close hooks run.
    await worker.drain(0, true);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(log.lines().filter((l) => l.event === 'worker.drain_forced'), []);
  } finally {
    log.close();
  }
});
