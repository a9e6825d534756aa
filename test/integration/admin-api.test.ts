// The admin API on the real master: token refusals, health, stats that match the log, metrics,
// and reload / worker-count changes recorded as intents.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

/** A health answer without its capacity, whose figures are the live host's: a status and a share, checked here. */
function healthBody(body: unknown): Record<string, unknown> {
  const { capacity, ...rest } = body as Record<string, unknown> & { capacity?: { status?: unknown; percent_used?: unknown } };
  assert.equal(typeof capacity?.status, 'string', 'health carries the capacity status');
  assert.equal(typeof capacity?.percent_used, 'number', 'health carries the capacity share');
  return rest;
}

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
    assert.deepEqual(healthBody(h.json()), { status: 'ok', workers_ready: 2, workers_expected: 2 });
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
    // The generation the reload starts, not the one it replaces.
    // The same settings as at start: none waits for a restart.
    assert.deepEqual(reload.json<{ success: boolean; reload: string; generation: number; restart_needed: unknown[]; env_overrides: unknown[] }>(), {
      success: true,
      reload: 'started',
      generation: 2,
      restart_needed: [],
      env_overrides: [],
      message: 'reload started: generation 2 is booting; the old workers drain as its workers become ready',
    });
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

/** Sends raw HTTP/1.1 requests in one write, so the master reads them in one turn; returns each answer's JSON body. */
async function pipelined(baseUrl: string, requests: string[]): Promise<Record<string, unknown>[]> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  let raw = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (raw += d));
  socket.write(requests.join(''));
  await once(socket, 'end');
  socket.destroy();
  return raw
    .split(/(?=HTTP\/1\.1 )/)
    .filter((r) => r.startsWith('HTTP/1.1 '))
    .map((r) => JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>);
}

