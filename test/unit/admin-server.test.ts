import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request as httpRequest } from 'node:http';
import { ADMIN_MAX_CONNECTIONS, startAdminServer, type AdminServer } from '../../src/master/admin/server.js';
import type { Socket } from 'node:net';
import { startMonitoring, type Monitoring } from '../../src/master/admin/monitoring.js';
import type { HostMonitor, HostSample } from '../../src/master/host-monitor.js';
import { createLogger } from '../../src/log/logger.js';
import { child, createFakeView, testSettings, type FakeView } from '../fixtures/fake-admin-view.js';
import { uploadThenRead } from '../helpers/upload.js';
import { noneServed } from '../../src/master/child-exits.js';

const TOKEN = 'admin-token-0123456789abcdef';
const logger = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger;

describe('admin server with a token', () => {
  let view: FakeView;
  let server: AdminServer;
  let monitoring: Monitoring;
  let base: string;
  const auth = { authorization: `Bearer ${TOKEN}` };
  before(async () => {
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2', CORRAL_WORKER_CONNECTIONS: '10' });
    view = createFakeView(settings, [
      child(1, 1001, 'ready', { activeConnections: 6, requestsServed: 100, latencyP99Ms: 4 }),
      // Object.assign keeps the child's beating getter (a spread froze its last beat: past three
      // beats' time on a loaded box it read not_beating in the tests after).
      Object.assign(child(2, 1002, 'ready', { activeConnections: 3, requestsServed: 50, latencyP99Ms: 9 }), { retire: 'uncaught' as const }),
      child(0, 1000, 'ready', { extra: { cacheHits: 90, cacheMisses: 10, upstreamReads: 12, maxStaleSeconds: 3, journalBacklogRows: 2 } }, 'keeper'),
    ]);
    monitoring = startMonitoring(view, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
    await server.close(); // idempotent
    monitoring.close();
  });

  it('answers health without a token', async () => {
    const res = await fetch(`${base}/api/admin/health`);
    assert.equal(res.status, 200);
    // 9 of 20 connections busy. The seeds' uptime check reads capacity.status and percent_used in
    // the health answer, as the workers' health carries them.
    assert.deepEqual(await res.json(), { status: 'ok', workers_ready: 2, workers_expected: 2, capacity: { status: 'LOW', percent_used: 45 } });
  });

  it('says where reloads stand without a token, outcomes and codes only; the stats add the message', async () => {
    const empty = await fetch(`${base}/api/admin/reload`);
    assert.equal(empty.status, 200);
    assert.deepEqual(await empty.json(), { success: true, master_pid: process.pid, in_progress_generation: null, in_progress_bound_ms: null, queued: false, last: null, stopping: false });
    const message = 'last reload rolled back (CORRAL_ERR_APP_LOAD), generation 1 serves: the new generation cannot boot (Cannot find module /srv/app.mjs)';
    view.reloadStanding = { inProgress: 3, boundMs: 41_999.2, queued: true, last: { seq: 2, outcome: 'rolled_back', generation: 1, code: 'CORRAL_ERR_APP_LOAD', message, at: Date.parse('2026-11-28T01:00:00Z'), restartNeeded: [] }, ended: { completed: 1, refused: 0, rolled_back: 1, incomplete: 0 } };
    try {
      const last = { seq: 2, outcome: 'rolled_back', generation: 1, code: 'CORRAL_ERR_APP_LOAD', restart_needed: [], at: '2026-11-28T01:00:00.000Z' };
      assert.deepEqual(await (await fetch(`${base}/api/admin/reload`)).json(), { success: true, master_pid: process.pid, in_progress_generation: 3, in_progress_bound_ms: 42_000, queued: true, last, stopping: false });
      const stats = (await (await fetch(`${base}/api/admin/stats`, { headers: auth })).json()) as { reload: unknown };
      assert.deepEqual(stats.reload, { in_progress_generation: 3, in_progress_bound_ms: 42_000, queued: true, last: { ...last, message } });
    } finally {
      view.reloadStanding = { inProgress: undefined, boundMs: undefined, queued: false, last: undefined, ended: { completed: 0, refused: 0, rolled_back: 0, incomplete: 0 } };
    }
  });

  it('refuses every other route without the right token', async () => {
    for (const [method, path] of [
      ['GET', '/api/admin/capacity'],
      ['GET', '/api/admin/stats'],
      ['GET', '/api/admin/history'],
      ['GET', '/metrics'],
      ['POST', '/api/admin/reload'],
      ['POST', '/api/admin/workers'],
    ] as const) {
      const variants: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }];
      for (const headers of variants) {
        const res = await fetch(`${base}${path}`, { method, headers });
        assert.equal(res.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
        assert.equal(((await res.json()) as { error: string }).error, 'unauthorized');
      }
    }
    assert.equal(view.reloads, 0);
    assert.deepEqual(view.deltas, []);
  });

  it('returns capacity in the seeds\' shape', async () => {
    const res = await fetch(`${base}/api/admin/capacity`, { headers: auth });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      success: true,
      capacity: { current_connections: 9, idle_connections: 0, peak_busy_connections: 9, refused_last_interval: 0, idle_closed_last_interval: 0, max_connections: 20, percent_used: 45, available_slots: 11, status: 'LOW', can_accept_new: true },
    });
  });

  it('returns stats with master, worker, host and Sheets figures', async () => {
    await monitoring.host.sample();
    const res = await fetch(`${base}/api/admin/stats`, { headers: auth });
    const s = (await res.json()) as Record<string, any>;
    assert.equal(s.success, true);
    assert.equal(s.master.pid, process.pid);
    assert.equal(s.workers.length, 2);
    assert.deepEqual(
      s.workers.map((w: any) => [w.pid, w.state, w.active_connections, w.requests_served, w.rss_bytes]),
      [[1001, 'ready', 6, 100, 50 * 1048576], [1002, 'ready', 3, 50, 50 * 1048576]],
    );
    assert.equal(s.workers[0].event_loop_lag_ms, 1.5);
    assert.deepEqual(s.workers.map((w: any) => w.retiring), [null, 'uncaught'], 'a worker marked for replacement says why: it serves on until its successor is ready');
    assert.ok(s.workers[0].uptime_s >= 59);
    assert.equal(s.totals.active_connections, 9);
    assert.equal(s.sheets.cache_hit_ratio, 0.9);
    assert.equal(s.sheets.journal_backlog, 2);
    assert.equal(s.sheets.max_stale_seconds, 3);
    assert.equal(s.keeper.pid, 1000);
    assert.ok(s.host.cpu_percent >= 0 && s.host.cpu_percent <= 100);
    assert.ok(s.host.ram_percent > 0 && s.host.ram_percent <= 100);
    assert.equal(s.capacity.status, 'LOW');
  });

  it('serves Prometheus text aggregated across workers', async () => {
    const res = await fetch(`${base}/metrics`, { headers: auth });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    // As every other answer here: a browser shown the scrape does not guess another type for it.
    assert.deepEqual(['cache-control', 'x-content-type-options'].map((h) => res.headers.get(h)), ['no-store', 'nosniff']);
    const text = await res.text();
    assert.match(text, /^corral_requests_total 150$/m);
    assert.match(text, /^corral_connections_active 9$/m);
    assert.match(text, /^corral_connections_max 20$/m);
    assert.match(text, /^corral_capacity_status\{status="LOW"\} 1$/m);
    assert.match(text, /^corral_workers\{state="ready"\} 2$/m);
    assert.match(text, /^corral_worker_connections_active\{worker="1",role="worker"\} 6$/m);
    assert.match(text, /^corral_sheets_cache_hits_total 90$/m);
    assert.match(text, /^corral_sheets_journal_backlog_rows 2$/m);
    assert.match(text, /# TYPE corral_requests_total counter/);
    assert.match(text, /# TYPE corral_worker_requests_total counter/);
    assert.match(text, /^corral_worker_requests_total\{worker="1",role="worker"\} 100$/m);
    assert.match(text, /^corral_worker_requests_total\{worker="2",role="worker"\} 50$/m);
  });

  it('a target starting with // is a path, not a host: a redirect, 404 or 400, never a 500', async () => {
    const { request } = await import('node:http');
    const status = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${base}/`, { path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    for (const path of ['//', '//a:b', '//[x', '//api/admin/health']) assert.ok([302, 400, 404].includes(await status(path)), path);
  });

  it('keeps what exited workers served in the request counter, even one that came and went between two scrapes', async () => {
    const old = view.kids;
    // Worker 2 (50 served) was replaced by worker 3; another worker served 30 and exited in between.
    view.exited = { requests: 50 + 30, errors: 0, refused: 7, idleClosed: 4, sheets: noneServed().sheets };
    view.kids = [old[0]!, child(3, 1003, 'ready', { requestsServed: 5, connectionsRefused: 2, idleConnectionsClosed: 3, peakBusyConnections: 4, connectionsRefusedInInterval: 2, idleClosedInInterval: 1 }), old[2]!];
    const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    assert.match(text, /^corral_requests_total 185$/m);
    // Refusals of the connection cap (503 server full), counted apart, exited workers' too.
    assert.match(text, /^corral_connections_refused_total 9$/m);
    // Idle keep-alive connections closed to admit new ones at the cap, the same way.
    assert.match(text, /^corral_idle_connections_closed_total 7$/m);
    const stats = (await (await fetch(`${base}/api/admin/stats`, { headers: auth })).json()) as { totals: { idle_connections_closed: number }; workers: { idle_connections_closed: number | null }[] };
    assert.equal(stats.totals.idle_connections_closed, 7);
    assert.ok(stats.workers.some((w) => w.idle_connections_closed === 3));
    // Its last interval's figures, per worker, as the capacity counts them.
    const w3 = (stats.workers as unknown as Record<string, unknown>[]).find((w) => w.pid === 1003);
    assert.deepEqual([w3?.peak_busy_connections, w3?.refused_last_interval, w3?.idle_closed_last_interval], [4, 2, 1]);
    view.kids = old;
  });

  it('records reload and worker-count intents', async () => {
    const r = await fetch(`${base}/api/admin/reload`, { method: 'POST', headers: auth });
    assert.equal(r.status, 202);
    assert.equal(view.reloads, 1);
    // The generation the reload starts, not the one it replaces.
    assert.deepEqual(await r.json(), { success: true, reload: 'started', generation: 2, restart_needed: [], env_overrides: [], message: 'reload started: generation 2 is booting; the old workers drain as its workers become ready' });
    const w = await fetch(`${base}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"delta":1}' });
    assert.equal(w.status, 202);
    assert.equal(((await w.json()) as { workers_expected: number }).workers_expected, 3);
    const bad = await fetch(`${base}/api/admin/workers`, { method: 'POST', headers: auth, body: '{"delta":2}' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field: string }).field, 'delta');
    const junk = await fetch(`${base}/api/admin/workers`, { method: 'POST', headers: auth, body: '{nope' });
    assert.equal(junk.status, 400);
    assert.deepEqual(view.deltas, [1]);
    // The bounds of CORRAL_WORKERS hold for a change too: at 512 a +1 is refused, as a -1 at 1.
    const expected = view.expected;
    try {
      view.expected = 512;
      const most = await fetch(`${base}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"delta":1}' });
      assert.equal(most.status, 409);
      assert.deepEqual(await most.json(), { success: false, error: 'max_workers', message: 'corral runs at most 512 workers (the bound of CORRAL_WORKERS)' });
      view.expected = 1;
      const least = await fetch(`${base}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"delta":-1}' });
      assert.equal(least.status, 409);
      assert.equal(((await least.json()) as { error: string }).error, 'min_workers');
      assert.deepEqual(view.deltas, [1], 'neither was asked of the master');
    } finally {
      view.expected = expected;
    }
  });

  it('refuses a worker-count body with a repeated key (400 invalid_json) or a field it does not read (400 invalid_field), naming the key, and changes nothing', async () => {
    const deltasBefore = [...view.deltas];
    const expectedBefore = view.expected;
    const post = async (body: string) => {
      const res = await fetch(`${base}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
      return { status: res.status, json: (await res.json()) as { success: boolean; error: string; field?: string; message: string } };
    };
    // JSON.parse keeps the last: this removed a worker, where a proxy or a log reader sees +1.
    for (const body of ['{"delta":1,"delta":-1}', '{"delta":1,"d\\u0065lta":-1}']) {
      const r = await post(body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.error, 'invalid_json', body);
      assert.equal(r.json.field, 'delta', body);
      assert.match(r.json.message, /"delta" appears more than once/, body);
    }
    for (const [body, field] of [['{"delta":1,"extra":"x"}', 'extra'], ['{"detla":1}', 'detla'], ['{"__proto__":{},"delta":1}', '__proto__']] as const) {
      const r = await post(body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.error, 'invalid_field', body);
      assert.equal(r.json.field, field, body);
      assert.match(r.json.message, new RegExp(`unknown field "${field}"; send \\{"delta":1\\} or \\{"delta":-1\\}`), body);
    }
    for (const body of ['[1]', '1', '"delta"']) {
      const r = await post(body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.error, 'invalid_json', body);
      assert.match(r.json.message, /must be a JSON object/, body);
    }
    assert.deepEqual(view.deltas, deltasBefore);
    assert.equal(view.expected, expectedBefore);
  });

  it('refuses a worker-count body over 1 KiB with 413 body_too_large, whether its length is declared or it streams in', async () => {
    const deltasBefore = view.deltas.length;
    const declared = await fetch(`${base}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: `{"delta":1,"pad":"${'x'.repeat(2000)}"}` });
    assert.equal(declared.status, 413);
    const d = (await declared.json()) as { error: string; message: string };
    assert.equal(d.error, 'body_too_large');
    assert.match(d.message, /at most 1024 bytes/);

    // Chunked, never ended: the answer must come once the limit is passed, not when the upload ends.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('error', reject);
      req.write('{"delta":1,"pad":"');
      req.write('x'.repeat(1500));
    });
    assert.equal(streamed.status, 413, streamed.body);
    assert.equal((JSON.parse(streamed.body) as { error: string }).error, 'body_too_large');

    const junk = await fetch(`${base}/api/admin/workers`, { method: 'POST', headers: auth, body: '{nope' });
    assert.equal(junk.status, 400);
    const j = (await junk.json()) as { error: string; message: string };
    assert.equal(j.error, 'invalid_json');
    assert.match(j.message, /send \{"delta":1\} or \{"delta":-1\}/);
    assert.equal(view.deltas.length, deltasBefore);
  });

  it('answers a client still uploading a body it refuses (413 over 1 KiB, 401, 404) with JSON it can read, not a reset', async () => {
    const port = Number(new URL(base).port);
    const head = (path: string, token: boolean) => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${token ? `Authorization: Bearer ${TOKEN}\r\n` : ''}`;
    for (const [path, token, chunked, status, error] of [
      ['/api/admin/workers', true, true, 413, 'body_too_large'],
      ['/api/admin/workers', true, false, 413, 'body_too_large'],
      ['/api/admin/workers', false, true, 401, 'unauthorized'],
      ['/api/admin/nope', true, true, 404, 'not_found'],
    ] as const) {
      const what = `POST ${path} ${chunked ? 'chunked' : 'Content-Length'} → ${status}`;
      // Python's http.client sends the whole body before it reads the answer.
      const r = await uploadThenRead({ port, head: head(path, token), bodyBytes: chunked ? 8 << 20 : 1_000_000, chunked, timeoutMs: 15_000 });
      assert.equal(r.error, undefined, `${what}: the client saw ${String(r.error)} after reading ${JSON.stringify(r.answer.slice(0, 60))}`);
      assert.match(r.answer, new RegExp(`^HTTP/1\\.1 ${status} `), what);
      assert.equal((JSON.parse(r.answer.slice(r.answer.indexOf('\r\n\r\n') + 4)) as { error: string }).error, error, what);
    }
  });

  it(`holds at most ${ADMIN_MAX_CONNECTIONS} connections: one more is closed at once, and the API answers again once they go`, async () => {
    const { connect } = await import('node:net');
    // A listener of its own: the other tests' keep-alive connections would count against the cap.
    const own = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring });
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = connect(own.port, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      });
    const held: Socket[] = [];
    try {
      try {
        for (let i = 0; i < ADMIN_MAX_CONNECTIONS; i++) held.push(await open());
        // Idle sockets that never send a byte: the master accepts them in order, so this one is over the cap.
        const extra = await open();
        held.push(extra);
        const closed = await new Promise<boolean>((resolve) => {
          extra.once('close', () => resolve(true));
          extra.on('error', () => undefined);
          setTimeout(() => resolve(false), 3000).unref();
        });
        assert.equal(closed, true, 'the connection over the cap is closed by the server');
        assert.equal(held.slice(0, ADMIN_MAX_CONNECTIONS).filter((s) => s.destroyed).length, 0, 'those under the cap stay open');
      } finally {
        for (const s of held) s.destroy();
      }
      // Freed once the client closes them (the server sees each close in its own time).
      let res: Response | undefined;
      for (let i = 0; i < 100 && res === undefined; i++) {
        res = await fetch(`http://127.0.0.1:${own.port}/api/admin/health`).catch(() => undefined);
        if (res === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(res?.status, 200);
      await res?.body?.cancel();
    } finally {
      await own.close();
    }
  });

  it('answers from the settled state: an intent still waiting for the tick when the request arrives is handled before any figure is read', async () => {
    // A SIGTTIN recorded in the same turn: the cap follows the worker count it sets.
    view.pending.push(() => (view.expected = 3));
    try {
      const res = await fetch(`${base}/api/admin/capacity`, { headers: auth });
      assert.equal(((await res.json()) as { capacity: { max_connections: number } }).capacity.max_connections, 30);
      assert.deepEqual(view.pending, []);
    } finally {
      view.expected = 2;
    }
  });

  it('answers a reload queued behind one in progress with 202 and the generation it will boot, a refused one with 409 and why', async () => {
    const gen = view.gen;
    try {
      view.nextReload = 'queued';
      const q = await fetch(`${base}/api/admin/reload`, { method: 'POST', headers: auth });
      assert.equal(q.status, 202);
      assert.deepEqual(await q.json(), {
        success: true,
        reload: 'queued',
        generation: gen + 1,
        in_progress_generation: gen,
        message: `a reload to generation ${gen} is in progress; this one starts generation ${gen + 1} when it ends, with the settings as they are then`,
      });
      view.nextReload = 'refused';
      const r = await fetch(`${base}/api/admin/reload`, { method: 'POST', headers: auth });
      assert.equal(r.status, 409);
      const body = (await r.json()) as Record<string, unknown>;
      assert.deepEqual([body.success, body.error, body.reload, body.generation, body.code], [false, 'reload_refused', 'refused', gen, 'CORRAL_ERR_CONFIG_INVALID']);
      assert.match(String(body.message), /^reload refused, the old workers keep serving generation \d+; fix the settings and reload again: invalid settings:\n  CORRAL_WORKERS="abc"/);
    } finally {
      view.nextReload = 'started';
    }
  });

  it('refuses reload and worker-count changes with 409 once a shutdown has begun (the arbiter drops them)', async () => {
    view.shuttingDown = true;
    try {
      const reloadsBefore = view.reloads;
      const deltasBefore = view.deltas.length;
      const r = await fetch(`${base}/api/admin/reload`, { method: 'POST', headers: auth });
      assert.equal(r.status, 409);
      assert.equal(((await r.json()) as { error: string }).error, 'shutting_down');
      const w = await fetch(`${base}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"delta":1}' });
      assert.equal(w.status, 409);
      assert.equal(((await w.json()) as { error: string }).error, 'shutting_down');
      assert.equal(view.reloads, reloadsBefore);
      assert.equal(view.deltas.length, deltasBefore);
      // Reads still answer while the workers drain.
      const c = await fetch(`${base}/api/admin/capacity`, { headers: auth });
      assert.equal(c.status, 200);
      await c.body?.cancel();
    } finally {
      view.shuttingDown = false;
    }
  });

  it('refuses a worker-count change whose body was still arriving when the shutdown began', async () => {
    const { request } = await import('node:http');
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${base}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'content-length': '11' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        // Half the body, then the shutdown, then the rest.
        req.write('{"delta"');
        setTimeout(() => {
          view.shuttingDown = true;
          req.end(':1}');
        }, 100);
      });
      assert.equal(answer.status, 409, answer.body);
      assert.equal((JSON.parse(answer.body) as { error: string }).error, 'shutting_down');
      // Health and the stats say a stop has begun (corral status and reload read it).
      assert.equal(((await (await fetch(`${base}/api/admin/health`)).json()) as { stopping?: boolean }).stopping, true);
      assert.equal(((await (await fetch(`${base}/api/admin/stats`, { headers: auth })).json()) as { master: { stopping: boolean } }).master.stopping, true);
    } finally {
      view.shuttingDown = false;
    }
    assert.equal(((await (await fetch(`${base}/api/admin/health`)).json()) as { stopping?: boolean }).stopping, undefined, 'absent while running');
  });

  it('health and the stats say when the master is still starting (its first workers booting), which is no outage; not once it stops', async () => {
    const health = async () => (await (await fetch(`${base}/api/admin/health`)).json()) as { starting?: boolean };
    const stats = async () => ((await (await fetch(`${base}/api/admin/stats`, { headers: auth })).json()) as { master: { starting?: boolean } }).master;
    assert.equal((await health()).starting, undefined, 'absent once it has started');
    assert.equal((await stats()).starting, false);
    view.booting = true;
    try {
      assert.equal((await health()).starting, true);
      assert.equal((await stats()).starting, true);
      view.shuttingDown = true;
      assert.equal((await health()).starting, undefined, 'a stop during the start is a stop');
    } finally {
      view.booting = false;
      view.shuttingDown = false;
    }
  });

  it('answers 404 and 405 as JSON', async () => {
    const nf = await fetch(`${base}/api/admin/nope`, { headers: auth });
    assert.equal(nf.status, 404);
    const m = await fetch(`${base}/api/admin/workers`, { headers: auth });
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'POST');
    await m.body?.cancel();
    await nf.body?.cancel();
    // `/` exists (a redirect to the dashboard): another method there is 405, not 404.
    const root = await fetch(`${base}/`, { method: 'POST', headers: auth, redirect: 'manual' });
    assert.deepEqual([root.status, root.headers.get('allow'), ((await root.json()) as { error: string }).error], [405, 'GET, HEAD', 'method_not_allowed']);
    // A dashboard file says which methods it takes, as every other route does (it said only
    // "POST is not allowed on /admin", the one 405 without them).
    const page = await fetch(`${base}/admin`, { method: 'POST', headers: auth });
    assert.deepEqual([page.status, page.headers.get('allow'), ((await page.json()) as { message: string }).message], [405, 'GET, HEAD', 'POST is not allowed on /admin; use GET, HEAD']);
    const toPage = await fetch(`${base}/`, { redirect: 'manual' });
    assert.deepEqual([toPage.status, toPage.headers.get('location')], [302, '/admin']);
    // The headers of every other answer here: nothing cached, nothing sniffed, not to be framed.
    assert.deepEqual(
      ['cache-control', 'x-content-type-options', 'x-frame-options', 'content-length'].map((h) => toPage.headers.get(h)),
      ['no-store', 'nosniff', 'DENY', '0'],
    );
    await toPage.body?.cancel();
  });

  it('serves the dashboard and uPlot without a CDN', async () => {
    const page = await fetch(`${base}/admin`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.match(html, /\/admin\/vendor\/uPlot\.iife\.min\.js/);
    assert.doesNotMatch(html, /https?:\/\//);
    for (const p of ['/admin/charts.js', '/admin/token.js', '/admin/actions.js', '/admin/capacity.js', '/admin/dashboard.js', '/admin/dashboard.css', '/admin/vendor/uPlot.iife.min.js', '/admin/vendor/uPlot.min.css']) {
      const r = await fetch(`${base}${p}`);
      assert.equal(r.status, 200, p);
      assert.ok((await r.arrayBuffer()).byteLength > 100, p);
    }
    // Revalidated (304): the same security headers as the 200, which a cache takes over.
    const etag = page.headers.get('etag') ?? '';
    const again = await fetch(`${base}/admin`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    for (const h of ['content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy', 'etag']) assert.equal(again.headers.get(h), page.headers.get(h), h);
  });
});

describe('admin server health and token policy', () => {
  it('answers 503 when no worker is ready, and 403 on data routes when no token is set', async () => {
    const view = createFakeView(testSettings({ CORRAL_WORKERS: '2' }), [child(1, 2001, 'booting', undefined), child(2, 2002, 'draining', { activeConnections: 1 })], 2);
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const h = await fetch(`${base}/api/admin/health`);
      assert.equal(h.status, 503);
      // No worker serves: the capacity says so too (the draining one's connection still counted).
      assert.deepEqual(await h.json(), { status: 'unavailable', workers_ready: 0, workers_expected: 2, capacity: { status: 'UNAVAILABLE', percent_used: 0.1 } });
      const c = await fetch(`${base}/api/admin/capacity`, { headers: { authorization: 'Bearer anything-at-all' } });
      assert.equal(c.status, 403);
      const body = (await c.json()) as { error: string; message: string };
      assert.equal(body.error, 'admin_token_unset');
      assert.match(body.message, /CORRAL_ADMIN_TOKEN/);
      view.kids = [child(1, 2001, 'ready', {}), child(2, 2002, 'booting', undefined)];
      const d = await fetch(`${base}/api/admin/health`);
      assert.equal(d.status, 200);
      assert.equal(((await d.json()) as { status: string }).status, 'degraded');
    } finally {
      await server.close();
    }
  });
});

describe('admin server capacity while nothing serves', () => {
  it('says UNAVAILABLE, can_accept_new false and no slot free in the capacity, the stats and /metrics when health says unavailable or a stop has begun', async () => {
    // It said LOW, can_accept_new: true, 2000 slots free, while clients got ECONNREFUSED.
    const view = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2', CORRAL_WORKER_CONNECTIONS: '1000', CORRAL_TIMEOUT: '30' }), [], 2);
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${server.port}`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const read = async () => {
      const health = (await fetch(`${base}/api/admin/health`)).status;
      const capacity = ((await (await fetch(`${base}/api/admin/capacity`, { headers: auth })).json()) as { capacity: Record<string, unknown> }).capacity;
      const stats = ((await (await fetch(`${base}/api/admin/stats`, { headers: auth })).json()) as { capacity: Record<string, unknown> }).capacity;
      const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
      const shown = /^corral_capacity_status\{status="(\w+)"\} 1$/m.exec(metrics)?.[1];
      return { health, status: capacity.status, can: capacity.can_accept_new, slots: capacity.available_slots, stats: stats.status, metric: shown };
    };
    try {
      // A crash loop: every worker gone, the backoff holding the next fork.
      view.waiting = { inMs: 4000, crashLoop: 5, bootFailures: 0 };
      assert.deepEqual(await read(), { health: 503, status: 'UNAVAILABLE', can: false, slots: 0, stats: 'UNAVAILABLE', metric: 'UNAVAILABLE' });
      view.waiting = undefined;
      // Booting only.
      view.kids = [child(1, 2601, 'booting', undefined), child(2, 2602, 'booting', undefined)];
      assert.deepEqual(await read(), { health: 503, status: 'UNAVAILABLE', can: false, slots: 0, stats: 'UNAVAILABLE', metric: 'UNAVAILABLE' });
      // Every worker stuck: ready, with no beat for 7 s, holding their connections.
      view.kids = [1, 2].map((id) => ({ ...child(id, 2600 + id, 'ready', { activeConnections: 40 }), lastBeatAt: Date.now() - 7000 }));
      assert.deepEqual(await read(), { health: 503, status: 'UNAVAILABLE', can: false, slots: 0, stats: 'UNAVAILABLE', metric: 'UNAVAILABLE' });
      // One beats again: capacity as usual.
      view.kids = [child(1, 2601, 'ready', { activeConnections: 40 }), child(2, 2602, 'ready', { activeConnections: 40 })];
      assert.deepEqual(await read(), { health: 200, status: 'LOW', can: true, slots: 1920, stats: 'LOW', metric: 'LOW' });
      // A graceful stop has begun: the listener is closed to new clients (its workers, told to
      // drain at the next tick, are still listed ready here).
      view.shuttingDown = true;
      const { health: _health, ...stopping } = await read();
      assert.deepEqual(stopping, { status: 'UNAVAILABLE', can: false, slots: 0, stats: 'UNAVAILABLE', metric: 'UNAVAILABLE' });
    } finally {
      await server.close();
    }
  });
});

