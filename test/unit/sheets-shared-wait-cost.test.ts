// A host waiting for another host's refresh of a large range must not pull the old copy from
// Redis again and again while it waits: it already took that copy.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RedisLink } from '../../src/redis/link.js';
import type { Clock } from '../../src/sheets/keeper/clock.js';
import { ReadTier } from '../../src/sheets/keeper/read-tier.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import { SharedRanges } from '../../src/sheets/keeper/shared-ranges.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

const BIG = [['name', 'code'], ...Array.from({ length: 20_000 }, (_, i) => [`Player ${i} ${'x'.repeat(60)}`, `P${i}`])];
// Time on both hosts' clock, which the test moves past the TTL instead of sleeping it out: a TTL of
// wall time (1.5 s) was over before B adopted A's 1.7 MB copy on a machine under heavy load, and B
// served it stale where the test needs it fresh.
const TTL = 60_000;
let clockAhead = 0;
const clock: Clock = {
  now: () => Date.now() + clockAhead,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

describe('a host waiting for another host to refresh a range', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let log: CapturedLogger;
  const made: { link: RedisLink; tier: ReadTier }[] = [];
  beforeEach(async () => {
    clockAhead = 0;
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const h of made.splice(0)) {
      h.tier.close();
      await h.link.close();
    }
    log.close();
  });

  const host = (name: string) => {
    const source = 'google big-sheet via emulator';
    const backend = new FakeBackend({ Players: BIG });
    backend.source = source;
    const link = new RedisLink({ url: server().url, logger: log.logger });
    const shared = new SharedRanges({ link, prefix: sharedPrefix(source), keepMs: TTL + 60_000, claimMs: 10_000, ownerId: name, logger: log.logger });
    const tier = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: 60_000, maxBytes: 64 << 20, shared, sharedWaitMs: 10_000, clock });
    made.push({ link, tier });
    return { backend, link, tier };
  };

  it('does not GET the copy it already holds every poll', async () => {
    const [a, b] = [host('a'), host('b')];
    for (const h of [a, b]) while (!h.link.ready) await new Promise((r) => setTimeout(r, 10));
    await a.tier.get('Players');
    const key = `${sharedPrefix('google big-sheet via emulator')}:range:Players`;
    await waitFor(() => server().cli('EXISTS', key).trim() === '1', 10_000, 'shared');
    const adopted = await b.tier.get('Players');
    assert.equal(b.backend.count('get', 'Players'), 0);
    assert.equal(adopted.via, 'fresh');
    const bytes = Number(server().cli('STRLEN', key).trim());
    clockAhead += TTL + 50;
    // A's refresh is at Google (slow: a large range, or waiting for its quota slot).
    a.backend.hold();
    await a.tier.get('Players'); // stale, refresh started
    await waitFor(() => a.backend.count('get', 'Players') === 2, 10_000, "a's refresh at Google");
    server().cli('CONFIG', 'RESETSTAT');
    await b.tier.get('Players'); // stale, refresh started: waits for A's claim
    // Waiting indeed, before the second of waiting is counted: a refresh that gave up, or had
    // not begun, made no GET either, and passed for a wait that pulls nothing.
    await waitFor(() => (b.tier.figures().sharedFetchWaits ?? 0) >= 1 || undefined, 10_000, "b waiting for a's claim");
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(b.tier.figures().sharedFetchWaits, 1, 'b still waiting on the one claim');
    const stats = server().cli('INFO', 'commandstats');
    const gets = Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    const out = Number(/total_net_output_bytes:(\d+)/.exec(server().cli('INFO', 'stats'))?.[1] ?? 0);
    console.log(`value ${bytes} bytes; in 1 s of waiting: ${gets} GETs, ${out} bytes sent by Redis`);
    a.backend.release();
    assert.equal(b.backend.count('get', 'Players'), 0, 'b waited, no fetch of its own');
    assert.ok(gets <= 2, `b pulled its own copy ${gets} times (${out} bytes) while waiting`);
  });
});
