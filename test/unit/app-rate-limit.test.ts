import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { clientKey, createClientIpResolver, normalizeIp } from '../../src/http/client-ip.js';
import type { HostCounters } from '../../src/contract.js';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS } from '../fixtures/fake-sheets.js';
import { startApp, type AppHarness } from '../fixtures/app-harness.js';
import { waitFor } from '../helpers/corral.js';

function fakeReq(remote: string, xff?: string): IncomingMessage {
  return { socket: { remoteAddress: remote }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } } as unknown as IncomingMessage;
}

/** The status of a GET whose request target is sent as it is (fetch would normalize it). */
function rawStatus(base: string, target: string, xff: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request(`${base}/`, { path: target, headers: { 'x-forwarded-for': xff } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end();
  });
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
    // A proxy that writes the client's port (Azure Application Gateway, IIS ARR): the address
    // counts, where the entry read as garbage and every client counted as the proxy.
    assert.equal(ip(fakeReq('127.0.0.1', '198.51.100.7:53211')), '198.51.100.7');
    assert.equal(ip(fakeReq('127.0.0.1', '[2001:db8::7]:53211, 10.2.3.4:443')), '2001:db8::7');
    assert.equal(ip(fakeReq('127.0.0.1', '[2001:db8::8]')), '2001:db8::8');
    assert.equal(ip(fakeReq('127.0.0.1', '198.51.100.7:port')), '127.0.0.1', 'still garbage');
  });

  it("reads a trusted proxy's X-Real-IP when it sends no X-Forwarded-For (nginx sites written for gunicorn), never an untrusted peer's", () => {
    const req = (remote: string, headers: Record<string, string | string[]>) => ({ socket: { remoteAddress: remote }, headers }) as unknown as IncomingMessage;
    const ip = createClientIpResolver(['127.0.0.1']);
    assert.equal(ip(req('127.0.0.1', { 'x-real-ip': '198.51.100.7' })), '198.51.100.7');
    assert.equal(ip(req('127.0.0.1', { 'x-real-ip': '198.51.100.7', 'x-forwarded-for': '203.0.113.5' })), '203.0.113.5', 'X-Forwarded-For first');
    assert.equal(ip(req('203.0.113.9', { 'x-real-ip': '1.2.3.4' })), '203.0.113.9', 'not from an untrusted peer');
    assert.equal(ip(req('127.0.0.1', { 'x-real-ip': '1.2.3.4, 5.6.7.8' })), '127.0.0.1', 'a list is no single client');
    assert.equal(ip(req('127.0.0.1', { 'x-real-ip': 'unknown' })), '127.0.0.1');
    assert.equal(createClientIpResolver([])(req('127.0.0.1', { 'x-real-ip': '1.2.3.4' })), '127.0.0.1', 'no proxy trusted');
  });

  it('keys IPv6 clients by their /64, in canonical form, and everything else by its address', () => {
    const key = '2001:db8:1:2::/64';
    for (const ip of ['2001:db8:1:2::1', '2001:DB8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:abcd::9', '2001:db8:1:2:a:b:1.2.3.4', '2001:db8:1:2::', '2001:db8:1:2::1%eth0']) {
      assert.equal(clientKey(ip), key, ip);
    }
    assert.equal(clientKey('2001:db8:1:3::1'), '2001:db8:1:3::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8::/64');
    assert.equal(clientKey('2001:DB8:0:0:1::1'), '2001:db8::/64');
    assert.equal(clientKey('2001:0:0:1::1'), '2001:0:0:1::/64');
    assert.equal(clientKey('1:2:3:4:5:6:7:8'), '1:2:3:4::/64');
    assert.equal(clientKey('fe80::1%eth0'), 'fe80::/64');
    // Loopback and the unspecified address are not IPv4 clients.
    assert.equal(clientKey('::1'), '::/64');
    assert.equal(clientKey('::'), '::/64');
    // IPv4, also as it arrives on a dual-stack socket, stays one key per address.
    assert.equal(clientKey('198.51.100.7'), '198.51.100.7');
    assert.equal(clientKey(normalizeIp('::ffff:198.51.100.7')), '198.51.100.7');
    assert.equal(clientKey(''), '');
  });

  it('keys an IPv6 address that carries an IPv4 one (mapped, compatible, NAT64) by that IPv4 address, however written', () => {
    const forms: [string, string][] = [
      // IPv4-mapped, ::ffff:0:0/96
      ['::ffff:1.2.3.4', '1.2.3.4'],
      ['0:0:0:0:0:ffff:1.2.3.4', '1.2.3.4'],
      ['::ffff:102:304', '1.2.3.4'],
      ['::FFFF:0102:0304', '1.2.3.4'],
      ['0:0:0:0:0:ffff:102:304%eth0', '1.2.3.4'],
      ['::ffff:198.51.100.9', '198.51.100.9'],
      // IPv4-compatible, ::/96
      ['::1.2.3.4', '1.2.3.4'],
      ['::102:304', '1.2.3.4'],
      ['::0.0.0.2', '0.0.0.2'],
      ['::0.1.0.0', '0.1.0.0'],
      // NAT64 well-known prefix, 64:ff9b::/96
      ['64:ff9b::1.2.3.4', '1.2.3.4'],
      ['64:ff9b::102:304', '1.2.3.4'],
      ['64:FF9B:0:0:0:0:C633:6409', '198.51.100.9'],
      ['0064:ff9b:0000:0000:0000:0000:203.0.113.5', '203.0.113.5'],
    ];
    for (const [ip, key] of forms) assert.equal(clientKey(ip), key, ip);
    // Two IPv4 clients behind one NAT64 translator keep two budgets.
    assert.notEqual(clientKey('64:ff9b::198.51.100.1'), clientKey('64:ff9b::198.51.100.2'));
    // Near misses stay IPv6 /64s: another /96 of 64:ff9b::/32 (RFC 8215's local-use 64:ff9b:1::/48),
    // a mapped-looking address with a non-zero group before ffff.
    assert.equal(clientKey('64:ff9b:1::1.2.3.4'), '64:ff9b:1::/64');
    assert.equal(clientKey('::1:ffff:1.2.3.4'), '::/64');
    assert.equal(clientKey('1::ffff:1.2.3.4'), '1::/64');
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

describe('rate limit over HTTP: IPv6 clients by /64, and answers without a route', () => {
  let app: AppHarness;
  before(async () => {
    app = await startApp({ CORRAL_RATE_LIMIT: '3', CORRAL_TRUSTED_PROXIES: '127.0.0.1' }, createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS }));
  });
  after(() => app.close());

  const req = async (path: string, xff: string, method = 'GET') => {
    const res = await fetch(`${app.url}${path}`, { method, headers: { 'x-forwarded-for': xff } });
    await res.body?.cancel();
    return res;
  };

  it('addresses of one /64 share a budget; another /64 has its own', async () => {
    const seen: number[] = [];
    for (let i = 1; i <= 4; i++) seen.push((await req('/api/players', `2001:db8:aa:1::${i.toString(16)}`)).status);
    assert.deepEqual(seen, [200, 200, 200, 429]);
    assert.equal((await req('/api/players', '2001:db8:aa:1:dead:beef:0:1')).status, 429);
    const other = await req('/api/players', '2001:db8:aa:2::1');
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('ratelimit-remaining'), '2');
  });

  it('counts 404, 405 and 400 answers, and refuses them once the client is over', async () => {
    assert.equal((await req('/nope', '203.0.113.50')).status, 404);
    assert.equal((await req('/api/players', '203.0.113.50', 'DELETE')).status, 405);
    assert.equal(await rawStatus(app.url, 'http://[bad', '203.0.113.50'), 400);
    // Three counted (before the next request of this worker is): the next routed request is over.
    const limited = await req('/api/players', '203.0.113.50');
    assert.equal(limited.status, 429);
    // Now known to be over: a probe gets 429 too, at once.
    const probe = await req('/wp-login.php', '203.0.113.50');
    assert.equal(probe.status, 429);
    assert.ok(Number(probe.headers.get('retry-after')) >= 1);
    assert.equal(probe.headers.get('ratelimit-remaining'), '0');
    // Health stays unlimited.
    assert.equal((await req('/api/admin/health', '203.0.113.50')).status, 200);
  });

  it('a probe past the limit still gets its 404 until the count comes back; from then on every probe is 429', async () => {
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) seen.push((await req(`/probe-${i}`, '203.0.113.51')).status);
    // The 4th is counted over the limit, but answered before its count comes back: a 404.
    assert.deepEqual(seen, [404, 404, 404, 404]);
    // The counts go to the counters 20 ms after the first; once one comes back over, this worker
    // refuses the client's probes at once.
    await waitFor(async () => (await req('/probe-wait', '203.0.113.51')).status === 429, 2000, 'a probe refused');
    for (let i = 4; i < 6; i++) seen.push((await req(`/probe-${i}`, '203.0.113.51')).status);
    assert.deepEqual(seen.slice(4), [429, 429]);
  });
});

