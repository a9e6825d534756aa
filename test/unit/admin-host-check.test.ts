import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { checkAdminHost, hostNameOf } from '../../src/master/admin/host-check.js';
import { startAdminServer, type AdminServer } from '../../src/master/admin/server.js';
import { startMonitoring, type Monitoring } from '../../src/master/admin/monitoring.js';
import { createLogger } from '../../src/log/logger.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';
import { exchange } from '../helpers/raw-exchange.js';

const TOKEN = 'admin-token-0123456789abcdef';
const logger = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger;

/** A request to the listener with the Host header a browser (or a rebinding page) would send. */
function get(port: number, path: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { ...headers, host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin listener on loopback: Host check against DNS rebinding', () => {
  let server: AdminServer;
  let monitoring: Monitoring;
  let port: number;
  const auth = { authorization: `Bearer ${TOKEN}` };
  before(async () => {
    const view = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN }), [child(1, 4001, 'ready', {})]);
    monitoring = startMonitoring(view, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring });
    port = server.port;
  });
  after(async () => {
    await server.close();
    monitoring.close();
  });

  it('refuses a request addressed to another name with 421 and a JSON error, on every route, token or not', async () => {
    for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1.nip.io:${port}`, `localhost.attacker.example:${port}`, `evil@127.0.0.1:${port}`]) {
      for (const path of ['/api/admin/health', '/admin', '/metrics', '/api/admin/stats', '/']) {
        const r = await get(port, path, host, auth);
        assert.equal(r.status, 421, `${path} Host: ${host}`);
        const body = JSON.parse(r.body) as { success: boolean; error: string; message: string };
        assert.equal(body.success, false);
        assert.equal(body.error, 'host_not_allowed');
        assert.ok(body.message.includes(`Host: ${JSON.stringify(host)}`), body.message);
      }
    }
  });

  it('answers what operators use: 127.0.0.1, localhost (an SSH tunnel on any port), [::1], other loopback literals', async () => {
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'LOCALHOST:19090', `[::1]:${port}`, '[::1]', '127.0.0.2:80', `[::ffff:127.0.0.1]:${port}`]) {
      assert.equal((await get(port, '/api/admin/health', host)).status, 200, `Host: ${host}`);
      assert.equal((await get(port, '/metrics', host, auth)).status, 200, `Host: ${host}`);
    }
    // Node's own clients (fetch, as `corral status` and `recommend` use) send the URL's host.
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/admin/stats`, { headers: auth })).status, 200);
  });

  it('judges a request in absolute form by the host its target names, not by Host (RFC 9112 §3.2.2)', async () => {
    const raw = (target: string, host: string) => exchange(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`);
    for (const target of ['http://attacker.example/api/admin/stats', `http://attacker.example:${port}/api/admin/health`, 'http://127.0.0.1.nip.io/metrics']) {
      const answer = await raw(target, `127.0.0.1:${port}`);
      assert.match(answer, /^HTTP\/1\.1 421 /, target);
      assert.ok(answer.includes('"error":"host_not_allowed"'), answer);
      assert.ok(answer.includes(JSON.stringify(new URL(target).host).replace(/"/g, '\\"')), answer);
    }
    for (const target of [`http://127.0.0.1:${port}/api/admin/stats`, `http://localhost:${port}/api/admin/health`, `http://[::1]:${port}/metrics`]) {
      assert.match(await raw(target, 'attacker.example'), /^HTTP\/1\.1 200 /, target);
    }
  });

  it('answers an HTTP/1.0 request without Host (no browser sends one)', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end('GET /api/admin/health HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => (text += c));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
  });
});

describe('checkAdminHost', () => {
  // Without Host, an HTTP/1.0 request (an HTTP/1.1 one is refused 400 missing_host, on any bind).
  const req = (host: string | undefined) =>
    ({ headers: host === undefined ? {} : { host }, rawHeaders: host === undefined ? [] : ['Host', host], httpVersionMajor: 1, httpVersionMinor: host === undefined ? 0 : 1 }) as unknown as IncomingMessage;

  it('makes no Host check on a listener beyond loopback: the token guards it, and its names are the network\'s', () => {
    for (const bind of ['0.0.0.0', '::', '10.0.0.5', 'admin.internal.example']) {
      assert.deepEqual(checkAdminHost(req('admin.internal.example:9090'), bind), { ok: true }, bind);
    }
  });

  it('on loopback binds (localhost, 127.x, ::1) takes loopback names and literals only', () => {
    for (const bind of ['localhost', '127.0.0.1', '::1', '127.0.0.2']) {
      assert.equal(checkAdminHost(req('localhost:9090'), bind).ok, true, bind);
      assert.equal(checkAdminHost(req(undefined), bind).ok, true, bind);
      assert.equal(checkAdminHost(req('rebind.attacker.example:9090'), bind).ok, false, bind);
      // A name is never loopback by its look: DNS decides where 127.0.0.1.nip.io goes.
      assert.equal(checkAdminHost(req('127.0.0.1.nip.io'), bind).ok, false, bind);
    }
  });

  it('reads Host as name[:port] or [v6][:port], nothing else', () => {
    assert.equal(hostNameOf('LocalHost:9090'), 'localhost');
    assert.equal(hostNameOf('[::1]:9090'), '::1');
    assert.equal(hostNameOf('127.0.0.1'), '127.0.0.1');
    for (const bad of ['::1', 'a b', 'user@localhost', 'localhost/x', '[::1', 'localhost:90:90', '']) assert.equal(hostNameOf(bad), undefined, bad);
  });
});
