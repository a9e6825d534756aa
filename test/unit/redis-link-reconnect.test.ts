// The keeper's link when its connection outlives the Redis it led to: REDIS_URL names an endpoint
// (a DNS name, a proxy) that leads to another server after a failover, while the connection the
// link holds still reaches the old one. Reconnecting is what reaches the new primary; the link
// must do it by itself, as the README promises ("it reconnects by itself"), not act alone until a
// restart.
//
// Two cases: the old primary, demoted, answers every write READONLY on the open connection
// (Redis's REPLICAOF keeps its clients connected; managed Redis services flip a DNS name and ask
// clients to reconnect on READONLY); and a connection that goes silent, its peer gone without a
// reset (a host powered off, a blackholed route, a proxy whose backend went away), where TCP
// gives up only after its retransmissions (about 15 minutes by Linux's default) or never (a
// proxy that keeps its side open).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RedisLink } from '../../src/redis/link.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import { SharedQuota } from '../../src/sheets/keeper/shared-quota.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis-server.js';

/** Only there to fail rather than hang. */
const PATIENCE_MS = 20_000;

/**
 * A proxy on a unix socket standing for REDIS_URL's endpoint: each new connection goes to the
 * socket `target` names then. `silence()` makes the connections open now go quiet both ways
 * (nothing forwarded, nothing closed), as a peer gone without a reset does.
 */
interface Endpoint {
  readonly url: string;
  target: string;
  readonly connections: () => number;
  silence(): void;
  close(): Promise<void>;
}

async function endpoint(target: string): Promise<Endpoint> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-redis-proxy-'));
  const path = join(dir, 'proxy.sock');
  const open = new Set<{ c: net.Socket; u: net.Socket; silent: boolean }>();
  let count = 0;
  const e: Endpoint = {
    url: `unix://${path}`,
    target,
    connections: () => count,
    silence() {
      for (const p of open) p.silent = true;
    },
    async close() {
      for (const p of open) {
        p.c.destroy();
        p.u.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const server = net.createServer((c) => {
    count++;
    const u = net.connect(e.target);
    const p = { c, u, silent: false };
    open.add(p);
    c.on('data', (d) => void (p.silent || u.write(d)));
    u.on('data', (d) => void (p.silent || c.write(d)));
    c.on('error', () => undefined);
    u.on('error', () => undefined);
    c.on('close', () => {
      open.delete(p);
      u.destroy();
    });
    u.on('close', () => {
      if (!p.silent) c.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return e;
}

describe('the Redis link, its endpoint leading elsewhere after a failover', { skip: redisMissing }, () => {
  let log: CapturedLogger;
  const cleanup: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
    log.close();
  });

  async function setUp(): Promise<{ a: RedisServer; b: RedisServer; proxy: Endpoint; link: RedisLink; quota: SharedQuota }> {
    const a = await startRedis();
    cleanup.push(() => a.stop());
    const b = await startRedis();
    cleanup.push(() => b.stop());
    const proxy = await endpoint(a.socket);
    cleanup.push(() => proxy.close());
    const link = new RedisLink({ url: proxy.url, logger: log.logger });
    cleanup.push(() => link.close());
    assert.equal(await link.whenReady(PATIENCE_MS), true);
    const quota = new SharedQuota({ link, prefix: sharedPrefix('google sheet-1 via emulator'), perMinute: { read: 600, write: 600 }, logger: log.logger });
    cleanup.push(() => quota.close());
    await quota.take('read');
    assert.equal(link.sharing, true);
    assert.equal(proxy.connections(), 1);
    return { a, b, proxy, link, quota };
  }

  it('the old primary, demoted, answers READONLY on the open connection: the link reconnects, reaches the new primary and shares again', async () => {
    const { a, b, proxy, link, quota } = await setUp();
    // The failover: new connections reach B; A becomes a replica (of a primary it cannot reach:
    // all that matters here is that it refuses writes) and keeps the link's connection open.
    proxy.target = b.socket;
    a.cli('REPLICAOF', '127.0.0.1', '1');
    await quota.take('read');
    assert.equal(link.sharing, false, 'refused: acting alone');
    assert.equal(link.refusedKind, 'writes');
    await waitFor(() => link.sharing, PATIENCE_MS, 'sharing again through a new connection, to the new primary');
    assert.ok(proxy.connections() >= 2, 'a new connection was made');
    const before = quota.figures().sharedQuotaGrants ?? 0;
    await quota.take('read');
    assert.equal(quota.figures().sharedQuotaGrants, before + 1, 'granted through Redis again');
    assert.ok(b.cli('KEYS', 'corral:*').trim() !== '', "the quota's keys are on the new primary");
  });

  it('the connection goes silent (its peer gone without a reset) while a new one would be answered: the link drops it and shares again', async () => {
    const { proxy, link, quota } = await setUp();
    proxy.silence();
    await quota.take('read');
    assert.equal(link.sharing, false, 'timed out: acting alone');
    await waitFor(() => link.sharing, PATIENCE_MS, 'sharing again through a new connection');
    assert.ok(proxy.connections() >= 2, 'a new connection was made');
  });
});
