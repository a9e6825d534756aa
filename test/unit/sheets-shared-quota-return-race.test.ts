// Two hosts of one sheet lose Redis together (a partition; Redis keeps its data), each spends its
// share alone, then reach Redis again one after the other (each link reconnects on its own
// backoff, up to 5 s apart). The README promises that the calls made alone are written back "so the
// minute around its return holds no more than the limit either".

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { RedisLink } from '../../src/redis/link.js';
import { systemClock } from '../../src/sheets/keeper/clock.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import { SharedQuota } from '../../src/sheets/keeper/shared-quota.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

const PREFIX = sharedPrefix('google sheet-race via emulator');

/** A unix-socket relay to Redis that can be cut and restored: one host's network path to it. */
class Path {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly path: string,
    private readonly target: string,
  ) {}
  async up(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((client) => {
      const upstream = connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.path, r));
    this.server = server;
  }
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

describe('quota shared through Redis: hosts coming back one after the other', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let log: CapturedLogger;
  const links: RedisLink[] = [];
  const quotas: SharedQuota[] = [];
  const paths: Path[] = [];

  beforeEach(async () => {
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const q of quotas.splice(0)) q.close();
    for (const l of links.splice(0)) await l.close();
    for (const p of paths.splice(0)) await p.down();
    log.close();
  });

  const host = async (name: string, perMinute: number): Promise<{ q: SharedQuota; link: RedisLink; path: Path }> => {
    const socket = server().socket;
    const path = new Path(join(socket, '..', `${name}.sock`), socket);
    paths.push(path);
    await path.up();
    const link = new RedisLink({ url: `unix://${path.path}`, logger: log.logger, pauseAfterFailureMs: 300, recoveredAfterMs: 300, commandTimeoutMs: 10_000 });
    links.push(link);
    await waitFor(() => link.ready, 10_000, `${name} connected`);
    // Presence ticks by hand only (as sheets-shared-quota.test.ts does).
    mock.timers.enable({ apis: ['setInterval'] });
    let q: SharedQuota;
    try {
      q = new SharedQuota({ link, prefix: PREFIX, perMinute: { read: perMinute, write: perMinute }, logger: log.logger, clock: systemClock });
    } finally {
      mock.timers.reset();
    }
    quotas.push(q);
    return { q, link, path };
  };

  it('no 61 s window holds more than the limit when the hosts reach Redis again a few seconds apart', async () => {
    const LIMIT = 6;
    const a = await host('a', LIMIT);
    const b = await host('b', LIMIT);
    // Each hears that two keepers are present (a write each: the reads' window stays empty).
    await b.q.take('write');
    await a.q.take('write');
    assert.equal(a.q.figures().sharedKeepers, 2);
    assert.equal(b.q.figures().sharedKeepers, 2);

    // Both hosts lose Redis; Redis keeps its data.
    await a.path.down();
    await b.path.down();
    await waitFor(() => !a.link.usable && !b.link.usable, 10_000, 'both links down');
    let made = 0;
    // Each spends its share alone: 6 / 2 keepers = 3.
    for (const h of [a, b]) {
      for (let i = 0; i < 3; i++) {
        await h.q.take('read');
        made++;
      }
    }
    assert.equal((a.q.figures().aloneQuotaGrants ?? 0) + (b.q.figures().aloneQuotaGrants ?? 0), 6);

    // A's path comes back first (its reconnect backoff fired first); B's a few seconds later.
    await a.path.up();
    await waitFor(() => a.link.usable, 20_000, 'A reconnected');
    // A has reads waiting (its host bucket holds 3 of its 6 tokens): each asks the shared window.
    for (let i = 0; i < 3; i++) {
      const granted = await Promise.race([a.q.take('read').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
      if (granted) made++;
    }
    await b.path.up();
    await waitFor(() => b.link.usable, 20_000, 'B reconnected');
    // B writes back its calls made alone (backdated) as it says it is present.
    const zcard = (): number => Number(server().cli('ZCARD', `${PREFIX}:quota:reads`).trim());
    await waitFor(() => zcard() >= made, 10_000, "B's write-back");
    const inWindow = zcard();
    assert.ok(made <= LIMIT && inWindow <= LIMIT, `reads sent to Google within one minute: ${made}; the shared window now holds ${inWindow}; the limit is ${LIMIT}`);
  });

  // The host still sharing cannot know the other's calls made alone until they are written back:
  // the window keeps room for what that host may spend alone from what it last read.
  it('no 61 s window holds more than the limit when one host alone loses Redis for a while (a partition, or its commands timing out)', async () => {
    const LIMIT = 6;
    const a = await host('a1', LIMIT);
    const b = await host('b1', LIMIT);
    await b.q.take('write');
    await a.q.take('write');
    assert.equal(b.q.figures().sharedKeepers, 2);
    const zcard = (): number => Number(server().cli('ZCARD', `${PREFIX}:quota:reads`).trim());
    // Only B loses Redis.
    await b.path.down();
    await waitFor(() => !b.link.usable, 10_000, 'B down');
    let made = 0;
    for (let i = 0; i < 3; i++) {
      await b.q.take('read');
      made++;
    }
    // A, still sharing through Redis, has reads waiting: the window it asks does not hold B's.
    for (let i = 0; i < LIMIT; i++) {
      const granted = await Promise.race([a.q.take('read').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
      if (granted) made++;
      else break;
    }
    await b.path.up();
    await waitFor(() => b.link.usable, 20_000, 'B reconnected');
    await waitFor(() => zcard() >= made, 10_000, "B's write-back");
    assert.ok(made <= LIMIT && zcard() <= LIMIT, `reads sent to Google within one minute: ${made}; the shared window now holds ${zcard()}; the limit is ${LIMIT}`);
  });

  it('no 61 s window holds more than the limit when a host that made no call during the outage reaches Redis first', async () => {
    const LIMIT = 6;
    const a = await host('a2', LIMIT);
    const b = await host('b2', LIMIT);
    await b.q.take('write');
    await a.q.take('write');
    const zcard = (): number => Number(server().cli('ZCARD', `${PREFIX}:quota:reads`).trim());
    await a.path.down();
    await b.path.down();
    await waitFor(() => !a.link.usable && !b.link.usable, 10_000, 'both links down');
    let made = 0;
    for (let i = 0; i < 3; i++) {
      await a.q.take('read');
      made++;
    }
    // B had no call to make during the outage; it reaches Redis first, then has reads to make.
    await b.path.up();
    await waitFor(() => b.link.usable, 20_000, 'B reconnected');
    for (let i = 0; i < LIMIT; i++) {
      const granted = await Promise.race([b.q.take('read').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
      if (granted) made++;
      else break;
    }
    await a.path.up();
    await waitFor(() => a.link.usable, 20_000, 'A reconnected');
    await waitFor(() => zcard() >= made, 10_000, "A's write-back");
    assert.ok(made <= LIMIT && zcard() <= LIMIT, `reads sent to Google within one minute: ${made}; the shared window now holds ${zcard()}; the limit is ${LIMIT}`);
  });
});