describe('rate limit: a 404 never waits for the count', () => {
  it('answers at once even when the counters never answer', async () => {
    const hits: string[] = [];
    const hanging: HostCounters = {
      hit: (key) => (hits.push(key), new Promise(() => undefined)),
      peek: () => new Promise(() => undefined),
    };
    const app = await startApp({ CORRAL_RATE_LIMIT: '5' }, createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS }), { hostCounters: hanging });
    try {
      const res = await fetch(`${app.url}/nope`, { signal: AbortSignal.timeout(2000) });
      assert.equal(res.status, 404);
      assert.equal(res.headers.get('ratelimit-limit'), null);
      await res.body?.cancel();
      // Counted all the same (20 ms later).
      await waitFor(() => hits.length > 0, 2000, 'the 404 counted');
      assert.deepEqual(hits, ['127.0.0.1']);
    } finally {
      await app.close();
    }
  });
});

describe('rate limit without its counters', () => {
  it('lets requests through with one warning, then says when the counters answer again and how many went uncounted', async () => {
    const { createRateLimit } = await import('../../src/app/rate-limit.js');
    const { createWindowCounters } = await import('../../src/window-counters.js');
    const lines: { level: string; event?: string; requests?: number }[] = [];
    const logger = {
      warn: (f: { event?: string; requests?: number }) => void lines.push({ level: 'warn', ...f }),
      info: (f: { event?: string; requests?: number }) => void lines.push({ level: 'info', ...f }),
    } as unknown as Parameters<typeof createRateLimit>[0]['logger'];
    let down = 5;
    const local = createWindowCounters();
    const flaky: HostCounters = {
      hit: (key, limit, o) => (down-- > 0 ? Promise.reject(new Error('master did not answer')) : local.hit(key, limit, o)),
      peek: (key, limit, o) => local.peek(key, limit, o),
    };
    const limit = await createRateLimit({ perMinute: 100, logger, hostCounters: flaky });
    assert.ok(limit);
    for (let i = 0; i < 7; i++) assert.equal((await limit.consume('10.0.0.1')).allowed, true);
    assert.deepEqual(
      lines.map((l) => [l.level, l.event, l.requests]),
      [
        ['warn', 'ratelimit.unavailable', 1],
        ['info', 'ratelimit.recovered', 5],
      ],
    );
  });
});

