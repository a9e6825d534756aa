// Which proxy a call to Google goes through (proxy.ts), checked against what undici's dispatcher
// really does, and the proxy's failures told apart from Google's (proxy-errors.ts).

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { mapApiError, mapTransportError, type ErrorContext } from '../../src/sheets/google/error-map.js';
import { mapTokenError } from '../../src/sheets/google/token-error-map.js';
import { httpCall, TransportError } from '../../src/sheets/google/http.js';
import { proxyText } from '../../src/sheets/google/backend.js';
import { googleDispatcher, proxyRoute, type ProxySettings } from '../../src/sheets/google/proxy.js';
import { freePort } from '../helpers/ports.js';
import { startForwardProxy } from '../fixtures/forward-proxy.js';

const settings = (s: Partial<ProxySettings>): ProxySettings => ({ HTTPS_PROXY: undefined, HTTP_PROXY: undefined, NO_PROXY: undefined, ...s });

describe('proxyRoute', () => {
  const google = new URL('https://sheets.googleapis.com');
  const token = new URL('https://oauth2.googleapis.com/token');

  it('https:// goes through HTTPS_PROXY, else HTTP_PROXY (as undici; curl would go direct); http:// through HTTP_PROXY only', () => {
    assert.equal(proxyRoute(settings({ HTTPS_PROXY: 'http://a:3128', HTTP_PROXY: 'http://b:3128' }), google)?.shown, 'http://a:3128');
    assert.deepEqual(proxyRoute(settings({ HTTP_PROXY: 'http://b:3128' }), google), { setting: 'HTTP_PROXY', shown: 'http://b:3128', credentials: false });
    assert.equal(proxyRoute(settings({ HTTPS_PROXY: 'http://a:3128' }), new URL('http://127.0.0.1:8085')), undefined);
    assert.equal(proxyRoute(settings({}), google), undefined);
  });

  it('names the proxy without its password', () => {
    assert.deepEqual(proxyRoute(settings({ HTTPS_PROXY: 'http://svc:hunter2@proxy:3128' }), google), { setting: 'HTTPS_PROXY', shown: 'http://svc:***@proxy:3128', credentials: true });
  });

  it('NO_PROXY: a host covers its subdomains; a leading . or *. is the same; a port limits it; * alone is all', () => {
    const p = (NO_PROXY: string, url: URL) => proxyRoute(settings({ HTTPS_PROXY: 'http://a:3128', NO_PROXY }), url);
    assert.equal(p('googleapis.com', google), undefined);
    assert.equal(p('.googleapis.com', token), undefined);
    assert.equal(p('*.googleapis.com', token), undefined);
    assert.equal(p('sheets.googleapis.com', token)?.setting, 'HTTPS_PROXY');
    assert.equal(p('googleapis.com:443', google), undefined);
    assert.equal(p('googleapis.com:8443', google)?.setting, 'HTTPS_PROXY');
    assert.equal(p('*', google), undefined);
    assert.equal(p('apis.com', google)?.setting, 'HTTPS_PROXY', 'a suffix that is not a whole label');
    assert.equal(p('10.0.0.0/8', new URL('https://10.1.2.3'))?.setting, 'HTTPS_PROXY', 'no CIDR matching');
  });

  it('loopback is not implied: 127.0.0.1 goes through the proxy unless NO_PROXY names it', () => {
    const local = new URL('http://127.0.0.1:8085');
    assert.equal(proxyRoute(settings({ HTTP_PROXY: 'http://a:3128' }), local)?.setting, 'HTTP_PROXY');
    assert.equal(proxyRoute(settings({ HTTP_PROXY: 'http://a:3128', NO_PROXY: 'localhost' }), local)?.setting, 'HTTP_PROXY');
    assert.equal(proxyRoute(settings({ HTTP_PROXY: 'http://a:3128', NO_PROXY: 'localhost,127.0.0.1' }), local), undefined);
  });
});

