import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS } from '../fixtures/fake-sheets.js';
import { startApp, type AppHarness } from '../fixtures/app-harness.js';

interface ErrorBody {
  error: string;
  message: string;
}

// The seeds' Flask app served /api/admin/capacity, /api/admin/stats and /admin on its own port:
// asked for on corral's app port, the 404 says where they are rather than that they do not exist.
describe('admin paths asked for on the app port', () => {
  let app: AppHarness;
  before(async () => {
    app = await startApp({ CORRAL_RATE_LIMIT: '0' }, createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS }));
  });
  after(() => app.close());

  it('answers 404 naming the admin listener for the admin API, /metrics and the dashboard', async () => {
    for (const path of ['/api/admin/capacity', '/api/admin/stats/', '/api/admin', '/admin', '/admin/dashboard.js', '/metrics', '/api/admin/capacity?x=1']) {
      const res = await fetch(`${app.url}${path}`);
      const body = (await res.json()) as ErrorBody;
      assert.equal(res.status, 404, path);
      assert.equal(body.error, 'not_found', path);
      assert.match(body.message, /admin listener \(CORRAL_ADMIN_BIND/, path);
      assert.match(body.message, new RegExp(`^no route for ${path.split('?')[0]!.replace(/[/?]/g, '\\$&')} on the app's port`), path);
    }
  });

  it('leaves other 404s and the workers\' health as they were', async () => {
    for (const path of ['/', '/administrator', '/api/players/x', '/metricsx']) {
      const body = (await (await fetch(`${app.url}${path}`)).json()) as ErrorBody;
      assert.equal(body.message, `no route for ${path}`, path);
    }
    const health = await fetch(`${app.url}/api/admin/health`);
    assert.equal(health.status, 200);
    // A method the path does not take is still a 405, not a 404 with the hint.
    assert.equal((await fetch(`${app.url}/api/admin/health`, { method: 'DELETE' })).status, 405);
  });
});