/** The health answer of the admin server on `port`: its status and body, without the capacity (asserted in its own tests). */
async function healthOf(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/admin/health`);
  const { capacity: _capacity, ...body } = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body };
}

describe('admin server health while the keeper is down', () => {
  it('says degraded, still 200, while the keeper is not running, booting or not beating, and names its state', async () => {
    const keeper = child(0, 2500, 'ready', {}, 'keeper');
    const workers = [child(1, 2501, 'ready', {}), child(2, 2502, 'ready', {})];
    const view = createFakeView(testSettings({ CORRAL_WORKERS: '2', CORRAL_TIMEOUT: '30' }), [...workers, keeper]);
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0 });
    const health = () => healthOf(server.port);
    try {
      assert.deepEqual(await health(), { status: 200, body: { status: 'ok', workers_ready: 2, workers_expected: 2 } });
      // It crashed: the master restarts it after its backoff.
      view.kids = [...workers];
      assert.deepEqual(await health(), { status: 200, body: { status: 'degraded', workers_ready: 2, workers_expected: 2, keeper: 'not_running' } });
      // In a crash loop, its next start waits out a backoff: health says when it comes back.
      view.keeperWaiting = { inMs: 6236, crashLoop: 6, failures: 6 };
      assert.deepEqual(await health(), { status: 200, body: { status: 'degraded', workers_ready: 2, workers_expected: 2, keeper: 'not_running', keeper_respawn_in_ms: 6236 } });
      view.keeperWaiting = undefined;
      view.kids = [...workers, child(0, 2503, 'booting', undefined, 'keeper')];
      assert.deepEqual(await health(), { status: 200, body: { status: 'degraded', workers_ready: 2, workers_expected: 2, keeper: 'booting' } });
      // Its loop is blocked: no beat for 5 s (three beats are 3 s).
      view.kids = [...workers, { ...keeper, lastBeatAt: Date.now() - 5000 }];
      assert.deepEqual(await health(), { status: 200, body: { status: 'degraded', workers_ready: 2, workers_expected: 2, keeper: 'not_beating' } });
      view.kids = [child(1, 2501, 'booting', undefined)];
      assert.deepEqual(await health(), { status: 503, body: { status: 'unavailable', workers_ready: 0, workers_expected: 2, keeper: 'not_running' } });
      view.kids = [...workers, keeper];
      assert.deepEqual(await health(), { status: 200, body: { status: 'ok', workers_ready: 2, workers_expected: 2 } });
      // A master started without a keeper (none to run) is not degraded for want of one.
      view.withKeeper = false;
      view.kids = [...workers];
      assert.deepEqual(await health(), { status: 200, body: { status: 'ok', workers_ready: 2, workers_expected: 2 } });
    } finally {
      await server.close();
    }
  });
});

describe('admin server health while the journal refuses events', () => {
  it('says degraded, still 200, naming why, while the ready keeper reports its journal not writable, hung or full', async () => {
    const workers = [child(1, 2511, 'ready', {}), child(2, 2512, 'ready', {})];
    const keeperWith = (extra: Record<string, boolean | number>) => child(0, 2510, 'ready', { extra }, 'keeper');
    const view = createFakeView(testSettings({ CORRAL_WORKERS: '2', CORRAL_TIMEOUT: '30', CORRAL_ADMIN_TOKEN: TOKEN }), [...workers, keeperWith({ journalWritable: true, journalFull: false })]);
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0 });
    const health = () => healthOf(server.port);
    try {
      assert.deepEqual(await health(), { status: 200, body: { status: 'ok', workers_ready: 2, workers_expected: 2 } });
      // A full disk: every POST /api/events answers 503 not_saved, reads go on.
      view.kids = [...workers, keeperWith({ journalWritable: false, journalFull: false })];
      assert.deepEqual(await health(), { status: 200, body: { status: 'degraded', workers_ready: 2, workers_expected: 2, journal: 'not_writable' } });
      // A write of the journal that has hung for 10 s or more (a dead mount): said as such, though
      // the keeper reports itself not writable too (what a master from before it says).
      view.kids = [...workers, keeperWith({ journalWritable: false, journalFull: false, journalSyncStuckSeconds: 12 })];
      assert.deepEqual(await health(), { status: 200, body: { status: 'degraded', workers_ready: 2, workers_expected: 2, journal: 'sync_stuck' } });
      // The backlog at SHEETS_JOURNAL_MAX_MB while Google does not take the rows.
      view.kids = [...workers, keeperWith({ journalWritable: true, journalFull: true })];
      assert.deepEqual(await health(), { status: 200, body: { status: 'degraded', workers_ready: 2, workers_expected: 2, journal: 'full' } });
      // The stats say why as health does: the dashboard's badge names it.
      const why = async () => {
        const res = await fetch(`http://127.0.0.1:${server.port}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(res.status, 200);
        const s = (await res.json()) as Record<string, unknown>;
        return { health: s.health, health_keeper: s.health_keeper, health_journal: s.health_journal };
      };
      assert.deepEqual(await why(), { health: 'degraded', health_keeper: null, health_journal: 'full' });
      view.kids = [...workers, keeperWith({ journalWritable: true, journalFull: false })];
      assert.deepEqual(await health(), { status: 200, body: { status: 'ok', workers_ready: 2, workers_expected: 2 } });
      assert.deepEqual(await why(), { health: 'ok', health_keeper: null, health_journal: null });
    } finally {
      await server.close();
    }
  });
});

