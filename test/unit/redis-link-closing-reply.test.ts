// A Redis that answers a new connection with an error and closes it before any command: protected
// mode (no password set, and the host not on its loopback: the first thing an operator meets
// when a second host shares the Redis of the first) and maxclients. ioredis takes that error as
// the answer to the CLIENT SETINFO it sends first, whose errors it ignores, and then sees the
// connection closed: the keeper said "unreachable (connection closed)" and nothing of Redis's own
// words, which say what is wrong and how to fix it. And Redis closes with those commands unread,
// which resets the connection: the client may see only "write EPIPE", and the reason is asked
// for again on a connection that sends nothing (greeting.ts).

import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RedisLink } from '../../src/redis/link.js';
import { probeRedis } from '../../src/redis/probe.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

const DENIED = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface.\r\n";
const MAX_CLIENTS = '-ERR max number of clients reached\r\n';

/** A server that writes `reply` to each connection and closes it, as Redis does. */
async function closingServer(reply: string): Promise<{ server: Server; url: string }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    // As Redis does: the reply, then the connection closed, with what the client wrote unread,
    // which resets it (the client may see only the reset); a client that wrote nothing reads it.
    socket.write(reply, () => setTimeout(() => (socket.bytesRead > 0 ? socket.resetAndDestroy() : socket.end()), 5));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `redis://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('the Redis link, a connection Redis closes with an error of its own', () => {
  let log: CapturedLogger;
  let link: RedisLink | undefined;
  let server: Server | undefined;
  const redisEvents = () => log.lines().filter((l) => typeof l.event === 'string' && l.event.startsWith('redis.'));

  beforeEach(async () => {
    log = await captureLogger();
  });
  afterEach(async () => {
    await link?.close();
    server?.close();
    log.close();
  });

  it("protected mode: one redis.misconfigured (login) with Redis's DENIED and the fix, no unavailable line, however often the link reconnects", async () => {
    const s = await closingServer(DENIED);
    server = s.server;
    link = new RedisLink({ url: s.url, logger: log.logger });
    assert.equal(await link.whenReady(1500), false);
    await waitFor(() => redisEvents().length > 0 || undefined, 5000, 'a redis line');
    const said = redisEvents();
    assert.deepEqual(said.map((l) => l.event), ['redis.misconfigured'], JSON.stringify(said));
    assert.equal(said[0]?.refused, 'login');
    assert.match(String(said[0]?.msg), /DENIED Redis is running in protected mode/);
    assert.match(String(said[0]?.fix), /protected mode/);
    assert.match(String(said[0]?.fix), /password/);
    assert.equal(link.refusedKind, 'login');
    assert.equal(link.sharing, false);
  });

  it("maxclients: redis.unavailable naming Redis's words, not a bare connection closed", async () => {
    const s = await closingServer(MAX_CLIENTS);
    server = s.server;
    link = new RedisLink({ url: s.url, logger: log.logger });
    await waitFor(() => redisEvents().length > 0 || undefined, 5000, 'a redis line');
    const said = redisEvents();
    assert.deepEqual(said.map((l) => l.event), ['redis.unavailable'], JSON.stringify(said));
    assert.match(String(said[0]?.msg), /max number of clients reached/);
    assert.equal(link.refusedKind, undefined);
  });

  it("corral check's probe: says Redis's DENIED with the fix, as refused, not \"Connection is closed\"", async () => {
    const s = await closingServer(DENIED);
    server = s.server;
    const probe = await probeRedis(s.url, 'corral:check-test');
    assert.equal(probe.ok, false);
    assert.ok(!probe.ok && probe.refused, 'refused: a setting to change, not an outage');
    assert.match(probe.ok ? '' : probe.message, /^connect failed: DENIED Redis is running in protected mode.*: Redis takes connections without a password from its own host only/);
  });
});

describe('the Redis link, a real Redis at its maxclients', { skip: redisMissing }, () => {
  const server = redisPerSuite();

  it("the connection Redis resets as it refuses it (the client's first commands unread): corral check says Redis's words, not write EPIPE", async () => {
    server().cli('CONFIG', 'SET', 'maxclients', '1');
    // The one client Redis takes.
    const held = connect(server().socket);
    await new Promise<void>((resolve) => held.once('connect', () => resolve()));
    try {
      const probe = await probeRedis(server().url, 'corral:check-test');
      assert.match(probe.ok ? '' : probe.message, /^connect failed: ERR max number of clients reached/);
    } finally {
      held.destroy();
      await waitFor(() => server().cli('CONFIG', 'SET', 'maxclients', '10000').includes('OK') || undefined, 5000, 'maxclients restored');
    }
  });
});
