// The admin API hammered with a wrong token, or polled on a route that fails: what the master's
// log shows.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request, type OutgoingHttpHeaders } from 'node:http';
import { memoryLogger } from '../fixtures/memory-logger.js';
import { startMonitoring } from '../../src/master/admin/monitoring.js';
import { startAdminServer } from '../../src/master/admin/server.js';
import { createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

const TOKEN = 'admin-token-0123456789abcdef';

/** A real admin server over a fake master, logging in memory; `failing`: every figure read throws (a bug behind the routes). */
async function adminServer(o: { failing?: boolean } = {}) {
  const { logger, lines } = memoryLogger();
  const view = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN }), []);
  if (o.failing) {
    view.expectedWorkers = () => {
      throw new TypeError("Cannot read properties of undefined (reading 'expected')");
    };
  }
  const monitoring = startMonitoring(view, logger, { historyIntervalMs: 3_600_000, alertIntervalMs: 3_600_000 });
  const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring });
  return {
    lines,
    server,
    async close() {
      await server.close();
      monitoring.close();
    },
  };
}

describe('admin API refusals', () => {
  it('fifty requests with a wrong or no token are one line naming the sender, not fifty', async () => {
    const { lines, server, close } = await adminServer();
    try {
      for (let i = 0; i < 50; i++) {
        const headers: Record<string, string> = i % 2 === 0 ? { authorization: 'Bearer guess-0123456789abcdef' } : {};
        const r = await fetch(`http://127.0.0.1:${server.port}/api/admin/stats`, { headers });
        assert.equal(r.status, 401);
        await r.arrayBuffer();
      }
      const ok = await fetch(`http://127.0.0.1:${server.port}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200);
      await ok.arrayBuffer();
      const refused = lines.filter((l) => l.event === 'admin.unauthorized');
      assert.equal(refused.length, 1, `${refused.length} lines for 50 refused requests`);
      assert.equal(refused[0]!.level, 40);
      assert.equal(refused[0]!.remote, '127.0.0.1');
      assert.equal(refused[0]!.token, 'wrong');
      assert.equal(refused[0]!.path, '/api/admin/stats');
      assert.equal(refused[0]!.requests, 1);
    } finally {
      await close();
    }
  });
  it('a route failing at every request (a dashboard polling it) is one admin.error line with the stack, not thirty', async () => {
    const { lines, server, close } = await adminServer({ failing: true });
    try {
      for (let i = 0; i < 30; i++) {
        const r = await fetch(`http://127.0.0.1:${server.port}/api/admin/capacity?poll=${i}`, { headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(r.status, 500);
        await r.arrayBuffer();
      }
      const failed = lines.filter((l) => l.event === 'admin.error');
      assert.equal(failed.length, 1, `${failed.length} admin.error lines for 30 failed requests`);
      assert.equal(failed[0]!.level, 50);
      assert.match(String((failed[0]!.err as { stack?: string }).stack), /TypeError/);
      assert.equal(failed[0]!.requests, 1);
    } finally {
      await close();
    }
  });
  it('a failed request with a token in its query string (refused there, but sent) logs its path, not the token', async () => {
    const { lines, server, close } = await adminServer({ failing: true });
    try {
      const refused = await fetch(`http://127.0.0.1:${server.port}/api/admin/capacity?token=${TOKEN}`);
      assert.equal(refused.status, 401, 'a token in the query is not a token');
      await refused.arrayBuffer();
      const failed = await fetch(`http://127.0.0.1:${server.port}/api/admin/capacity?token=${TOKEN}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(failed.status, 500);
      await failed.arrayBuffer();
      const error = lines.find((l) => l.event === 'admin.error');
      assert.equal(error?.path, '/api/admin/capacity');
      assert.equal(error?.method, 'GET');
      assert.equal(lines.find((l) => l.event === 'admin.unauthorized')?.path, '/api/admin/capacity');
      for (const l of lines) assert.doesNotMatch(JSON.stringify(l), new RegExp(TOKEN), `${String(l.event)} has the token`);
    } finally {
      await close();
    }
  });
  it('refuses two Authorization headers with a 400 saying to send one, whichever comes first (node:http kept the first alone)', async () => {
    const { server, close } = await adminServer();
    // fetch() folds repeated headers into one line; node:http's client sends an array as separate lines.
    const ask = (authorization: string[], path = '/api/admin/capacity', method = 'GET') =>
      new Promise<{ status: number; body: { success?: boolean; error?: string; message?: string } }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path, method, headers: { authorization } as unknown as OutgoingHttpHeaders }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { error?: string; message?: string } }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const staleFirst = await ask(['Bearer old-token-0123456789abcdef', `Bearer ${TOKEN}`]);
      assert.equal(staleFirst.status, 400, 'not a 401 telling a client that sent the right token to send it');
      assert.equal(staleFirst.body.error, 'bad_request');
      assert.match(staleFirst.body.message ?? '', /one Authorization header/);
      const rightFirst = await ask([`Bearer ${TOKEN}`, 'Bearer old-token-0123456789abcdef']);
      assert.equal(rightFirst.status, 400, 'the second header was dropped unread and the request let through');
      assert.equal(rightFirst.body.error, 'bad_request');
      const reload = await ask([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`], '/api/admin/reload', 'POST');
      assert.equal(reload.status, 400, 'a reload is not carried out on a request refused elsewhere');
      const one = await ask([`Bearer ${TOKEN}`]);
      assert.equal(one.status, 200);
    } finally {
      await close();
    }
  });
});