describe('admin server while the backoff holds the next fork', () => {
  it('health and stats say when the master forks again, and why', async () => {
    const view = createFakeView(testSettings({ CORRAL_WORKERS: '2', CORRAL_ADMIN_TOKEN: TOKEN }), [], 2);
    view.waiting = { inMs: 12_345, crashLoop: 6, bootFailures: 0 };
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const h = await fetch(`${base}/api/admin/health`);
      assert.equal(h.status, 503);
      assert.deepEqual(await h.json(), { status: 'unavailable', workers_ready: 0, workers_expected: 2, respawn_in_ms: 12_345, capacity: { status: 'UNAVAILABLE', percent_used: 0 } });
      const stats = (await (await fetch(`${base}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { respawn: unknown };
      assert.deepEqual(stats.respawn, { in_ms: 12_345, crash_loop: 6, boot_failures: 0 });
      view.waiting = undefined;
      const after = (await (await fetch(`${base}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { respawn: unknown };
      assert.equal(after.respawn, null);
    } finally {
      await server.close();
    }
  });
});

describe('admin server /metrics before the first host sample', () => {
  it('has no corral_host_*_ratio sample until the host monitor has one (not 0, which reads as an idle host)', async () => {
    const view = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN }), [child(1, 3001, 'ready', {})]);
    const real = startMonitoring(view, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    real.host.close();
    // The host monitor as it is between the master's start and its first measurement.
    let sample: HostSample | undefined;
    const host: HostMonitor = { intervalMs: 5000, latest: () => sample, sample: async () => sample, close: () => {} };
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring: { ...real, host } });
    const scrape = async () => (await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    try {
      const before = await scrape();
      assert.match(before, /^corral_up 1$/m);
      assert.doesNotMatch(before, /^corral_host_cpu_ratio /m);
      assert.doesNotMatch(before, /^corral_host_memory_ratio /m);
      sample = { at: Date.now(), cpuPercent: 0, ramPercent: 42.5, ramUsedBytes: 425, ramTotalBytes: 1000, cpuCount: 2 };
      const after = await scrape();
      assert.match(after, /^corral_host_cpu_ratio 0$/m, 'a measured idle host is 0');
      assert.match(after, /^corral_host_memory_ratio 0\.425$/m);
      // The monitor's first sample is the baseline of the CPU share: RAM is known, CPU not yet.
      sample = { ...sample, cpuPercent: null };
      const baseline = await scrape();
      assert.doesNotMatch(baseline, /^corral_host_cpu_ratio /m);
      assert.match(baseline, /^corral_host_memory_ratio 0\.425$/m);
    } finally {
      await server.close();
      real.close();
    }
  });
});