describe('rate limit: a client known to be over, across a step of the system clock', () => {
  it("refuses its unrouted requests until its window's end, not an hour longer when the clock steps back an hour", async (t) => {
    const { createRateLimit } = await import('../../src/app/rate-limit.js');
    const logger = { warn: () => {}, info: () => {} } as unknown as Parameters<typeof createRateLimit>[0]['logger'];
    // The host counters end windows on the monotonic clock: 30 s left, whatever the wall clock says.
    const over: HostCounters = {
      hit: () => Promise.resolve({ allowed: false, remaining: 0, msBeforeReset: 30_000 }),
      peek: () => Promise.resolve({ allowed: false, remaining: 0, msBeforeReset: 30_000 }),
    };
    const limit = await createRateLimit({ perMinute: 5, logger, hostCounters: over });
    assert.ok(limit);
    assert.equal((await limit.consume('198.51.100.7')).allowed, false);
    const wall = Date.now;
    t.mock.method(Date, 'now', () => wall() - 3_600_000);
    const refused = limit.count('198.51.100.7');
    assert.ok(refused, 'still over: its window has not ended');
    assert.equal(refused.allowed, false);
    assert.ok(refused.resetSeconds <= 30, `Retry-After ${refused.resetSeconds} s, past the window's 30`);
  });
});
