// A rediss:// REDIS_URL against a real redis-server speaking TLS, its certificate signed by a CA of
// its own: the keeper's link and `corral check`'s probe connect with REDIS_TLS_CA_FILE, and
// without it they fail saying to set it. An address in the URL sends no server name (Node warns
// about one, RFC 6066 forbids it); the certificate is still checked against it.

import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { probeRedis } from '../../src/redis/probe.js';
import { RedisLink } from '../../src/redis/link.js';
import { schemeHint } from '../../src/redis/tls-ca.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { redisTlsMissing, startRedis, type RedisServer } from '../helpers/redis-server.js';

describe('Redis over TLS (rediss://)', { skip: redisTlsMissing }, () => {
  let server: RedisServer;
  let tls: { readonly port: number; readonly caFile: string };
  before(async () => {
    server = await startRedis({ tls: true });
    if (!server.tls) throw new Error('no TLS port');
    tls = server.tls;
  });
  after(async () => {
    await server.stop();
  });

  it('connects with REDIS_TLS_CA_FILE, by address and by name, and sends no server name for an address', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const log = await captureLogger();
    const links = [`rediss://127.0.0.1:${tls.port}`, `rediss://localhost:${tls.port}`].map((url) => new RedisLink({ url, tlsCaFile: tls.caFile, logger: log.logger }));
    try {
      for (const link of links) {
        assert.equal(await link.whenReady(5000), true, `connected to ${link.target}`);
        await link.client.set('corral:tls-check', '1', 'PX', 10_000);
        assert.equal(await link.client.get('corral:tls-check'), '1');
      }
      // Emitted on the next tick after the connection that caused it.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        warnings.map((w) => w.message),
        [],
        'no warning (an IP address as the TLS server name is one)',
      );
    } finally {
      process.off('warning', onWarning);
      for (const link of links) await link.close();
      log.close();
    }
  });

  it("without the CA, the link never connects and says to set REDIS_TLS_CA_FILE; so does corral check's probe", async () => {
    const log = await captureLogger();
    const link = new RedisLink({ url: `rediss://127.0.0.1:${tls.port}`, logger: log.logger });
    try {
      assert.equal(await link.whenReady(1500), false);
      let down: Record<string, unknown> | undefined;
      while (!(down = log.lines().find((l) => l.event === 'redis.unavailable'))) await new Promise((r) => setTimeout(r, 10));
      assert.equal(down.code, 'CORRAL_ERR_REDIS');
      assert.match(String(down.msg), /not signed by a CA this host trusts: set REDIS_TLS_CA_FILE/);
    } finally {
      await link.close();
      log.close();
    }
    const refused = await probeRedis(`rediss://127.0.0.1:${tls.port}`, 'corral:{probe}');
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.message, /^connect failed: .*: the server's certificate is not signed by a CA this host trusts: set REDIS_TLS_CA_FILE/);
    const ok = await probeRedis(`rediss://127.0.0.1:${tls.port}`, 'corral:{probe}', tls.caFile);
    assert.equal(ok.ok, true, ok.ok ? '' : ok.message);
  });

  it('redis:// (no TLS) to the TLS port: the probe and the link suggest rediss://', async () => {
    const probe = await probeRedis(`redis://127.0.0.1:${tls.port}`, 'corral:{probe}');
    assert.equal(probe.ok, false);
    assert.match(probe.ok ? '' : probe.message, /^connect failed: .*: a Redis port that takes TLS resets plain connections so: if this one does \(a managed Redis, a tls-port\), use rediss:\/\/ in REDIS_URL$/);
    const log = await captureLogger();
    const link = new RedisLink({ url: `redis://127.0.0.1:${tls.port}`, logger: log.logger });
    try {
      let down: Record<string, unknown> | undefined;
      while (!(down = log.lines().find((l) => l.event === 'redis.unavailable'))) await new Promise((r) => setTimeout(r, 10));
      assert.match(String(down.msg), /use rediss:\/\/ in REDIS_URL/);
    } finally {
      await link.close();
      log.close();
    }
  });

  it('a certificate that does not name the host in REDIS_URL is refused, saying so', async () => {
    const probe = await probeRedis(`rediss://127.0.0.2:${tls.port}`, 'corral:{probe}', tls.caFile);
    assert.equal(probe.ok, false);
    assert.match(probe.ok ? '' : probe.message, /^connect failed: .*127\.0\.0\.2.*: the server's certificate does not name the host in REDIS_URL/);
  });
});

test("the scheme hint: a reset to redis:// suggests rediss://, a handshake unanswered or no TLS to rediss:// suggests redis://, nothing else", () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  assert.match(schemeHint(err('ECONNRESET'), false) ?? '', /use rediss:\/\//);
  for (const code of ['ETIMEDOUT', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER']) assert.match(schemeHint(err(code), true) ?? '', /use redis:\/\//, code);
  for (const [code, tls] of [['ECONNREFUSED', false], ['ECONNREFUSED', true], ['ETIMEDOUT', false], ['ECONNRESET', true]] as const) assert.equal(schemeHint(err(code), tls), undefined, `${code}, tls ${tls}`);
  assert.equal(schemeHint(new Error('no code'), true), undefined);
});
