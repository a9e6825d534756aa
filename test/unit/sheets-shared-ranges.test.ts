// Two hosts' read tiers sharing ranges through a real redis-server: a range one host fetched is
// served by the other without reading Google; concurrent misses on both hosts make one upstream
// call; Redis away, each host reads Google itself; a copy the journal could not complete is refused;
// a range too large to share is read by each host itself, without waiting on the other's claim;
// a copy time-stamped ahead of this host's clock is not served as fresh again and again; a host
// whose Redis user may not run scripts shares nothing, and the others do not wait on it.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RedisLink } from '../../src/redis/link.js';
import type { RedisLinkOptions } from '../../src/redis/link-options.js';
import { ReadTier, type ReadTierOptions } from '../../src/sheets/keeper/read-tier.js';
import { SHARED_CLOCK_ALLOWANCE_MS } from '../../src/sheets/keeper/shared-copy.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import { SharedQuota } from '../../src/sheets/keeper/shared-quota.js';
import { SharedRanges, type SharedRangesOptions } from '../../src/sheets/keeper/shared-ranges.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

const PLAYERS = [
  ['name', 'code'],
  ['Alice', 'P001'],
];
const TTL = 30_000;

interface Host {
  readonly backend: FakeBackend;
  readonly link: RedisLink;
  readonly tier: ReadTier;
  readonly changes: string[];
}

