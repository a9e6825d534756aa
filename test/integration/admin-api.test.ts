// The admin API on the real master: token refusals, health, stats that match the log, metrics,
// and reload / worker-count changes recorded as intents.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

const TOKEN = 'integration-admin-token-1234';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('admin API on the real master', () => {
  let c: CorralProcess;
  before(async () => {
    c = await startCorral({ workers: 2, env: { CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' } });
  });
  after(() => c?.stop());

  it('refuses a missing or wrong token on every route but health', async () => {
    const routes: [string, string][] = [
      ['GET', '/api/admin/capacity'],
      ['GET', '/api/admin/stats'],
      ['GET', '/api/admin/history'],
      ['GET', '/metrics'],
      ['POST', '/api/admin/reload'],
      ['POST', '/api/admin/workers'],
    ];
    for (const [method, path] of routes) {
      const variants: Record<string, string>[] = [{}, { authorization: 'Bearer not-the-token' }, { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` }];
      for (const headers of variants) {
        const r = await http(`${c.adminUrl}${path}`, { method, headers });
        assert.equal(r.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
      }
    }
    const h = await http(`${c.adminUrl}/api/admin/health`);
    assert.equal(h.status, 200);
    assert.deepEqual(h.json(), { status: 'ok', workers_ready: 2, workers_expected: 2 });
    assert.equal(c.events('reload.start').length, 0, 'no refused request did anything');
  });

  it('reports the workers the log announced, and Prometheus metrics', async () => {
    const readyPids = c.events('worker.ready').map((l) => Number(l.worker_pid)).sort();
    const stats = (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<{
      master: { pid: number };
      workers: { pid: number; state: string; rss_bytes: number | null; generation: number }[];
      capacity: { max_connections: number };
    }>();
    assert.equal(stats.master.pid, c.pid);
    assert.deepEqual(stats.workers.map((w) => w.pid).sort(), readyPids);
    assert.ok(stats.workers.every((w) => w.state === 'ready' && w.generation === 1));
    assert.equal(stats.capacity.max_connections, 2 * 1000);
    await waitFor(async () => {
      const s = (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<{ workers: { rss_bytes: number | null }[] }>();
      return s.workers.every((w) => (w.rss_bytes ?? 0) > 10 * 1048576);
    }, 5000, 'heartbeat figures');
    for (let i = 0; i < 5; i++) assert.equal((await http(`${c.url}/api/players`)).status, 200);
    const text = await waitFor(async () => {
      const m = (await http(`${c.adminUrl}/metrics`, { headers: auth })).text;
      const total = /^corral_requests_total (\d+)$/m.exec(m);
      return total && Number(total[1]) >= 5 ? m : undefined;
    }, 5000, 'requests counted in /metrics');
    assert.match(text, /^corral_workers\{state="ready"\} 2$/m);
    assert.match(text, /^corral_connections_max 2000$/m);
  });

  it('adds a worker and reloads through the API', async () => {
    const add = await http(`${c.adminUrl}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"delta":1}' });
    assert.equal(add.status, 202);
    await waitFor(async () => (await http(`${c.adminUrl}/api/admin/health`)).json<{ workers_ready: number }>().workers_ready === 3, 20_000, '3 ready workers');
    const reload = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: auth });
    assert.equal(reload.status, 202);
    await c.waitForLog((l) => l.event === 'reload.done', 30_000, 'reload.done');
    const stats = (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<{ master: { generation: number }; workers: { generation: number; state: string }[] }>();
    assert.equal(stats.master.generation, 2);
    let last = '';
    await waitFor(async () => {
      // A reload re-reads the settings, so the count goes back to CORRAL_WORKERS (as with gunicorn's HUP).
      const s = (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<{ workers_expected: number; workers: { generation: number }[] }>();
      last = JSON.stringify(s.workers);
      return s.workers.length === s.workers_expected && s.workers.every((w) => w.generation === 2);
    }, 20_000, 'only generation-2 workers').catch((err: Error) => Promise.reject(new Error(`${err.message}; last: ${last}`)));
  });
});
