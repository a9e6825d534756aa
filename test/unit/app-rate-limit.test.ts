import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createClientIpResolver, normalizeIp } from '../../src/app/client-ip.js';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS } from '../fixtures/fake-sheets.js';
import { startApp, type AppHarness } from '../fixtures/app-harness.js';

function fakeReq(remote: string, xff?: string): IncomingMessage {
  return { socket: { remoteAddress: remote }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } } as unknown as IncomingMessage;
}

describe('client IP', () => {
  it('normalizes IPv4-mapped IPv6 addresses', () => {
    assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(normalizeIp('::1'), '::1');
  });

  it('ignores X-Forwarded-For from untrusted peers', () => {
    const ip = createClientIpResolver([]);
    assert.equal(ip(fakeReq('203.0.113.9', '1.2.3.4')), '203.0.113.9');
    const ip2 = createClientIpResolver(['127.0.0.1']);
    assert.equal(ip2(fakeReq('203.0.113.9', '1.2.3.4')), '203.0.113.9');
  });

  it('takes the right-most untrusted hop behind trusted proxies (forged left entries are ignored)', () => {
    const ip = createClientIpResolver(['127.0.0.1', '10.0.0.0/8']);
    assert.equal(ip(fakeReq('::ffff:127.0.0.1', '198.51.100.7')), '198.51.100.7');
    assert.equal(ip(fakeReq('127.0.0.1', '6.6.6.6, 198.51.100.7, 10.2.3.4')), '198.51.100.7');
    assert.equal(ip(fakeReq('127.0.0.1')), '127.0.0.1');
    assert.equal(ip(fakeReq('127.0.0.1', 'not-an-ip')), '127.0.0.1');
  });

  it('refuses a malformed trusted-proxy entry', () => {
    assert.throws(() => createClientIpResolver(['localhost']), /not an IP address/);
    assert.throws(() => createClientIpResolver(['10.0.0.0/33']), /prefix/);
  });
});

describe('rate limit over HTTP', () => {
  let app: AppHarness;
  before(async () => {
    app = await startApp({ CORRAL_RATE_LIMIT: '5', CORRAL_TRUSTED_PROXIES: '127.0.0.1' }, createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS }));
  });
  after(() => app.close());

  const get = (xff: string) => fetch(`${app.url}/api/players`, { headers: { 'x-forwarded-for': xff } });

  it('sends RateLimit headers and answers 429 with Retry-After past the limit', async () => {
    for (let i = 1; i <= 5; i++) {
      const res = await get('198.51.100.1');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('ratelimit-limit'), '5');
      assert.equal(res.headers.get('ratelimit-remaining'), String(5 - i));
      const reset = Number(res.headers.get('ratelimit-reset'));
      assert.ok(reset >= 1 && reset <= 60);
      await res.body?.cancel();
    }
    const res = await get('198.51.100.1');
    assert.equal(res.status, 429);
    const retry = Number(res.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    assert.equal(res.headers.get('ratelimit-remaining'), '0');
    assert.equal(((await res.json()) as { error: string }).error, 'rate_limited');
  });

  it('counts each client separately and never limits health', async () => {
    const other = await get('198.51.100.2');
    assert.equal(other.status, 200);
    await other.body?.cancel();
    for (let i = 0; i < 10; i++) {
      const h = await fetch(`${app.url}/api/admin/health`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('ratelimit-limit'), null);
      await h.body?.cancel();
    }
  });
});