describe('ranges shared through Redis', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let log: CapturedLogger;
  const hosts: Host[] = [];

  const host = (extra: Partial<ReadTierOptions> = {}, source = 'google sheet-1 via emulator', ranges: Partial<SharedRangesOptions> = {}, linkOptions: Partial<RedisLinkOptions> = {}): Host => {
    const backend = new FakeBackend({ Players: PLAYERS });
    backend.source = source;
    const link = new RedisLink({ url: server().url, logger: log.logger, ...linkOptions });
    const shared = new SharedRanges({ link, prefix: sharedPrefix(source), keepMs: TTL + 60_000, claimMs: 5000, ownerId: `host-${hosts.length}`, logger: log.logger, ...ranges });
    const changes: string[] = [];
    const tier = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: 60_000, maxBytes: 1 << 20, shared, sharedWaitMs: 5000, onChange: (r) => changes.push(r), ...extra });
    const h = { backend, link, tier, changes };
    hosts.push(h);
    return h;
  };
  /** Until a host's fetch of `range` is in Redis (written after its answer). */
  const sharedInRedis = async (range: string, source = 'google sheet-1 via emulator') => {
    while (server().cli('EXISTS', `${sharedPrefix(source)}:range:${range}`).trim() !== '1') await new Promise((r) => setTimeout(r, 5));
  };
  const connected = async (...hs: Host[]) => {
    for (const h of hs) while (!h.link.ready) await new Promise((r) => setTimeout(r, 10));
  };

  beforeEach(async () => {
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) {
      h.tier.close();
      await h.link.close();
    }
    log.close();
  });

  it("serves a range another host fetched, without reading Google, with the fetch's times less the clock allowance", async () => {
    const [a, b] = [host(), host()];
    await connected(a, b);
    const first = await a.tier.get('Players');
    assert.equal(first.via, 'miss');
    await sharedInRedis('Players');
    const second = await b.tier.get('Players');
    assert.equal(b.backend.count('get', 'Players'), 0, 'host B read nothing from Google');
    assert.equal(second.via, 'fresh');
    assert.deepEqual(second.value.values, PLAYERS);
    // Through the wall clock (whole ms, against the keeper's monotonic one): to a few milliseconds.
    // Each conversion reads the two clocks one after the other, and a busy machine can preempt the
    // process between the two reads (a CPU hog beside it: 2 ms failed); the allowance is 5 s.
    const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 25, `${a} vs ${b}`);
    near(second.value.fetchedAt, first.value.fetchedAt);
    near(second.value.fetchStartedAt, first.value.fetchStartedAt - SHARED_CLOCK_ALLOWANCE_MS);
    assert.equal(b.tier.figures().sharedReads, 1);
    assert.deepEqual(b.changes, [], 'a first fill is no change');
  });

  it('concurrent misses on two hosts make one upstream call: the other host waits for its value', async () => {
    // The claim and the wait for its value last longer than this test: a busy machine cannot let
    // the waiter give up and fetch too (5 s each before).
    const [a, b] = [host({ sharedWaitMs: 600_000 }, undefined, { claimMs: 600_000 }), host({ sharedWaitMs: 600_000 }, undefined, { claimMs: 600_000 })];
    await connected(a, b);
    a.backend.hold();
    b.backend.hold();
    const readsA = Array.from({ length: 20 }, () => a.tier.get('Players'));
    const readsB = Array.from({ length: 20 }, () => b.tier.get('Players'));
    const calls = () => a.backend.count('get', 'Players') + b.backend.count('get', 'Players');
    // One host's fetch is at Google (held there), and the other host found its claim and waits.
    await waitFor(() => calls() >= 1 && (a.tier.figures().sharedFetchWaits ?? 0) + (b.tier.figures().sharedFetchWaits ?? 0) >= 1, 30_000, 'a fetch and a host waiting for it');
    assert.equal(calls(), 1, 'one host fetches, the other waits for it');
    a.backend.release();
    b.backend.release();
    const answers = await Promise.all([...readsA, ...readsB]);
    for (const x of answers) assert.deepEqual(x.value.values, PLAYERS);
    assert.equal(a.backend.count('get', 'Players') + b.backend.count('get', 'Players'), 1);
    const waiter = a.backend.count('get', 'Players') === 1 ? b : a;
    assert.equal(waiter.tier.figures().sharedFetchWaits, 1);
  });

  it('a fetch that outlasts the claim (waiting for a slot of the shared quota window) keeps it: the other host waits for its value, not a fetch of its own', async () => {
    // A claim of 300 ms and a fetch held for 1.5 s, five claims' worth: the holder renews it every
    // third; lapsed, the waiter claimed the range and fetched it too, a read per host.
    const [a, b] = [host({ sharedWaitMs: 300 }, undefined, { claimMs: 300 }), host({ sharedWaitMs: 300 }, undefined, { claimMs: 300 })];
    await connected(a, b);
    a.backend.hold();
    b.backend.hold();
    const readA = a.tier.get('Players');
    const readB = b.tier.get('Players');
    const calls = () => a.backend.count('get', 'Players') + b.backend.count('get', 'Players');
    await waitFor(() => calls() >= 1 && (a.tier.figures().sharedFetchWaits ?? 0) + (b.tier.figures().sharedFetchWaits ?? 0) >= 1, 30_000, 'a fetch and a host waiting for it');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(calls(), 1, 'the waiter did not fetch once the claim would have lapsed');
    a.backend.release();
    b.backend.release();
    for (const x of await Promise.all([readA, readB])) assert.deepEqual(x.value.values, PLAYERS);
    assert.equal(calls(), 1);
  });

  it("a waiter whose holder shared its value and released the claim while it waited takes that value, not a second fetch", async () => {
    // The holder's value lands before its release (one connection, in order): once the waiter
    // finds the claim gone, the value is there.
    const source = 'google sheet-1 via emulator';
    const prefix = sharedPrefix(source);
    const backend = new FakeBackend({ Players: PLAYERS });
    const link = new RedisLink({ url: server().url, logger: log.logger });
    let sawHeld = false;
    let handedOver = false;
    class MissingOnce extends SharedRanges {
      override async claim(range: string) {
        const claim = await super.claim(range);
        if (claim.result === 'held') sawHeld = true;
        return claim;
      }
      override async claimed(range: string) {
        // The first look at the claim once it was found held: the holder shares and releases just before it.
        if (sawHeld && !handedOver) {
          handedOver = true;
          const now = Date.now();
          server().cli('SET', `${prefix}:range:Players`, JSON.stringify({ v: 1, s: now - 800, f: now, values: [...PLAYERS, ['From Holder', 'H001']] }), 'PX', '60000');
          server().cli('DEL', `${prefix}:fetching:Players`);
        }
        return super.claimed(range);
      }
    }
    const shared = new MissingOnce({ link, prefix, keepMs: TTL + 60_000, claimMs: 5000, ownerId: 'waiter', logger: log.logger });
    const tier = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: 60_000, maxBytes: 1 << 20, shared, sharedWaitMs: 5000 });
    hosts.push({ backend, link, tier, changes: [] });
    await connected(hosts.at(-1)!);
    server().cli('SET', `${prefix}:fetching:Players`, 'holder:1', 'PX', '5000');
    const read = await tier.get('Players');
    assert.equal(backend.count('get', 'Players'), 0, 'no second fetch');
    assert.deepEqual(read.value.values.at(-1), ['From Holder', 'H001']);
  });

  it("a stale copy's refresh takes the newer one another host fetched instead of reading Google, and says the change", async () => {
    // One fake clock for both hosts: B's copy of A's refresh must still be fresh when B reads it,
    // which on the real clock a busy machine could let pass a 300 ms TTL.
    const clock = new FakeClock();
    const a = host({ clock, ttlMs: 300 });
    const b = host({ clock, ttlMs: 300 });
    await connected(a, b);
    await b.tier.get('Players');
    a.backend.tabs.get('Players')?.push(['Bob', 'P002']);
    await clock.advance(350);
    // A serves B's copy, stale now, and refreshes it from Google: with a row B's copy lacks.
    assert.equal((await a.tier.get('Players')).via, 'stale');
    while (a.backend.count('get', 'Players') < 1) await new Promise((r) => setTimeout(r, 10));
    while (!server().cli('GET', `${sharedPrefix('google sheet-1 via emulator')}:range:Players`).includes('Bob')) await new Promise((r) => setTimeout(r, 5));
    const stale = await b.tier.get('Players');
    assert.equal(stale.via, 'stale', "B's own copy is past its TTL: served while one refresh runs");
    while (b.tier.figures().sharedReads !== 1) await new Promise((r) => setTimeout(r, 5));
    const refreshed = await b.tier.get('Players');
    assert.equal(refreshed.via, 'fresh');
    assert.deepEqual(refreshed.value.values.at(-1), ['Bob', 'P002']);
    assert.equal(b.backend.count('get', 'Players'), 1, 'B read Google only for its first fill');
    assert.deepEqual(b.changes, ['Players'], 'the workers are told the range changed');
  });

  it('Redis away: each host reads Google itself, and serves what it fetched', async () => {
    const [a, b] = [host(), host()];
    await connected(a, b);
    await server().kill();
    try {
      assert.deepEqual((await a.tier.get('Players')).value.values, PLAYERS);
      assert.deepEqual((await b.tier.get('Players')).value.values, PLAYERS);
      assert.equal(a.backend.count('get', 'Players'), 1);
      assert.equal(b.backend.count('get', 'Players'), 1);
      let down: Record<string, unknown> | undefined;
      while (!(down = log.lines().find((l) => l.event === 'redis.unavailable'))) await new Promise((r) => setTimeout(r, 10));
      assert.equal(down.code, 'CORRAL_ERR_REDIS');
    } finally {
      await server().restart();
    }
    await connected(a, b);
    while (!log.lines().some((l) => l.event === 'redis.recovered')) await new Promise((r) => setTimeout(r, 10));
  });

  it('Redis hanging (frozen, its connection open): a miss waits for one command timeout at most, then reads Google itself', async () => {
    // B's link probes no more during this test, so that the commands that fail are its miss's; its
    // wait for another host's value is a minute, sixty command timeouts.
    const [a, b] = [host(), host({ sharedWaitMs: 60_000 }, undefined, {}, { probeMs: 600_000 })];
    await connected(a, b);
    await a.tier.get('Players');
    await sharedInRedis('Players');
    const failed: unknown[] = [];
    const commandFailed = b.link.commandFailed.bind(b.link);
    b.link.commandFailed = (err) => {
      failed.push(err);
      commandFailed(err);
    };
    server().pause();
    try {
      const started = Date.now();
      const answer = await b.tier.get('Players');
      const waited = Date.now() - started;
      assert.deepEqual(answer.value.values, PLAYERS);
      assert.equal(b.backend.count('get', 'Players'), 1, 'read from Google');
      // A miss looks, claims and polls: the first command's timeout leaves Redis alone for the
      // rest (counted, not timed: 2 s on the clock said this before).
      assert.equal(failed.length, 1, `one timeout, not one per command: ${failed.map(String).join('; ')}`);
      assert.match(String(failed[0]), /timed out/i);
      assert.ok(waited < 30_000, `not the wait for another host's value (${waited} ms)`);
    } finally {
      server().resume();
    }
  });

  it("a host whose Redis user may not run scripts shares nothing, as with Redis away: it takes no copy, claims and puts nothing, and the others do not wait on it", async () => {
    server().cli('ACL', 'SETUSER', 'noscript', 'on', '>pw', '~*', '+@all', '-eval', '-evalsha', '-script');
    try {
      const source = 'google sheet-1 via emulator';
      const prefix = sharedPrefix(source);
      const a = host();
      // No pause after a failed command: only the refusal keeps B from Redis (the audit's host
      // claimed once the pause after its first refused script had passed).
      a.backend.tabs.set('Events', [['id'], ['from A']]);
      const backend = new FakeBackend({ Players: PLAYERS, Events: [['id'], ['from B']] });
      const link = new RedisLink({ url: `${server().url}?user=noscript&password=pw`, logger: log.logger, pauseAfterFailureMs: 0 });
      const quota = new SharedQuota({ link, prefix, perMinute: { read: 60, write: 60 }, logger: log.logger });
      const shared = new SharedRanges({ link, prefix, keepMs: TTL + 60_000, claimMs: 5000, ownerId: 'noscript', logger: log.logger });
      const tier = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: 60_000, maxBytes: 1 << 20, shared, sharedWaitMs: 5000 });
      const b: Host = { backend, link, tier, changes: [] };
      hosts.push(b);
      await connected(a, b);
      try {
        await quota.take('read');
        assert.equal(link.sharing, false, 'refused: its scripts cannot run');
        // A's copy is in Redis; B does not take it (its figures say it shares nothing).
        await a.tier.get('Players');
        await sharedInRedis('Players');
        assert.deepEqual((await b.tier.get('Players')).value.values, PLAYERS);
        assert.equal(b.backend.count('get', 'Players'), 1, 'B read Google itself');
        assert.equal(b.tier.figures().sharedReads, 0, 'B took no copy from Redis');
        // B fetches a cold range: no claim of its (it could not release it, nor put its value).
        b.backend.hold();
        const readB = b.tier.get('Events');
        while (b.backend.count('get', 'Events') < 1) await new Promise((r) => setTimeout(r, 5));
        assert.equal(server().cli('EXISTS', `${prefix}:fetching:Events`).trim(), '0', 'B left no claim in Redis');
        await a.tier.get('Events');
        // At once: it found no claim to wait on (counted, not timed: 1 s on the clock said this before).
        assert.equal(a.tier.figures().sharedFetchWaits, 0, "A read at once, not after B's claim");
        assert.equal(a.backend.count('get', 'Events'), 1);
        b.backend.release();
        await readB;
        // A put of B's would have gone on its connection before readB resolved: a PING sent after
        // it is answered after it.
        await b.link.client.ping();
        const copy = server().cli('GET', `${prefix}:range:Events`);
        assert.match(copy, /from A/, "A's copy");
        assert.doesNotMatch(copy, /from B/, 'B put nothing');
        assert.equal(server().cli('EXISTS', `${prefix}:fetching:Events`).trim(), '0');
      } finally {
        quota.close();
      }
    } finally {
      server().cli('ACL', 'DELUSER', 'noscript');
    }
  });

  it("a range larger than the bound is not shared: a marker takes its place, and a host reads it from Google at once, not waiting on another host's claim", async () => {
    const source = 'google sheet-1 via emulator';
    const small = { maxValueBytes: 16 };
    const [a, b] = [host({}, source, small), host({}, source, small)];
    await connected(a, b);
    assert.deepEqual((await a.tier.get('Players')).value.values, PLAYERS);
    const key = `${sharedPrefix(source)}:range:Players`;
    while (server().cli('EXISTS', key).trim() !== '1') await new Promise((r) => setTimeout(r, 5));
    const stored = server().cli('GET', key);
    assert.match(stored, /"tooLarge":\d+/, 'a marker, not the rows');
    assert.doesNotMatch(stored, /Alice/);
    // A third host fetching the range now, its claim good for 10 minutes: with a shared value to
    // come, B would wait for it.
    server().cli('SET', `${sharedPrefix(source)}:fetching:Players`, 'host-c:1', 'PX', '600000');
    assert.deepEqual((await b.tier.get('Players')).value.values, PLAYERS);
    assert.equal(b.backend.count('get', 'Players'), 1, 'B read the range from Google itself');
    assert.equal(b.tier.figures().sharedReads, 0);
    // At once: it did not wait on the claim (counted, not timed: 1 s on the clock said this before).
    assert.equal(b.tier.figures().sharedFetchWaits, 0, 'B read at once, not after the claim');
    const said = log.lines().filter((l) => l.event === 'sheets.shared_range_too_large');
    assert.equal(said.length, 2, 'said by each host, at its fetch');
    assert.equal(said[0]?.range, 'Players');
    assert.equal(said[0]?.max_bytes, 16);
    assert.equal(said[0]?.bytes, Buffer.byteLength(JSON.stringify(PLAYERS)));
  });

  it("refuses a copy the journal could no longer complete, and one of another sheet's", async () => {
    const a = host();
    const refusing = host({ acceptShared: () => false });
    const other = host({}, 'google sheet-2 via emulator');
    await connected(a, refusing, other);
    await a.tier.get('Players');
    await sharedInRedis('Players');
    await refusing.tier.get('Players');
    await other.tier.get('Players');
    assert.equal(refusing.backend.count('get', 'Players'), 1, 'read from Google: the shared copy was refused');
    assert.equal(other.backend.count('get', 'Players'), 1, 'another sheet shares nothing');
  });

  /** Puts a copy in Redis as a host whose clock reads `s` and `f` would (the auditor's SET). */
  const putCopy = (s: number, f: number, values: string[][], source = 'google sheet-1 via emulator') =>
    server().cli('SET', `${sharedPrefix(source)}:range:Players`, JSON.stringify({ v: 1, s, f, values }), 'PX', '3630000');
  const OLD = [
    ['name', 'code'],
    ['Stale', 'X'],
  ];

  it("a copy time-stamped minutes ahead of this host's clock (another host's clock ahead) is not taken: the host reads Google, and again at each TTL", async () => {
    const clock = new FakeClock();
    const b = host({ clock, ttlMs: 1000 });
    await connected(b);
    putCopy(clock.now() + 600_000, clock.now() + 600_000, OLD);
    const first = await b.tier.get('Players');
    assert.deepEqual(first.value.values, PLAYERS, "Google's rows, not the copy from the future");
    assert.equal(b.backend.count('get', 'Players'), 1);
    assert.equal(b.tier.figures().sharedReads, 0);
    const said = log.lines().filter((l) => l.event === 'sheets.shared_range_ahead');
    assert.equal(said.length, 1);
    assert.equal(said[0]?.range, 'Players');
    assert.equal(said[0]?.ahead_ms, 600_000);
    // Its own copy replaced the one from the future in Redis; put it back, as a host still ahead would.
    putCopy(clock.now() + 600_000, clock.now() + 600_000, OLD);
    await clock.advance(1000);
    assert.equal((await b.tier.get('Players')).via, 'stale', 'expired: served while one refresh runs');
    await waitFor(() => b.backend.count('get', 'Players') === 2 || (b.tier.figures().sharedReads ?? 0) > 0, 30_000, 'the refresh');
    assert.equal(b.backend.count('get', 'Players'), 2, 'the refresh read Google');
    assert.equal(b.tier.figures().sharedReads, 0);
  });

  it("a keeper whose clock the system clock stepped away from since it started (NTP at boot, a suspend) shares with the others as on the wall clock: its copies are taken, it takes theirs, and nothing is said ahead", async () => {
    // Each keeper's clock is the wall clock at its start, then monotonic: 2 minutes after an NTP
    // step forward, or a 2-minute suspend, it reads 2 minutes behind the wall clock. Stamped on
    // its own clock, its copies read 2 minutes old to the others (past TTL + max stale: refused),
    // and theirs 2 minutes ahead to it (refused, "check NTP" said for every range).
    const STEP = 120_000;
    const stepped = { now: () => Date.now() - STEP, setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout), wallOffset: () => STEP };
    const [a, b] = [host({ clock: stepped }), host()];
    await connected(a, b);
    await a.tier.get('Players');
    await sharedInRedis('Players');
    const taken = await b.tier.get('Players');
    assert.equal(b.backend.count('get', 'Players'), 0, "the others take the stepped keeper's copy");
    assert.equal(taken.via, 'fresh');
    server().cli('FLUSHALL');
    b.backend.tabs.set('Roster', [['name'], ['Bob']]);
    a.backend.tabs.set('Roster', [['name'], ['Bob']]);
    await b.tier.get('Roster');
    await sharedInRedis('Roster');
    const theirs = await a.tier.get('Roster');
    assert.equal(a.backend.count('get', 'Roster'), 0, "the stepped keeper takes the others' copies");
    assert.equal(theirs.via, 'fresh');
    assert.equal(log.lines().filter((l) => l.event === 'sheets.shared_range_ahead').length, 0);
  });

  it('a copy a little ahead (within the clock allowance) is fresh for the TTL from its adoption, no longer; the same copy is not taken twice', async () => {
    const clock = new FakeClock();
    const b = host({ clock, ttlMs: 1000 });
    await connected(b);
    // Stamped 4 s ahead: within the allowance, taken as fetched now.
    putCopy(clock.now() + 3900, clock.now() + 4000, OLD);
    const first = await b.tier.get('Players');
    assert.equal(first.via, 'fresh');
    assert.deepEqual(first.value.values, OLD);
    assert.ok(first.value.expiresAt <= clock.now() + 1000, `fresh until ${first.value.expiresAt - clock.now()} ms from now, not past the TTL`);
    assert.equal(b.backend.count('get', 'Players'), 0);
    await clock.advance(1000);
    // Expired: the copy in Redis is still the same one, and now looks newer than the one held
    // (which was capped at this host's clock). It is not taken again: the refresh reads Google.
    assert.equal((await b.tier.get('Players')).via, 'stale');
    await waitFor(() => b.backend.count('get', 'Players') === 1 || (b.tier.figures().sharedReads ?? 0) > 1, 30_000, 'the refresh');
    assert.equal(b.tier.figures().sharedReads, 1, 'the copy was taken once');
    assert.equal(b.backend.count('get', 'Players'), 1, 'the refresh read Google');
    const after = await b.tier.get('Players');
    assert.equal(after.via, 'fresh');
    assert.deepEqual(after.value.values, PLAYERS);
  });
});