describe('proxyText (the startup line and corral check)', () => {
  const a = { setting: 'HTTPS_PROXY' as const, shown: 'http://a:3128', credentials: false };
  it('names the proxy once, the token requests apart only when they go another way', () => {
    assert.equal(proxyText({ api: undefined, token: undefined, tokens: true }), '');
    assert.equal(proxyText({ api: a, token: a, tokens: true }), ' through the proxy http://a:3128 (HTTPS_PROXY)');
    assert.equal(proxyText({ api: a, token: undefined, tokens: false }), ' through the proxy http://a:3128 (HTTPS_PROXY)', 'an API key: no token requests');
    assert.equal(proxyText({ api: a, token: undefined, tokens: true }), ' through the proxy http://a:3128 (HTTPS_PROXY) (token requests: direct)');
    assert.equal(proxyText({ api: undefined, token: a, tokens: true }), ' (token requests through the proxy http://a:3128 (HTTPS_PROXY))');
  });
});

describe('proxyRoute agrees with the dispatcher undici builds', () => {
  let server: Server;
  let port: number;
  let deadProxy: string;
  before(async () => {
    server = createServer((_req, res) => res.end('direct'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    // Nothing listens there: a call routed through it fails to connect, a direct one is answered.
    deadProxy = `http://127.0.0.1:${await freePort()}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const noProxy of ['', '127.0.0.1', 'localhost', '*', 'PORT', '127.0.0.1:1', '.0.0.1', 'example.com 127.0.0.1']) {
    it(`NO_PROXY=${JSON.stringify(noProxy)}`, async () => {
      const s = settings({ HTTP_PROXY: deadProxy, NO_PROXY: noProxy.replace('PORT', `127.0.0.1:${port}`) || undefined });
      const origin = `http://127.0.0.1:${port}`;
      const dispatcher = googleDispatcher(s, { connect: { timeout: 2000 } });
      try {
        const direct = await httpCall(dispatcher, { origin, path: '/', method: 'GET', headers: {}, timeoutMs: 5000 }).then(
          () => true,
          () => false,
        );
        assert.equal(proxyRoute(s, new URL(origin)) === undefined, direct, `proxyRoute says ${direct ? 'proxied' : 'direct'}, undici went ${direct ? 'direct' : 'to the proxy'}`);
      } finally {
        await dispatcher.close();
      }
    });
  }
});

describe('proxy credentials: each proxy gets those of its own URL', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((_req, res) => res.end('relayed'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('a user with no password (a token as the user name) is sent as Basic user:, as curl sends it, to absolute-form requests and to CONNECT; user:password beside it to its own proxy', async () => {
    for (const userOnly of ['tok3n', 'tok3n:']) {
      const tokenProxy = await startForwardProxy({ requireAuth: { user: 'tok3n', password: '' } });
      const passwordProxy = await startForwardProxy({ requireAuth: { user: 'u', password: 'p@ss' } });
      const s = settings({ HTTP_PROXY: `http://${userOnly}@127.0.0.1:${tokenProxy.port}`, HTTPS_PROXY: `http://u:p%40ss@127.0.0.1:${passwordProxy.port}` });
      const dispatcher = googleDispatcher(s, { connect: { timeout: 2000 } });
      try {
        const res = await httpCall(dispatcher, { origin: `http://127.0.0.1:${port}`, path: '/', method: 'GET', headers: {}, timeoutMs: 5000 });
        assert.deepEqual([res.status, res.body.toString()], [200, 'relayed'], `${userOnly}: the token proxy relayed the http:// call`);
        // An https:// target tunnels through HTTPS_PROXY: the tunnel opens (the TLS after it, to a
        // plain server, fails: not the point).
        await httpCall(dispatcher, { origin: `https://127.0.0.1:${port}`, path: '/', method: 'GET', headers: {}, timeoutMs: 5000 }).catch(() => undefined);
        assert.deepEqual([tokenProxy.counts().forwarded, tokenProxy.counts().refused], [1, 0], `${userOnly}: token proxy`);
        assert.deepEqual([passwordProxy.counts().connect, passwordProxy.counts().refused], [1, 0], `${userOnly}: password proxy`);
      } finally {
        await dispatcher.close();
        await tokenProxy.close();
        await passwordProxy.close();
      }
    }
  });

  it('a token user alone in HTTPS_PROXY opens the CONNECT tunnel too', async () => {
    const tokenProxy = await startForwardProxy({ requireAuth: { user: 'tok3n', password: '' } });
    const dispatcher = googleDispatcher(settings({ HTTPS_PROXY: `http://tok3n@127.0.0.1:${tokenProxy.port}` }), { connect: { timeout: 2000 } });
    try {
      await httpCall(dispatcher, { origin: `https://127.0.0.1:${port}`, path: '/', method: 'GET', headers: {}, timeoutMs: 5000 }).catch(() => undefined);
      assert.deepEqual([tokenProxy.counts().connect, tokenProxy.counts().refused], [1, 0]);
    } finally {
      await dispatcher.close();
      await tokenProxy.close();
    }
  });
});

describe('proxy failures are the proxy\'s, not Google\'s', () => {
  const route = { setting: 'HTTPS_PROXY' as const, shown: 'http://proxy.corp:3128', credentials: false };
  const ctx = (proxy = true): ErrorContext => ({
    operation: 'values.get',
    spreadsheetId: 'sheet',
    ranges: ['Players'],
    auth: { kind: 'service-account', clientEmail: 'svc@p.iam.gserviceaccount.com', source: 'GOOGLE_APPLICATION_CREDENTIALS=/k.json' },
    write: false,
    host: 'sheets.googleapis.com',
    ...(proxy ? { proxy: route } : {}),
  });
  const tunnel = (status: number) =>
    new TransportError('queued', 'network', `Proxy response (${status}) !== 200 when HTTP Tunneling`, Object.assign(new Error(`Proxy response (${status}) !== 200 when HTTP Tunneling`), { code: 'UND_ERR_ABORTED' }));

  it('407 to CONNECT: CORRAL_ERR_SHEETS_PROXY, not retried, nothing applied, says how to give the password', () => {
    const e = mapTransportError(tunnel(407), ctx());
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_PROXY');
    assert.deepEqual([e.status, e.reason, e.applied, e.retryable], [407, 'PROXY_AUTH', 'no', false]);
    assert.match(e.message, /^the proxy http:\/\/proxy\.corp:3128 \(HTTPS_PROXY\) answered 407 Proxy Authentication Required to values\.get on sheets\.googleapis\.com, so Google was not reached: it wants a user and password: write them in HTTPS_PROXY=http:\/\/user:password@host:port$/);
    const wrong = mapTransportError(tunnel(407), { ...ctx(), proxy: { ...route, credentials: true } });
    assert.match(wrong.message, /it refused the user and password in HTTPS_PROXY/);
  });

  it('403 to CONNECT: the proxy\'s rules, with NO_PROXY as the way round', () => {
    const e = mapTransportError(tunnel(403), ctx());
    assert.deepEqual([e.code, e.reason, e.retryable], ['CORRAL_ERR_SHEETS_PROXY', 'PROXY_REFUSED', false]);
    assert.match(e.message, /refused \(403 Forbidden\) to relay values\.get on sheets\.googleapis\.com.*add sheets\.googleapis\.com to NO_PROXY/);
  });

  it('502 to CONNECT: the proxy could not reach Google, retried', () => {
    const e = mapTransportError(tunnel(502), ctx());
    assert.deepEqual([e.code, e.retryable, e.applied], ['CORRAL_ERR_SHEETS_PROXY', true, 'no']);
  });

  it('407 to an absolute-form request (http:// target), and a 403 page without Google\'s envelope', () => {
    const abs = new TransportError('sent', 'network', 'Proxy Authentication Required (407)', Object.assign(new Error('Proxy Authentication Required (407)'), { code: 'UND_ERR_INVALID_ARG' }));
    assert.deepEqual([mapTransportError(abs, ctx()).reason, mapTransportError(abs, ctx()).applied], ['PROXY_AUTH', 'no']);
    const page = { status: 403, headers: {}, body: Buffer.from('<html><body>Access denied by policy</body></html>') };
    assert.equal(mapApiError(page, ctx()).code, 'CORRAL_ERR_SHEETS_PROXY');
    assert.equal(mapApiError(page, ctx(false)).code, 'CORRAL_ERR_SHEETS_FORBIDDEN', 'without a proxy: as before');
    const google403 = { status: 403, headers: {}, body: Buffer.from(JSON.stringify({ error: { code: 403, message: 'The caller does not have permission', status: 'PERMISSION_DENIED' } })) };
    assert.equal(mapApiError(google403, ctx()).code, 'CORRAL_ERR_SHEETS_FORBIDDEN', "Google's own 403 through the proxy is Google's");
    const tokenCtx = { ...ctx(), operation: 'token' as const, host: 'oauth2.googleapis.com' };
    assert.equal(mapTokenError({ status: 407, headers: {}, body: Buffer.from('') }, tokenCtx).code, 'CORRAL_ERR_SHEETS_PROXY');
  });

  it('a certificate this host does not trust, through a proxy (one inspecting TLS): CORRAL_ERR_SHEETS_PROXY naming it and NODE_EXTRA_CA_CERTS, not retried; without a proxy, as before', () => {
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']) {
      const untrusted = new TransportError('queued', 'network', 'self-signed certificate', Object.assign(new Error('self-signed certificate'), { code }));
      const e = mapTransportError(untrusted, ctx());
      assert.deepEqual([e.code, e.reason, e.retryable, e.applied], ['CORRAL_ERR_SHEETS_PROXY', 'PROXY_TLS', false, 'no'], code);
      assert.match(e.message, new RegExp(`^values\\.get on sheets\\.googleapis\\.com through the proxy http://proxy\\.corp:3128 \\(HTTPS_PROXY\\) presented a certificate this host does not trust \\(${code}\\).*NODE_EXTRA_CA_CERTS=/path/to/proxy-ca\\.pem.*add sheets\\.googleapis\\.com to NO_PROXY`));
      assert.notEqual(mapTransportError(untrusted, ctx(false)).code, 'CORRAL_ERR_SHEETS_PROXY', 'without a proxy: not a proxy error');
    }
    const plain = new TransportError('queued', 'network', 'wrong version number', Object.assign(new Error('SSL routines:ssl3_get_record:wrong version number\n'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }));
    const e = mapTransportError(plain, ctx());
    assert.deepEqual([e.code, e.reason], ['CORRAL_ERR_SHEETS_PROXY', 'PROXY_TLS']);
    assert.match(e.message, /got no TLS answer to its handshake \(ERR_SSL_WRONG_VERSION_NUMBER\)/);
    assert.doesNotMatch(e.message, /\n/);
  });

  it('a deadline met through a proxy names the proxy (a hung or blackholed proxy was said as Google, or the token endpoint, not answering); without one, as before', () => {
    const queued = new TransportError('queued', 'timeout', 'no complete answer within 10000 ms');
    const sent = new TransportError('sent', 'timeout', 'no complete answer within 10000 ms');
    for (const err of [queued, sent]) {
      const e = mapTransportError(err, ctx());
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_TIMEOUT');
      assert.match(e.message, /through the proxy http:\/\/proxy\.corp:3128 \(HTTPS_PROXY\)/, e.message);
      const token = mapTransportError(err, { ...ctx(), operation: 'token', host: 'oauth2.googleapis.com' });
      assert.match(token.message, /^the token endpoint oauth2\.googleapis\.com .*through the proxy http:\/\/proxy\.corp:3128 \(HTTPS_PROXY\)/, token.message);
      assert.doesNotMatch(mapTransportError(err, ctx(false)).message, /proxy/);
    }
    // Never connected: through a proxy, corral connects to nothing but the proxy.
    assert.match(mapTransportError(queued, ctx()).message, /check that the proxy runs and that HTTPS_PROXY names it/);
  });

  it('the proxy unreachable: CORRAL_ERR_SHEETS_PROXY naming it, retried; without a proxy, Google unreachable as before', () => {
    const refused = new TransportError('queued', 'network', 'connect ECONNREFUSED 10.0.0.5:3128', Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:3128'), { code: 'ECONNREFUSED' }));
    const e = mapTransportError(refused, ctx());
    assert.deepEqual([e.code, e.reason, e.retryable, e.applied], ['CORRAL_ERR_SHEETS_PROXY', 'PROXY_UNREACHABLE', true, 'no']);
    assert.match(e.message, /^cannot reach the proxy http:\/\/proxy\.corp:3128 \(HTTPS_PROXY\) for values\.get on sheets\.googleapis\.com/);
    assert.equal(mapTransportError(refused, ctx(false)).code, 'CORRAL_ERR_SHEETS_UNAVAILABLE');
    const reset = new TransportError('sent', 'network', 'other side closed', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    assert.equal(mapTransportError(reset, ctx()).code, 'CORRAL_ERR_SHEETS_UNAVAILABLE', 'after the request was sent: not known to be the proxy');
  });
});
