// GET /metrics loads its module (and prom-client) at the first scrape, from the disk the master
// runs from, long after the master started: an upgrade in place (npm ci deletes node_modules, a
// build rewrites dist/) may have those files missing or incomplete just then. A scrape that came
// at that moment must not break /metrics for the rest of the master's life.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';

/** dist/ of this build: this file is dist/test/unit/admin-metrics-late-load.test.js once compiled. */
const TOKEN = 'metrics-late-load-token-0123456789';
const DIST = fileURLToPath(new URL('../../', import.meta.url));

test('a first scrape while the metrics module cannot be loaded fails, and the next one, once the files are whole again, succeeds', async () => {
  // A copy of the build the master runs from, whose files this test may take away and put back.
  const root = mkdtempSync(join(tmpdir(), 'corral-metrics-load-'));
  try {
    cpSync(join(DIST, 'src'), join(root, 'dist', 'src'), { recursive: true });
    cpSync(join(DIST, 'test', 'fixtures'), join(root, 'dist', 'test', 'fixtures'), { recursive: true });
    writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
    symlinkSync(realpathSync(join(DIST, '..', 'node_modules')), join(root, 'node_modules'));
    const at = (path: string) => pathToFileURL(join(root, 'dist', path)).href;
    const { startAdminServer } = (await import(at('src/master/admin/server.js'))) as typeof import('../../src/master/admin/server.js');
    const { startMonitoring } = (await import(at('src/master/admin/monitoring.js'))) as typeof import('../../src/master/admin/monitoring.js');
    const { createLogger } = (await import(at('src/log/logger.js'))) as typeof import('../../src/log/logger.js');
    const { child, createFakeView, testSettings } = (await import(at('test/fixtures/fake-admin-view.js'))) as typeof import('../fixtures/fake-admin-view.js');
    const logger = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger;
    const view = createFakeView(testSettings({ CORRAL_WORKERS: '1', CORRAL_ADMIN_TOKEN: TOKEN }), [child(1, 1001, 'ready', {})]);
    const monitoring = startMonitoring(view, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring });
    try {
      const scrape = async () => (await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status;
      const metrics = join(root, 'dist', 'src', 'master', 'admin', 'metrics.js');
      // Mid-upgrade: the file is not there (a build that empties dist/ first, npm ci's node_modules).
      renameSync(metrics, `${metrics}.away`);
      assert.equal(await scrape(), 500, 'the module cannot be loaded now');
      renameSync(`${metrics}.away`, metrics);
      assert.equal(await scrape(), 200, 'the files are whole again: the next scrape loads them');
    } finally {
      await server.close();
      monitoring.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
