// ioredis's own console lines (a password Redis does not ask for): said in corral's words, by the
// keeper's log and `corral check`, not as raw "[WARN]" lines on stderr.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { clientWarningText, routeClientWarnings } from '../../src/redis/client-warnings.js';
import { RedisLink } from '../../src/redis/link.js';
import { probeRedis } from '../../src/redis/probe.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

describe("ioredis's console lines", () => {
  it("are said in corral's words; other console.warn lines pass as they are, and nothing is taken once no one listens", () => {
    assert.match(clientWarningText("[WARN] This Redis server's `default` user does not require a password, but a password was supplied") ?? '', /^REDIS_URL gives a password, but Redis asks for none/);
    assert.match(clientWarningText('[WARN] Redis server does not require a password, but a password was supplied.') ?? '', /^REDIS_URL gives a password/);
    assert.equal(clientWarningText('[WARN] something else'), undefined);
    const warn = mock.method(console, 'warn', () => {});
    // routeClientWarnings wraps whatever console.warn is when first called: here, the mock.
    const said: string[] = [];
    const unroute = routeClientWarnings((t) => said.push(t));
    try {
      console.warn('[WARN] Redis server does not require a password, but a password was supplied.');
      console.warn('an app line');
      unroute();
      console.warn('[WARN] Redis server does not require a password, but a password was supplied.');
    } finally {
      unroute();
      warn.mock.restore();
    }
    assert.equal(said.length, 1);
    assert.deepEqual(
      warn.mock.calls.map((c) => c.arguments[0]),
      ['an app line', '[WARN] Redis server does not require a password, but a password was supplied.'],
    );
  });
});

describe('a password Redis does not ask for', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let log: CapturedLogger;
  beforeEach(async () => {
    log = await captureLogger();
  });
  afterEach(() => log.close());

  it("corral check's probe says it as a warning, and the keeper's link logs it once (redis.warning), not at every connection", async () => {
    const stderr = mock.method(process.stderr, 'write');
    try {
      const probe = await probeRedis(`${server().url}?password=not-needed`, 'corral:{probe}');
      assert.equal(probe.ok, true, JSON.stringify(probe));
      assert.ok(probe.ok && probe.warnings.some((w) => /^REDIS_URL gives a password, but Redis asks for none/.test(w)), JSON.stringify(probe));
      const link = new RedisLink({ url: `${server().url}?password=not-needed`, logger: log.logger, pauseAfterFailureMs: 0 });
      try {
        await waitFor(() => link.ready || undefined, 10_000, 'the link ready');
        await waitFor(() => log.lines().some((l) => l.event === 'redis.warning') || undefined, 10_000, 'redis.warning');
        // A new connection says it again to ioredis: not again to the log.
        link.client.disconnect(true);
        await waitFor(() => link.ready || undefined, 10_000, 'the link ready again');
      } finally {
        await link.close();
      }
      const lines = log.lines().filter((l) => l.event === 'redis.warning');
      assert.equal(lines.length, 1);
      assert.match(String(lines[0]?.msg), /^REDIS_URL gives a password, but Redis asks for none/);
    } finally {
      stderr.mock.restore();
    }
    assert.equal(stderr.mock.calls.filter((c) => String(c.arguments[0]).includes('[WARN]')).length, 0, 'no raw ioredis line on stderr');
  });
  it("a user without INFO (an ACL with -@dangerous, a common hardening): corral check passes, saying why the client's ready check is skipped, and the keeper shares, saying it once rather than ioredis at every connection", async () => {
    server().cli('ACL', 'SETUSER', 'nodanger', 'on', '>pw', '~corral:*', '+@all', '-@dangerous');
    const stderr = mock.method(process.stderr, 'write');
    try {
      const url = `${server().url}?user=nodanger&password=pw`;
      const probe = await probeRedis(url, 'corral:{probe}');
      assert.equal(probe.ok, true, JSON.stringify(probe));
      assert.ok(probe.ok && probe.warnings.some((w) => /may not run INFO/.test(w)), JSON.stringify(probe));
      const link = new RedisLink({ url, logger: log.logger, pauseAfterFailureMs: 0 });
      try {
        await waitFor(() => link.ready || undefined, 10_000, 'the link ready');
        link.client.disconnect(true);
        await waitFor(() => link.ready || undefined, 10_000, 'the link ready again');
      } finally {
        await link.close();
      }
      const lines = log.lines().filter((l) => l.event === 'redis.warning');
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.match(String(lines[0]?.msg), /may not run INFO/);
    } finally {
      stderr.mock.restore();
      server().cli('ACL', 'DELUSER', 'nodanger');
    }
    assert.equal(stderr.mock.calls.filter((c) => String(c.arguments[0]).includes('Skipping the ready check')).length, 0, 'no raw ioredis line on stderr');
  });
});
