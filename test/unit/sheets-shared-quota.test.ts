// The Sheets quota shared by two hosts through a real redis-server: together they get no more than
// the limit in the window; with Redis away each spends its share alone, less what the window held
// (every host's calls, until they leave it), and those grants are counted in the shared window
// once Redis is back; a Redis that lost its data is given back each keeper's grants of the last
// minute.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { RedisLink } from '../../src/redis/link.js';
import { REDIS_COMMAND_TIMEOUT_MS, type RedisLinkOptions } from '../../src/redis/link-options.js';
import { systemClock, type Clock } from '../../src/sheets/keeper/clock.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import { QUOTA_WINDOW_MS } from '../../src/sheets/keeper/quota.js';
import { MAX_WAIT_MS } from '../../src/sheets/keeper/shared-quota-scripts.js';
import { PRESENCE_INTERVAL_MS } from '../../src/sheets/keeper/quota-presence.js';
import { SharedQuota, type QuotaMemory } from '../../src/sheets/keeper/shared-quota.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

const PREFIX = sharedPrefix('google sheet-1 via emulator');
/** Redis is left alone this long after a failed command (5 s in the keeper). */
const PAUSE_MS = 300;
/**
 * Redis's answers are not timed out here (1 s in the keeper) but where that is the test: on a
 * loaded machine a late answer sent a call alone, and changed what was counted.
 */
const COMMAND_TIMEOUT_MS = 10_000;
/** Only there to fail rather than hang: what is waited for does not depend on how fast the machine is. */
const PATIENCE_MS = 30_000;

/**
 * A quota's clock in these tests: the real time, but a take that must wait (for a slot of the
 * shared window, or of its share while Redis is away) sleeps on a timer that fires only when the
 * test releases it. How many of some takes are granted at once is then known without a time
 * limit: each is granted or asleep, and none asleep is granted before release(). (A count after
 * 300 ms said it before: a loaded machine could grant fewer in that time, or leave a write-back
 * unanswered.)
 */
class HeldClock implements Clock {
  private readonly timers = new Map<number, { readonly fn: () => void; readonly ms: number }>();
  private seq = 0;

  now(): number {
    return systemClock.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { fn, ms });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers held: takes asleep. */
  pending(): number {
    return this.timers.size;
  }

  /** How long each take asleep asked to sleep. */
  sleeps(): number[] {
    return [...this.timers.values()].map((t) => t.ms);
  }

  /** Wakes every take asleep now: each asks again, once. */
  release(): void {
    const due = [...this.timers.values()];
    this.timers.clear();
    for (const t of due) t.fn();
  }
}

/**
 * Whether `p` has settled before the event loop's next turn: what a take granted from what the
 * keeper knows does, with no command to Redis and no timer on the way.
 */
async function settlesAtOnce(p: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  return (await Promise.race([p, new Promise((r) => setImmediate(() => r(pending)))])) !== pending;
}

