import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCorral } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

test('a CommonJS module exporting a request listener (an Express app) runs unchanged', async () => {
  const c = await startCorral({ app: 'plain-listener.cjs', workers: 1 });
  try {
    const r = await http(c.url);
    assert.equal(r.status, 200);
    assert.equal(r.json().style, 'commonjs listener');
  } finally {
    await c.stop();
  }
});

test('an async createApp(ctx) receives the settings and a logger', async () => {
  const c = await startCorral({ app: 'async-factory.cjs', workers: 2 });
  try {
    const r = await http(c.url);
    assert.deepEqual({ ...r.json<Record<string, unknown>>(), worker: 0 }, { style: 'async factory', workers: 2, worker: 0 });
    const created = c.events('fixture.created');
    assert.equal(created.length, 2);
    assert.ok(created.every((l) => l.role === 'worker' && typeof l.worker === 'number'));
  } finally {
    await c.stop();
  }
});

test('a module without createApp or a default listener is refused with a message saying what to export; no restart gets past it: exit 78', async () => {
  const c = await startCorral({ app: 'not-an-app.mjs', workers: 1, waitReady: false, env: { CORRAL_BOOT_ATTEMPTS: '1' } });
  try {
    assert.equal((await c.exited).code, 78);
    const failed = c.events('worker.boot_failed')[0];
    assert.match(JSON.stringify(failed?.boot_error), /must export createApp\(ctx\) returning a request listener/);
    assert.equal((failed?.boot_error as { code?: string })?.code, 'CORRAL_ERR_APP_LOAD');
  } finally {
    await c.stop();
  }
});

test('a worker over CORRAL_MAX_WORKER_MEMORY_MB is recycled gracefully, replacement first', async () => {
  // Well above what a fresh worker weighs; one worker then grows past it.
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_MAX_WORKER_MEMORY_MB: '160' } });
  try {
    const grew = (await http(`${c.url}/grow?mb=200`)).json<{ pid: number }>();
    const line = await c.waitForLog((l) => l.event === 'worker.memory_limit', 10000, 'worker.memory_limit');
    assert.equal(line.worker_pid, grew.pid);
    assert.ok(Number(line.rss_mb) > 160);
    const exit = await c.waitForLog((l) => l.event === 'worker.exit' && l.worker_pid === grew.pid, 15000, 'the recycled worker exits');
    assert.equal(exit.reason, 'memory');
    assert.equal(exit.exit_code, 0);
    assert.equal((await http(c.url)).status, 200);
    assert.equal(c.events('worker.memory_limit_below_start').length, 0);
  } finally {
    await c.stop();
  }
});

test('a CORRAL_MAX_WORKER_MEMORY_MB below what a fresh worker weighs is said once, and the workers are not recycled for it', async () => {
  const TOKEN = 'memory-limit-test-token-0123456789abcdef';
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_MAX_WORKER_MEMORY_MB: '1', CORRAL_ADMIN_TOKEN: TOKEN } });
  try {
    const said = await c.waitForLog((l) => l.event === 'worker.memory_limit_below_start', 10000, 'worker.memory_limit_below_start');
    assert.equal(said.level, 'error');
    assert.equal(said.limit_mb, 1);
    assert.match(String(said.msg), /CORRAL_MAX_WORKER_MEMORY_MB=1 is below what a worker weighs once ready, before any request .* set it well above \d+ \(e\.g\. \d+\) and reload/);
    // Both workers beat several times over the limit: each of those beats recycled one before.
    const auth = { authorization: `Bearer ${TOKEN}` };
    type Stats = { workers: { pid: number; uptime_s: number; last_beat_s_ago: number }[] };
    const first = (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<Stats>();
    const pids = first.workers.map((w) => w.pid).sort();
    for (;;) {
      const s = (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<Stats>();
      assert.deepEqual(s.workers.map((w) => w.pid).sort(), pids, 'the same two workers, none replaced');
      if (s.workers.every((w) => w.uptime_s >= 4)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(c.events('worker.memory_limit').length, 0);
    assert.equal(c.events('worker.memory_limit_below_start').length, 1, 'once for the limit, not per worker');
    assert.equal(c.events('worker.exit').length, 0);
  } finally {
    await c.stop();
  }
});

test('the worker answers GET and HEAD /api/admin/health itself, whatever the app routes', async () => {
  // basic.mjs answers 404 to every path it does not know, /api/admin/health included.
  const c = await startCorral({ app: 'basic.mjs', workers: 1 });
  try {
    const get = await http(`${c.url}/api/admin/health`);
    assert.equal(get.status, 200);
    assert.equal(get.json().status, 'ok');
    // Load balancers often probe with HEAD: same status and headers, no body.
    const head = await http(`${c.url}/api/admin/health`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], get.headers['content-length']);
    assert.equal(head.text, '');
  } finally {
    await c.stop();
  }
});
