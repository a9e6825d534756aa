// Requests node:http refuses before the admin routes (malformed, headers too large, too slow),
// CONNECT, and a client that goes away in the middle of its body: JSON answers with a stable
// `error`, and no master error line for what a client did.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startAdminServer, type AdminServer } from '../../src/master/admin/server.js';
import { startMonitoring, type Monitoring } from '../../src/master/admin/monitoring.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';
import { memoryLogger } from '../fixtures/memory-logger.js';

const TOKEN = 'admin-token-0123456789abcdef';

/** Writes `parts` (a function for later writes), and resolves with all the listener sent back once it closes. */
function exchange(port: number, first: string, then?: (write: (s: string) => void, end: () => void) => void): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = connect(port, '127.0.0.1', () => {
      s.write(first);
      then?.((text) => s.write(text), () => s.destroy());
    });
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve({ answer, ms: Date.now() - t0 }));
  });
}

function jsonOf(answer: string): { success: boolean; error: string; message: string } {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { success: boolean; error: string; message: string };
}

describe('admin server: requests refused before the routes', () => {
  const log = memoryLogger();
  let server: AdminServer;
  let monitoring: Monitoring;
  before(async () => {
    const view = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN }), [child(1, 5001, 'ready', {})]);
    monitoring = startMonitoring(view, log.logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    server = await startAdminServer(view, log.logger, { host: '127.0.0.1', port: 0, monitoring, headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
  });
  after(async () => {
    await server.close();
    monitoring.close();
  });

  it('answers a malformed request 400 bad_request in JSON, not a bare status line', async () => {
    const { answer } = await exchange(server.port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.deepEqual({ ...jsonOf(answer), message: '' }, { success: false, error: 'bad_request', message: '' });
  });

  it('answers a method node:http does not know (BREW, or get: methods are case-sensitive) 501 method_not_implemented, with no parser code', async () => {
    for (const method of ['BREW', 'get']) {
      const { answer } = await exchange(server.port, `${method} /api/admin/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 501 /, method);
      const body = jsonOf(answer);
      assert.equal(body.error, 'method_not_implemented', method);
      assert.ok(body.message.includes(method), body.message);
      assert.doesNotMatch(answer, /HPE_/);
    }
  });

  it('answers headers over 16 KiB 431 headers_too_large in JSON', async () => {
    const { answer } = await exchange(server.port, `GET /api/admin/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'x'.repeat(20_000)}\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 431 /);
    assert.equal(jsonOf(answer).error, 'headers_too_large');
  });

  it('answers an Expect other than 100-continue 417 expectation_failed in JSON, not an empty body', async () => {
    const { answer } = await exchange(server.port, 'GET /api/admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: foo\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 417 /);
    assert.deepEqual(jsonOf(answer), { success: false, error: 'expectation_failed', message: 'Expect: foo is not supported; send no Expect header, or Expect: 100-continue' });
  });

  it('answers an HTTP/1.1 request without Host 400 missing_host in JSON (node:http said it with an empty body), and one with two Host headers 400 invalid_host (node:http kept the first)', async () => {
    const missing = await exchange(server.port, 'GET /api/admin/health HTTP/1.1\r\n\r\n');
    assert.match(missing.answer, /^HTTP\/1\.1 400 /);
    assert.deepEqual(jsonOf(missing.answer), { success: false, error: 'missing_host', message: 'an HTTP/1.1 request needs a Host header' });
    const two = await exchange(server.port, 'GET /api/admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: attacker.example\r\n\r\n');
    assert.match(two.answer, /^HTTP\/1\.1 400 /);
    assert.deepEqual(jsonOf(two.answer), { success: false, error: 'invalid_host', message: 'a request needs exactly one Host header' });
    const old = await exchange(server.port, 'GET /api/admin/health HTTP/1.0\r\n\r\n');
    assert.match(old.answer, /^HTTP\/1\.1 200 /, 'HTTP/1.0 without Host is answered');
  });

  it('answers a request line naming HTTP/2.0 or 0.9 505 http_version_not_supported, as the workers do (it was answered as HTTP/1.1: 200)', async () => {
    for (const version of ['2.0', '0.9']) {
      const { answer } = await exchange(server.port, `GET /api/admin/health HTTP/${version}\r\nHost: 127.0.0.1\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 505 /, version);
      assert.deepEqual(jsonOf(answer), { success: false, error: 'http_version_not_supported', message: `HTTP/${version} is not supported here; send HTTP/1.1` });
    }
  });

  it('answers CONNECT 405 in JSON rather than dropping the connection', async () => {
    const { answer } = await exchange(server.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 405 /);
    assert.equal(jsonOf(answer).error, 'method_not_allowed');
    // RFC 9110 §15.5.6: a 405 carries Allow, the methods of the admin routes.
    assert.match(answer, /\r\nallow: GET, HEAD, POST\r\n/i);
  });

  it('answers headers sent too slowly 408 request_timeout in JSON, about when the headers timeout ends', async () => {
    const { answer, ms } = await exchange(server.port, 'GET /api/admin/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n', (write) => {
      const t = setInterval(() => write('X-Slow: 1\r\n'), 200);
      setTimeout(() => clearInterval(t), 5000).unref();
    });
    assert.match(answer, /^HTTP\/1\.1 408 /);
    const body = jsonOf(answer);
    assert.equal(body.error, 'request_timeout');
    assert.match(body.message, /headers/);
    assert.ok(ms < 4000, `cut off after ${ms} ms`);
  });

  it('answers a body sent too slowly 408 request_timeout in JSON, without a master error line', async () => {
    const head = `POST /api/admin/workers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`;
    const { answer, ms } = await exchange(server.port, head, (write) => {
      const t = setInterval(() => write(' '), 200);
      setTimeout(() => clearInterval(t), 6000).unref();
    });
    assert.match(answer, /^HTTP\/1\.1 408 /);
    const body = jsonOf(answer);
    assert.equal(body.error, 'request_timeout');
    assert.match(body.message, /body/);
    assert.ok(ms < 5000, `cut off after ${ms} ms`);
    assert.deepEqual(log.lines.filter((l) => l.level === 50), []);
  });

  it('a client gone in the middle of its body is no master error', async () => {
    const head = `POST /api/admin/workers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"del`;
    await exchange(server.port, head, (_write, end) => setTimeout(end, 100));
    // The request is alive on the listener until its 'close': a stats request after it is answered after it.
    const res = await fetch(`http://127.0.0.1:${server.port}/api/admin/capacity`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(log.lines.filter((l) => l.event === 'admin.error'), []);
  });
});