describe('quota shared through Redis', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let log: CapturedLogger;
  const links: RedisLink[] = [];
  const quotas: SharedQuota[] = [];
  const aborts: AbortController[] = [];
  /** Each quota's clock and link. */
  const parts = new Map<SharedQuota, { readonly clock: HeldClock | FakeClock; readonly link: RedisLink }>();
  const partsOf = (q: SharedQuota) => {
    const found = parts.get(q);
    assert.ok(found, 'a quota made by quota() or made()');
    return found;
  };
  const heldClockOf = (q: SharedQuota): HeldClock => {
    const { clock } = partsOf(q);
    assert.ok(clock instanceof HeldClock, "the quota's clock is a HeldClock");
    return clock;
  };
  /** Set by a test that moves the keepers' presence ticks by hand (mock.timers, for its whole body). */
  let presenceByHand = false;

  /**
   * A SharedQuota whose presence ticks (a setInterval, every 5 s) do not come: each says it is
   * present as its link connects, and otherwise Redis hears from it at its calls. What a keeper
   * last heard of the window decides its share while Redis is away, and what it writes back after
   * a loss: a tick of its own between a test's steps (likelier the slower the machine) changed
   * both. A test that needs the ticks moves them by hand (presenceByHand).
   */
  const made = (link: RedisLink, clock: HeldClock | FakeClock, make: () => SharedQuota): SharedQuota => {
    if (!presenceByHand) mock.timers.enable({ apis: ['setInterval'] });
    let q: SharedQuota;
    try {
      q = make();
    } finally {
      if (!presenceByHand) mock.timers.reset();
    }
    quotas.push(q);
    parts.set(q, { clock, link });
    return q;
  };

  const quota = async (perMinute: number, url = server().url, memory: QuotaMemory = {}, clock: HeldClock | FakeClock = new HeldClock(), linkOptions: Partial<RedisLinkOptions> = {}): Promise<SharedQuota> => {
    // The end of an outage said once Redis answered for PAUSE_MS (5 s in the keeper), not 5 s later.
    const link = new RedisLink({ url, logger: log.logger, pauseAfterFailureMs: PAUSE_MS, recoveredAfterMs: PAUSE_MS, commandTimeoutMs: COMMAND_TIMEOUT_MS, ...linkOptions });
    links.push(link);
    while (!link.ready) await new Promise((r) => setTimeout(r, 10));
    return made(link, clock, () => new SharedQuota({ link, prefix: PREFIX, perMinute: { read: perMinute, write: perMinute }, logger: log.logger, ...memory, clock }));
  };
  /**
   * Starts `n` takes; returns how many were granted once each is granted or asleep on the quota's
   * clock (the rest are left waiting: until the test releases them, or aborted after it).
   */
  const grantedAtOnce = async (q: SharedQuota, n: number): Promise<number> => {
    const { clock } = partsOf(q);
    const asleep = clock.pending();
    let granted = 0;
    for (let i = 0; i < n; i++) {
      const abort = new AbortController();
      aborts.push(abort);
      q.take('read', abort.signal).then(
        () => granted++,
        () => undefined,
      );
    }
    await waitFor(() => granted + clock.pending() - asleep === n, PATIENCE_MS, `each of ${n} takes granted or asleep`);
    return granted;
  };

  /** Members of one of the sheet's sorted sets in Redis (`quota:reads`, `keepers:writes`, ...). */
  const members = (key: string): number => Number(server().cli('ZCARD', `${PREFIX}:${key}`).trim());

  /**
   * Has every keeper say it is present now (a presence tick: the test sets presenceByHand) and
   * waits until Redis keeps, for each of the `keepers` keepers, the reading of the reads' window it
   * took in from that answer. A keeper past its share of a quiet window is granted only what the
   * others have read of it (quota-reserve-lua.ts): in the keeper, each reads it every 5 s.
   */
  const hear = async (keepers: number): Promise<void> => {
    assert.ok(presenceByHand, 'the presence ticks are moved by hand');
    const [sec = 0, usec = 0] = server().cli('TIME').trim().split('\n').map(Number);
    const before = sec * 1000 + Math.floor(usec / 1000);
    mock.timers.tick(PRESENCE_INTERVAL_MS);
    const readings = (): number[] =>
      server()
        .cli('HVALS', `${PREFIX}:quota:reads:readings`)
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((v) => (JSON.parse(v) as { r: number }).r);
    await waitFor(() => readings().length === keepers && readings().every((r) => r >= before), PATIENCE_MS, `${keepers} keepers read the window`);
  };
  /** For a test that moves the keepers' presence ticks by hand (hear), from its start. */
  const presenceTicksByHand = (): void => {
    presenceByHand = true;
    mock.timers.enable({ apis: ['setInterval'] });
  };

  beforeEach(async () => {
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const a of aborts.splice(0)) a.abort();
    for (const q of quotas.splice(0)) q.close();
    for (const l of links.splice(0)) await l.close();
    parts.clear();
    if (presenceByHand) mock.timers.reset();
    presenceByHand = false;
    log.close();
  });

  it('two hosts together get the limit in a window, no more; reads and writes apart', async () => {
    const [a, b] = [await quota(6), await quota(6)];
    const grants = (await Promise.all([grantedAtOnce(a, 5), grantedAtOnce(b, 5)])).reduce((x, y) => x + y, 0);
    assert.equal(grants, 6, 'six of the ten takes granted, the other four wait for the window');
    assert.equal(members('quota:reads'), 6);
    await a.take('write');
    assert.equal(members('quota:writes'), 1, 'writes have their own window');
    // Read by Redis itself: either keeper's last answer may have come before the other registered.
    assert.equal(members('keepers:reads'), 2, 'both keepers counted for reads');
    // B has made no write: it has none to write back, and saying it is present counted it (after
    // a loss the writers are not held to their share waiting for it).
    assert.equal(members('keepers:writes'), 2, 'both for writes, though only A wrote');
  });

  it('past its share of a quiet window, a host is granted only what the other keepers have read of it; the rest once they have (their next presence)', async () => {
    presenceTicksByHand();
    const [a, b] = [await quota(6), await quota(6)];
    await waitFor(() => members('keepers') === 2, PATIENCE_MS, 'B said it is present');
    // B read the window empty as it connected: losing Redis now, it would spend its share, 3, alone.
    assert.equal(await grantedAtOnce(a, 6), 3, "A's share: B's is kept for what it may spend alone");
    assert.equal(members('quota:reads'), 3);
    // B reads the window (every 5 s in the keeper): it now counts A's three against its share.
    await hear(2);
    heldClockOf(a).release();
    await waitFor(() => members('quota:reads') === 6, PATIENCE_MS, 'the rest granted to A');
    assert.equal(a.figures().sharedQuotaGrants, 6);
    await server().kill();
    try {
      assert.equal(await grantedAtOnce(b, 3), 0, 'B, alone, counts the six it read: none left');
    } finally {
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
  });

  it('a keeper that closes cleanly leaves: no room is kept for what it could have spent alone', async () => {
    const [a, b] = [await quota(6), await quota(6)];
    await waitFor(() => members('keepers') === 2, PATIENCE_MS, 'both present');
    b.close();
    await waitFor(() => members('keepers') === 1, PATIENCE_MS, 'B left');
    assert.equal(await grantedAtOnce(a, 6), 6, 'the whole window to A (its share, 3, while B was counted)');
  });

  it('a call waiting on the shared window is counted as waiting (the host figures showed the quota free and nothing queued)', async () => {
    presenceTicksByHand();
    const [a, b] = [await quota(3), await quota(3)];
    assert.equal(await grantedAtOnce(a, 2), 2);
    // Past its share, A is granted what B has read of the window.
    await hear(2);
    assert.equal(await grantedAtOnce(a, 1), 1);
    assert.deepEqual([a.waitingOn('read'), b.waitingOn('read')], [0, 0]);
    assert.equal(await grantedAtOnce(b, 2), 0, 'the window is full');
    assert.deepEqual([b.waitingOn('read'), b.waitingOn('write'), a.waitingOn('read')], [2, 0, 0], "B's two reads wait on the window A spent");
    for (const x of aborts.splice(0)) x.abort();
    heldClockOf(b).release();
    await waitFor(() => b.waitingOn('read') === 0 || undefined, PATIENCE_MS, 'the aborted takes no longer waiting');
  });

  it("a call asking now is told how long it would wait at least for the shared window: from the window as Redis last told it, and from the slot the calls waiting were told of (the read tier's quota-wait answer)", async () => {
    presenceTicksByHand();
    const [a, b] = [await quota(3), await quota(3)];
    assert.equal(b.msUntilSlot('read'), 0, 'an empty window: no wait');
    assert.equal(await grantedAtOnce(a, 2), 2);
    assert.equal(a.msUntilSlot('read'), 0, 'two of three slots taken: no wait');
    // Past its share, A is granted what B has read of the window.
    await hear(2);
    assert.equal(await grantedAtOnce(a, 1), 1);
    const aWait = a.msUntilSlot('read');
    // The first grant leaves the window QUOTA_WINDOW_MS after it was made (moments ago), dated a
    // step early at most (window-seen.ts).
    assert.ok(aWait > QUOTA_WINDOW_MS - PATIENCE_MS && aWait <= QUOTA_WINDOW_MS, `A, which spent the window, knows its next read waits about a window (${aWait} ms)`);
    assert.equal(a.msUntilSlot('write'), 0, 'writes have their own window');
    assert.equal(await grantedAtOnce(b, 1), 0, 'the window is full for B too');
    const bWait = b.msUntilSlot('read');
    assert.ok(bWait > QUOTA_WINDOW_MS - PATIENCE_MS && bWait <= QUOTA_WINDOW_MS, `B, told so by Redis, knows it too (${bWait} ms)`);
    for (const x of aborts.splice(0)) x.abort();
    heldClockOf(b).release();
    await waitFor(() => b.waitingOn('read') === 0 || undefined, PATIENCE_MS, 'the aborted take no longer waiting');
    assert.ok(b.msUntilSlot('read') > 0, 'none waits, and the window B last heard of is still full');
  });

  it("Redis away: each host spends its share (the limit over the keepers last counted), less the calls the window held; its grants count in the window once Redis is back", async () => {
    presenceTicksByHand();
    const [a, b] = [await quota(6), await quota(6)];
    await b.take('read');
    await a.take('read');
    assert.equal(a.figures().sharedKeepers, 2);
    await server().kill();
    try {
      const alone = await grantedAtOnce(a, 5);
      assert.equal(alone, 1, "a share of 6 / 2 keepers, less the two calls the window held when A last heard from it (B's and its own)");
      assert.equal(a.figures().aloneQuotaGrants, 1);
    } finally {
      // The four left waiting would take slots once Redis is back: not what is counted below.
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
    while (!links.every((l) => l.usable)) await new Promise((r) => setTimeout(r, 10));
    // Redis came back empty: as each keeper says it is present again, it writes back its grants
    // of the minute, backdated, calls or not: A what it spent alone and its grant from before the
    // outage, B its grant.
    await waitFor(() => members('quota:reads') === 3, PATIENCE_MS, 'both wrote back');
    assert.equal(a.figures().sharedQuotaGrants, 1, 'no grant taken to write back');
    // Each reads the window the write-backs filled (past its share, B is granted what A has read).
    await hear(2);
    // Every keeper counted again: the window decides, three slots left, A's too, though it made a
    // call alone. Redis keeps room for what a keeper not back yet may spend alone
    // (quota-reserve-lua.ts): A is not held to its share of the outage for the minute besides,
    // which kept a host's writes out of the sheet for the rest of the minute after Redis froze.
    assert.equal(await grantedAtOnce(a, 1), 1, 'A granted by the window');
    assert.equal(await grantedAtOnce(b, 4), 2);
    assert.equal(members('quota:reads'), 6);
    assert.equal(await grantedAtOnce(b, 1), 0, 'the window is full');
  });

  it("Redis away just after another host spent the whole window: that host's calls count against this host's share until they leave the window", async () => {
    const a = await quota(10);
    for (let i = 0; i < 10; i++) await a.take('read');
    // B connects after A's calls: Redis's answer to its first word says what the window holds.
    const clock = new FakeClock(Date.now());
    const b = await quota(10, server().url, {}, clock);
    await waitFor(() => b.figures().sharedKeepers === 2, PATIENCE_MS, 'B heard from Redis');
    await server().kill();
    try {
      let granted = 0;
      for (let i = 0; i < 5; i++) {
        const abort = new AbortController();
        aborts.push(abort);
        b.take('read', abort.signal).then(
          () => granted++,
          () => undefined,
        );
      }
      // Each granted, or asleep on B's clock, which only the test moves.
      await waitFor(() => granted + clock.pending() === 5, PATIENCE_MS, 'each take granted or asleep');
      assert.equal(granted, 0, "B's share is 10 / 2 keepers, and A's 10 calls of the window count against it (Google would answer 429)");
      assert.equal(b.figures().aloneQuotaGrants, 0);
      // A's calls leave the window a minute after they were made: B spends its share.
      await clock.advance(QUOTA_WINDOW_MS);
      assert.equal(granted, 5);
      assert.equal(b.figures().aloneQuotaGrants, 5);
    } finally {
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
  });

  it("a keeper that makes no call hears the window every few seconds: Redis away, its share counts the keepers that connected after it", async () => {
    // The keepers' presence ticks come when the test moves them (node:test's mock timers), and A's
    // clock too; its link's clock stands still, so Redis is found away as A's calls below come.
    presenceByHand = true;
    mock.timers.enable({ apis: ['setInterval'] });
    const clock = new FakeClock(Date.now());
    const a = await quota(60, server().url, {}, clock, { clock: new FakeClock(Date.now()) });
    await waitFor(() => members('keepers') === 1, PATIENCE_MS, 'A said it is present');
    const [b, c] = [await quota(60), await quota(60)];
    await b.take('read');
    await c.take('read');
    // A makes no call: only its presence tells it of B and C (it heard of them 30 s later, and a
    // Redis gone before then left it a share of the whole limit: 60 of 60 on top of theirs). One
    // presence interval.
    assert.equal(a.figures().sharedKeepers, 1, 'A has not heard of B and C yet');
    mock.timers.tick(PRESENCE_INTERVAL_MS);
    await waitFor(() => a.figures().sharedKeepers === 3, PATIENCE_MS, 'A counted the keepers that connected after it');
    await server().kill();
    try {
      // Redis goes away a presence interval after A's last reading, the most it can be.
      await clock.advance(PRESENCE_INTERVAL_MS);
      const alone = await grantedAtOnce(a, 30);
      // 60 / 3 keepers = 20, less B's and C's calls of the window (2) and what B and C may have
      // made since A's last reading, a presence interval ago (their share's pace: 40 a minute, 3
      // whole calls in 5 s).
      assert.equal(alone, 15, `A spent ${alone} alone: its share, less the window's calls and the others' since its last reading`);
    } finally {
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
  });

  it('Redis away a while after a keeper last heard the window: the calls the others may have made since count against its share (their pace, at least their share of the limit)', async () => {
    // A's link's clock stands still: Redis is found away as A's calls below come, so the time
    // since A's reading is what A's clock is moved by (real time counted in it before, and a
    // loaded machine's half second made it a call fewer).
    const clock = new FakeClock(Date.now());
    const a = await quota(60, server().url, {}, clock, { clock: new FakeClock(Date.now()) });
    const [b] = [await quota(60), await quota(60)];
    for (let i = 0; i < 6; i++) await b.take('read');
    // A's answer: three keepers, seven calls in the window (B's six and its own).
    await a.take('read');
    assert.equal(a.figures().sharedKeepers, 3);
    await server().kill();
    try {
      // Six and a half seconds since A last heard from Redis when it went away.
      await clock.advance(6500);
      const alone = await grantedAtOnce(a, 20);
      // 60 / 3 keepers = 20, less the 7 calls the window held, less what B and C may have made in
      // those 6.5 s: their share's pace (40 a minute: 4), faster than B's pace before (6 in 10 s: 3).
      assert.equal(alone, 9);
    } finally {
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
  });

  it('the pace of the window before the last reading counts when it was faster than the others\' share', async () => {
    // A's link's clock stands still (as in the test above).
    const clock = new FakeClock(Date.now());
    const a = await quota(60, server().url, {}, clock, { clock: new FakeClock(Date.now()) });
    const b = await quota(60);
    for (let i = 0; i < 20; i++) await b.take('read');
    await a.take('read');
    assert.equal(a.figures().sharedKeepers, 2);
    await server().kill();
    try {
      await clock.advance(3250);
      // 60 / 2 = 30, less the 21 calls held, less B's pace of 20 in the last 10 s over 3.25 s: 6
      // (whole calls; its share's pace, 30 a minute, would be 1).
      assert.equal(await grantedAtOnce(a, 20), 3);
    } finally {
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
  });

  it("a keeper that never called Google (it served the others' copies) counts in every share, its own included: Redis away, it spends its share, not the limit", async () => {
    const a = await quota(6);
    // Each says it is present once connected, before any call: B counts A.
    await waitFor(() => members('keepers') === 1, PATIENCE_MS, 'A said it is present');
    const b = await quota(6);
    await waitFor(() => b.figures().sharedKeepers === 2, PATIENCE_MS, 'B counted two keepers present');
    // A's share: past it, A would be granted only what B has read of the window (nothing since it connected).
    for (let i = 0; i < 3; i++) await a.take('read');
    assert.equal(a.figures().sharedKeepers, 2, 'A counts B, which has made no call');
    await server().kill();
    try {
      assert.equal(await grantedAtOnce(b, 6), 3, 'B spends its share, 6 / 2 keepers (the whole limit if it counted itself alone)');
      assert.equal(await grantedAtOnce(a, 2), 0, 'A spent its share before the outage');
    } finally {
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
  });

  it("a keeper restarted just before Redis went away takes its share from its predecessor's count of keepers, less its predecessor's grants (the quota ledger's)", async () => {
    const seen: { keepers: number; at: number }[] = [];
    const a = await quota(6, server().url, { onKeepersSeen: (s) => seen.push(s) });
    await waitFor(() => members('keepers') === 1, PATIENCE_MS, 'A said it is present');
    const b = await quota(6);
    await waitFor(() => b.figures().sharedKeepers === 2, PATIENCE_MS, 'B counted two keepers present');
    await a.take('read');
    assert.equal(seen.at(-1)?.keepers, 2, 'A handed its count to the ledger');
    // A restarts: Redis is flushed (its presence forgotten too) and then goes away before the
    // other keepers say they are present again, so the new keeper counts only itself.
    server().cli('FLUSHALL');
    const lastA = seen.at(-1)!;
    const restarted = await quota(6, server().url, { before: { keepers: lastA, grants: { read: [Date.now() - 1000], write: [] } } });
    await waitFor(() => members('keepers') === 1, PATIENCE_MS, 'the new keeper said it is present');
    await server().kill();
    try {
      assert.equal(await grantedAtOnce(restarted, 6), 2, 'a share of 6 / 2 keepers, less the one read its predecessor made (6 with no memory)');
    } finally {
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
  });

  it('after Redis lost its data, the first keeper to write back is held to its share until the others have written back theirs', async () => {
    presenceTicksByHand();
    const [a, b] = [await quota(10), await quota(10)];
    for (let i = 0; i < 3; i++) await Promise.all([a.take('read'), b.take('read')]);
    server().cli('FLUSHALL');
    // A's share is 10 / 2 keepers: its three grants written back, two more, then it waits, though
    // the window holds only 5 of 10 (B's three are not in it yet). One call at a time: calls sent
    // together all find Redis emptied and count one another as asking, so how their answers
    // interleave may hold A below its share (never above it).
    let granted = 0;
    for (let i = 0; i < 3; i++) granted += await grantedAtOnce(a, 1);
    assert.equal(granted, 2);
    assert.equal(members('quota:reads'), 5);
    // B writes its three back and is granted one; both keepers are counted again, so A's waiting
    // call takes the last slot when it asks again (once B has read the window its own call filled).
    await b.take('read');
    await hear(2);
    heldClockOf(a).release();
    await waitFor(() => members('quota:reads') === 10, PATIENCE_MS, 'A granted once B was counted');
    assert.equal(await grantedAtOnce(a, 1), 0, 'the window is full');
  });

  it("after Redis lost its data, a keeper that made no call through Redis is held too: every keeper present before counts, and it gets its share of what the window may still hold", async () => {
    const a = await quota(10);
    for (let i = 0; i < 10; i++) await a.take('read');
    // B connects after A's calls and never reads Google: its first word tells it the window is full.
    const b = await quota(10);
    await waitFor(() => b.figures().sharedKeepers === 2, PATIENCE_MS, 'B heard from Redis');
    server().cli('FLUSHALL');
    // Redis now counts only B among the readers, but two keepers were present: A's ten grants are
    // not written back yet, and the window may still hold none (it took three before).
    assert.equal(await grantedAtOnce(b, 3), 0, "held: A's ten calls of the minute are not back in the window yet");
    assert.equal(members('quota:reads'), 0);
    // A writes its ten back at its next call; the window is full for both.
    assert.equal(await grantedAtOnce(a, 1), 0);
    assert.equal(members('quota:reads'), 10);
    assert.equal(b.figures().sharedQuotaGrants, 0);
  });

  it('after Redis lost its data, a keeper present that holds no grant of the window has none to write back: once it has said it is present, the others are not held to their share', async () => {
    presenceTicksByHand();
    const [a, b] = [await quota(10), await quota(10)];
    await waitFor(() => b.figures().sharedKeepers === 2, PATIENCE_MS, 'B said it is present');
    for (let i = 0; i < 2; i++) await a.take('read');
    assert.equal(a.figures().sharedKeepers, 2, 'A counts B, which has made no call');
    await server().kill();
    await server().restart();
    // Each says it is present as it reconnects: B, which holds no read, is counted among the readers.
    await waitFor(() => members('keepers') === 2, PATIENCE_MS, 'both said they are present');
    // A writes its two back; with every keeper accounted for, the window decides: eight more
    // (held to its share it would get four, for up to a minute). Five at once: B read the window
    // holding A's two at most, and may spend its share (5) less them alone; three more once B has
    // read A's. A's two are back in the window before B's reading, which would not count them.
    await waitFor(() => members('quota:reads') === 2, PATIENCE_MS, "A's two written back");
    await hear(2);
    assert.equal(await grantedAtOnce(a, 9), 5);
    await hear(2);
    heldClockOf(a).release();
    await waitFor(() => members('quota:reads') === 10, PATIENCE_MS, 'A granted eight in all');
    assert.equal(await grantedAtOnce(a, 1), 0, 'the window is full');
  });

  it('after Redis restarted empty, a keeper that makes no call writes its grants of the minute back when it says it is present, not at its next call', async () => {
    const a = await quota(10);
    for (let i = 0; i < 10; i++) await a.take('read');
    const b = await quota(10);
    await waitFor(() => b.figures().sharedKeepers === 2, PATIENCE_MS, 'B heard from Redis');
    await server().kill();
    await server().restart();
    // A makes no call: it says it is present as it reconnects, finds Redis lacks its grants, and
    // writes them back (before, they came back at its next call, up to a minute later, and B was
    // held to its share of a window it could not see meanwhile).
    await waitFor(() => members('quota:reads') === 10, PATIENCE_MS, "A's ten grants written back");
    assert.equal(a.figures().sharedQuotaGrants, 10, 'no grant taken for it');
    // Said once Redis's answer to the write-back is back at the keeper, which may be just after
    // the window already shows the ten.
    const restored = () => log.lines().filter((l) => l.event === 'sheets.quota_window_restored');
    await waitFor(() => restored().length > 0, PATIENCE_MS, 'sheets.quota_window_restored');
    assert.deepEqual(
      restored().map((l) => [l.kind, l.grants]),
      [['read', 10]],
    );
    assert.equal(await grantedAtOnce(b, 1), 0, 'the window is full');
  });

  it('a keeper that first reaches Redis after calls made alone (started while Redis was away) writes them back without saying Redis lost its data', async () => {
    let link: RedisLink | undefined;
    await server().kill();
    try {
      // Started while Redis is away: it never had an answer from it.
      link = new RedisLink({ url: server().url, logger: log.logger, pauseAfterFailureMs: PAUSE_MS, recoveredAfterMs: PAUSE_MS, commandTimeoutMs: COMMAND_TIMEOUT_MS });
      links.push(link);
      const clock = new HeldClock();
      const a = made(link, clock, () => new SharedQuota({ link: link!, prefix: PREFIX, perMinute: { read: 10, write: 10 }, logger: log.logger, clock }));
      await a.take('read');
      await a.take('read');
      assert.equal(a.figures().aloneQuotaGrants, 2);
    } finally {
      await server().restart();
    }
    // Its first word to Redis: the two calls go into the window, backdated, as calls made alone do.
    await waitFor(() => members('quota:reads') === 2, PATIENCE_MS, 'the calls made alone written into the window');
    // Nothing was lost: the warning that sends the operator to Redis's persistence is not said.
    // It would be said as the write-back's answer is heard: a PING sent after Redis ran it is
    // answered after it, on the same connection (and a turn of the event loop lets the answers'
    // callbacks all run).
    await link?.client.ping();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log.lines().filter((l) => l.event === 'sheets.quota_window_restored'), []);
  });

  it("after Redis lost its data, a keeper that wrote back its own grants is held to its share of what the window held before, every keeper's grants, not only its own", async () => {
    presenceTicksByHand();
    const [a, b] = [await quota(10), await quota(10)];
    // B's share, then (once A has read them) three more.
    for (let i = 0; i < 5; i++) await b.take('read');
    await hear(2);
    for (let i = 0; i < 3; i++) await b.take('read');
    for (let i = 0; i < 2; i++) await a.take('read');
    // A's last answer said the window held all ten. Flushed (no reconnection): B, which makes no
    // call, would write back only when it next says it is present.
    server().cli('FLUSHALL');
    // A writes back its two and, its own two being under its share of 10 / 2, was granted three
    // more before B wrote its eight back: 13 in the minute. The window may still hold none.
    assert.equal(await grantedAtOnce(a, 3), 0, 'held until B has written back');
    assert.equal(members('quota:reads'), 2, "A's two written back");
    assert.equal(await grantedAtOnce(b, 1), 0, 'B writes its eight back: the window is full');
    assert.equal(members('quota:reads'), 10);
    assert.equal(a.figures().sharedQuotaGrants, 2);
  });

  it('an outage after Redis lost its data: the share is the limit over the keepers counted before the loss, not over those counted since', async () => {
    const [a, b] = [await quota(12), await quota(12)];
    await a.take('read');
    await b.take('read');
    await a.take('read');
    assert.equal(a.figures().sharedKeepers, 2);
    server().cli('FLUSHALL');
    // Only A has asked since: Redis counts one keeper.
    await a.take('read');
    assert.equal(a.figures().sharedKeepers, 1);
    await server().kill();
    try {
      // A's share is 12 / 2 keepers, less its three calls of the window: three (nine with a
      // share of 12 / 1).
      assert.equal(await grantedAtOnce(a, 10), 3);
    } finally {
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
  });

  it('a call waiting for its share while Redis is away goes back to the shared window once Redis answers, instead of waiting out the share', async () => {
    const a = await quota(6);
    const clock = heldClockOf(a);
    const { link } = partsOf(a);
    await a.take('read');
    await server().kill();
    let waiting: Promise<unknown>[] = [];
    try {
      // Alone, A's share is the whole limit less the call it made: five go, the sixth waits.
      waiting = Array.from({ length: 6 }, () => a.take('read'));
      await waitFor(() => a.figures().aloneQuotaGrants === 5 && clock.pending() === 1, PATIENCE_MS, 'five granted alone, the sixth asleep');
      assert.equal(a.figures().aloneQuotaGrants, 5, 'the sixth waits for a slot of the share');
      // Not until its share's slot frees (a minute after its first call): it asks again within
      // MAX_WAIT_MS, whether Redis is back or not. (Timed before: granted within 5 s of Redis's return.)
      assert.ok(
        clock.sleeps().every((ms) => ms <= MAX_WAIT_MS),
        `asleep ${clock.sleeps().join(', ')} ms, not a minute`,
      );
      // A call asking now would wait for the slot the sixth was told of: its share's, a minute after A's first call.
      const wait = a.msUntilSlot('read');
      assert.ok(wait > QUOTA_WINDOW_MS - PATIENCE_MS && wait <= QUOTA_WINDOW_MS, `a read asking now waits for the share's slot (${wait} ms)`);
    } finally {
      await server().restart();
    }
    await waitFor(() => link.usable, PATIENCE_MS, 'the link back');
    // The sixth asks again. Redis came back empty: A writes its six grants back, and the waiting
    // call finds the shared window full too. A slot is then freed by hand (as one of another
    // host's grants expiring), and it asks again.
    clock.release();
    await waitFor(() => (a.figures().sharedQuotaWaits ?? 0) > 0 && clock.pending() === 1, PATIENCE_MS, 'the sixth waiting for a slot of the shared window');
    assert.equal(members('quota:reads'), 6, 'its six grants written back');
    server().cli('ZPOPMIN', `${PREFIX}:quota:reads`);
    clock.release();
    await Promise.all(waiting);
    assert.equal(a.figures().sharedQuotaGrants, 2, 'granted through Redis');
    assert.equal(a.figures().aloneQuotaGrants, 5);
  });

  it("Redis that lost its data (restarted empty between two calls): each keeper writes its grants of the last minute back before its next one, so the minute holds the limit, not twice it", async () => {
    const [a, b] = [await quota(6), await quota(6)];
    assert.equal(await grantedAtOnce(a, 2), 2);
    assert.equal(await grantedAtOnce(b, 2), 2);
    server().cli('FLUSHALL');
    await b.take('read');
    assert.equal(members('quota:reads'), 3, "B's two grants written back, then its third");
    await a.take('read');
    assert.equal(members('quota:reads'), 6);
    assert.equal((await Promise.all([grantedAtOnce(a, 3), grantedAtOnce(b, 3)])).reduce((x, y) => x + y, 0), 0, 'the window is full');
    const said = log.lines().filter((l) => l.event === 'sheets.quota_window_restored');
    assert.deepEqual(
      said.map((l) => [l.kind, l.grants]),
      [
        ['read', 2],
        ['read', 2],
      ],
      'each keeper said it once',
    );
    // Written back twice (a second loss noticed by a call that raced the first): counted once.
    server().cli('DEL', `${PREFIX}:keepers:reads`);
    for (const x of aborts.splice(0)) x.abort();
    assert.equal(await grantedAtOnce(a, 1), 0);
    assert.equal(members('quota:reads'), 6, 'the same members: no grant counted twice');
  });

  it('a failover to a replica that missed the last grants (every keeper still known): the keeper writes its grants back before its next one', async () => {
    const a = await quota(4);
    for (let i = 0; i < 3; i++) await a.take('read');
    // The replica lacks A's two newest grants; it still counts A among the keepers.
    server().cli('ZPOPMAX', `${PREFIX}:quota:reads`, '2');
    assert.equal(members('quota:reads'), 1);
    await a.take('read');
    assert.equal(members('quota:reads'), 4, 'its three grants back, then the fourth');
    assert.equal(await grantedAtOnce(a, 1), 0, 'the window is full');
    assert.deepEqual(
      log.lines().filter((l) => l.event === 'sheets.quota_window_restored').map((l) => [l.kind, l.grants]),
      [['read', 3]],
    );
  });

  it('a keeper that Redis knows again from its writes still writes its reads back (and the other way round)', async () => {
    const a = await quota(6);
    await a.take('read');
    await a.take('read');
    await a.take('write');
    server().cli('FLUSHALL');
    await a.take('write');
    assert.equal(members('quota:writes'), 2);
    await a.take('read');
    assert.equal(members('quota:reads'), 3, 'its two reads written back, then the third');
  });

  it('a Redis that hangs (frozen, its connection open): each call goes on alone after the command timeout, and it is said', async () => {
    // The keeper's command timeout (real time: Redis is really frozen). The link's pause after the
    // failure and its settle before redis.recovered are on a clock the test moves: the pause
    // lasts until the test ends it, however slowly the steps below run.
    const linkClock = new FakeClock(Date.now());
    const a = await quota(6, server().url, {}, new HeldClock(), { commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS, clock: linkClock });
    await a.take('read');
    server().pause();
    try {
      const started = Date.now();
      await a.take('read');
      const waited = Date.now() - started;
      // Redis stays frozen: the call went on after its command's timeout, not with Redis's answer.
      assert.ok(waited >= REDIS_COMMAND_TIMEOUT_MS - 100 && waited < 10 * REDIS_COMMAND_TIMEOUT_MS, `went on alone after ${waited} ms`);
      assert.equal(a.figures().aloneQuotaGrants, 1);
      const said = log.lines().find((l) => l.event === 'redis.unavailable');
      assert.match(JSON.stringify(said?.err), /timed out/i);
      // Left alone for a while after the failure: the next call does not wait the timeout again.
      // It asks nothing of Redis: granted before the event loop's next turn (< 500 ms before).
      assert.ok(await settlesAtOnce(a.take('read')), 'the next call went on alone at once');
      assert.equal(a.figures().aloneQuotaGrants, 2);
    } finally {
      server().resume();
    }
    await linkClock.advance(PAUSE_MS);
    await a.take('read');
    assert.equal(a.figures().sharedQuotaGrants, 2, 'shared again once the pause is over and it answers');
    // Said once Redis has answered for PAUSE_MS (the link's recoveredAfterMs here).
    await linkClock.advance(PAUSE_MS + 20);
    assert.ok(log.lines().some((l) => l.event === 'redis.recovered'), 'redis.recovered');
  });

  it('a Redis that refuses the script (an ACL without EVAL) is said, and the calls go on alone', async () => {
    server().cli('ACL', 'SETUSER', 'noscripts', 'on', '>pw', '~*', '+@all', '-eval', '-evalsha');
    try {
      const q = await quota(6, `${server().url}?user=noscripts&password=pw`);
      await q.take('read');
      assert.equal(q.figures().aloneQuotaGrants, 1);
      // A refusal, not an outage (test/unit/redis-link.test.ts follows it to its end).
      const said = log.lines().find((l) => l.event === 'redis.misconfigured');
      assert.equal(said?.code, 'CORRAL_ERR_REDIS_REFUSED');
      assert.match(JSON.stringify(said?.err), /NOPERM/);
      assert.ok(!JSON.stringify(said).includes('pw@'), 'the password is not logged');
    } finally {
      server().cli('ACL', 'DELUSER', 'noscripts');
    }
  });

  it('a waiting take is abandoned when its signal aborts', async () => {
    const a = await quota(1);
    await a.take('read');
    const abort = new AbortController();
    const waiting = a.take('read', abort.signal);
    setTimeout(() => abort.abort(new Error('caller gave up')), 50);
    await assert.rejects(waiting, /caller gave up/);
  });
});