describe('reloads through the admin API with a settings file the test edits', () => {
  let c: CorralProcess;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-admin-queue-'));
    writeFileSync(join(dir, 'corral.env'), 'CORRAL_WORKERS=2\n');
    c = await startCorral({ workers: null, env: { CORRAL_ENV_FILE: join(dir, 'corral.env'), CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' } });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a worker added while a reload to a new CORRAL_WORKERS waits for the tick is answered on top of that reload, and the master gets there', async () => {
    writeFileSync(join(dir, 'corral.env'), 'CORRAL_WORKERS=3\n');
    const host = new URL(c.adminUrl).host;
    const body = '{"delta":1}';
    // Both read in one turn: the reload is recorded and still queued when the second is answered.
    const [reload, add] = await pipelined(c.adminUrl, [
      `POST /api/admin/reload HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 0\r\n\r\n`,
      `POST /api/admin/workers HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    ]);
    assert.equal(reload?.success, true);
    // The reload re-reads CORRAL_WORKERS=3, then the added worker counts on top: 4, not 2 + 1.
    assert.deepEqual([add?.workers_expected_before, add?.workers_expected], [3, 4]);
    await c.waitForLog((l) => l.event === 'reload.done' && l.generation === 2, 30_000, 'reload.done');
    await waitFor(async () => {
      const s = (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<{ workers_expected: number; workers: { generation: number; state: string }[] }>();
      return s.workers_expected === 4 && s.workers.length === 4 && s.workers.every((w) => w.generation === 2 && w.state === 'ready');
    }, 20_000, 'four ready workers of generation 2');
    assert.match((await http(`${c.adminUrl}/metrics`, { headers: auth })).text, /^corral_workers_expected 4$/m);
    assert.deepEqual(healthBody((await http(`${c.adminUrl}/api/admin/health`)).json()), { status: 'ok', workers_ready: 4, workers_expected: 4 });
  });

  it('a reload of invalid settings is answered 409 with why, and one asked for with a stats request in the same turn is read by it', async () => {
    writeFileSync(join(dir, 'corral.env'), 'CORRAL_WORKERS=abc\n');
    const refused = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: auth });
    assert.equal(refused.status, 409, refused.text);
    const r = refused.json<Record<string, unknown>>();
    assert.deepEqual([r.success, r.error, r.reload, r.generation, r.code], [false, 'reload_refused', 'refused', 2, 'CORRAL_ERR_CONFIG_INVALID']);
    assert.match(String(r.message), /old workers keep serving generation 2; fix the settings and reload again: invalid settings:\n {2}CORRAL_WORKERS="abc"/);
    // The master's log file is written asynchronously: the answer can arrive before the line.
    await c.waitForLog((l) => l.event === 'reload.failed', 10_000, 'reload.failed');
    assert.equal(c.events('reload.failed').length, 1);
    assert.deepEqual(healthBody((await http(`${c.adminUrl}/api/admin/health`)).json()), { status: 'ok', workers_ready: 4, workers_expected: 4 });

    writeFileSync(join(dir, 'corral.env'), 'CORRAL_WORKERS=2\n');
    const host = new URL(c.adminUrl).host;
    const [reload, stats] = await pipelined(c.adminUrl, [
      `POST /api/admin/reload HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 0\r\n\r\n`,
      `GET /api/admin/stats HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`,
    ]);
    assert.deepEqual([reload?.reload, reload?.generation], ['started', 3]);
    const s = stats as { master: { generation: number }; workers_expected: number; workers: { generation: number }[] };
    assert.deepEqual([s.master.generation, s.workers_expected], [3, 2]);
    assert.equal(s.workers.filter((w) => w.generation === 3).length, 2, 'the new generation\'s workers, forked before either answer');
    await c.waitForLog((l) => l.event === 'reload.done' && l.generation === 3, 30_000, 'reload.done');
  });
});

describe('a worker whose loop is blocked, on the real master', () => {
  it('is heartbeat_late in the stats and its heartbeat age grows in /metrics before CORRAL_TIMEOUT kills it', async () => {
    const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_TIMEOUT: '8', CORRAL_STUCK_STACKS: 'false', CORRAL_ACCEPT: 'round-robin' } });
    try {
      type Stats = { heartbeat_late_after_s: number; workers: { id: number; pid: number; heartbeat_late: boolean; last_beat_s_ago: number | null }[] };
      const stats = async () => (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<Stats>();
      const before = await stats();
      assert.deepEqual(before.workers.map((w) => w.heartbeat_late), [false, false]);
      assert.equal(before.heartbeat_late_after_s, 3);
      const spin = http(`${c.url}/spin`, { timeoutMs: 30_000 }).catch((err: Error) => err);
      let late: Stats['workers'][number] | undefined;
      await waitFor(async () => {
        late = (await stats()).workers.find((w) => w.heartbeat_late);
        return late !== undefined;
      }, 8000, 'a worker marked heartbeat_late');
      assert.ok((late?.last_beat_s_ago ?? 0) >= 3, `late after ${late?.last_beat_s_ago} s`);
      const metrics = (await http(`${c.adminUrl}/metrics`, { headers: auth })).text;
      const ages = [...metrics.matchAll(/^corral_process_heartbeat_age_seconds\{worker="(\d+)",role="worker"\} ([0-9.e+-]+)$/gm)].map((m) => Number(m[2]));
      assert.equal(ages.length, 2, metrics);
      assert.ok(Math.max(...ages) > 3 && Math.min(...ages) < 2, `ages ${ages.join(', ')}`);
      const health = await http(`${c.adminUrl}/api/admin/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(healthBody(health.json()), { status: 'degraded', workers_ready: 1, workers_expected: 2, workers_not_beating: 1 });
      assert.equal(c.events('worker.timeout').length, 0, 'shown before the master kills it');
      // The master kills it at CORRAL_TIMEOUT, which ends the spinning request.
      assert.ok((await spin) instanceof Error);
      await c.waitForLog((l) => l.event === 'worker.timeout', 10_000, 'worker.timeout');
    } finally {
      await c.stop();
    }
  });
});

describe('health while the keeper is stopped, on the real master', () => {
  it('says degraded (200) with keeper not_beating while the keeper process is stopped, and ok once it runs again', async () => {
    const c = await startCorral({ workers: 1, env: { CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_TIMEOUT: '30' } });
    let keeperPid: number | undefined;
    try {
      assert.deepEqual(healthBody((await http(`${c.adminUrl}/api/admin/health`)).json()), { status: 'ok', workers_ready: 1, workers_expected: 1 });
      keeperPid = (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<{ keeper: { pid: number } | null }>().keeper?.pid;
      assert.ok(keeperPid, 'the stats name the keeper');
      process.kill(keeperPid, 'SIGSTOP');
      const degraded = await waitFor(async () => {
        const h = await http(`${c.adminUrl}/api/admin/health`);
        return h.json<{ status: string }>().status === 'degraded' ? h : undefined;
      }, 10_000, 'health degraded');
      assert.equal(degraded.status, 200);
      assert.deepEqual(healthBody(degraded.json()), { status: 'degraded', workers_ready: 1, workers_expected: 1, keeper: 'not_beating' });
      assert.match((await http(`${c.adminUrl}/metrics`, { headers: auth })).text, /^corral_keeper_ready 0$/m);
      process.kill(keeperPid, 'SIGCONT');
      keeperPid = undefined;
      await waitFor(async () => (await http(`${c.adminUrl}/api/admin/health`)).json<{ status: string }>().status === 'ok', 10_000, 'health ok again');
    } finally {
      if (keeperPid) process.kill(keeperPid, 'SIGCONT');
      await c.stop();
    }
  });
});
