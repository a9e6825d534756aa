import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/sheets/keeper/clock.js';
import { QuotaBucket, QUOTA_WINDOW_MS } from '../../src/sheets/keeper/quota.js';
import { QUOTA_LEDGER_FILE, QuotaLedger } from '../../src/sheets/keeper/quota-ledger.js';
import { pacer } from '../../src/sheets/keeper/pacing.js';
import { UpstreamMeter } from '../../src/sheets/keeper/upstream-meter.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock, settle } from '../fixtures/fake-clock.js';

/** Largest number of grants inside any window of 60 s. */
function maxInAnyWindow(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] ?? 0) - (sorted[lo] ?? 0) >= QUOTA_WINDOW_MS) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('host-wide quota bucket', () => {
  it('grants N at once, then queues until a token comes back 60 s after its use', async () => {
    const clock = new FakeClock();
    const q = new QuotaBucket({ name: 'reads', perMinute: 5, maxQueue: 10, clock });
    const granted: number[] = [];
    const all = Array.from({ length: 8 }, () => q.acquire().then(() => granted.push(clock.now())));
    await settle();
    assert.equal(granted.length, 5, 'the first 5 pass immediately');
    assert.equal(q.queued(), 3);
    assert.equal(q.tokensLeft(), 0);
    await clock.advance(QUOTA_WINDOW_MS - 1);
    assert.equal(granted.length, 5, 'nothing more before the window has passed');
    await clock.advance(1);
    await Promise.all(all);
    assert.equal(granted.length, 8);
    assert.ok(maxInAnyWindow(granted) <= 5);
  });

  it('never lets more than N through in any 60 s window, whatever the arrival pattern', async () => {
    const clock = new FakeClock();
    const perMinute = 30;
    const q = new QuotaBucket({ name: 'reads', perMinute, maxQueue: 10_000, clock });
    const granted: number[] = [];
    const waits: Promise<void>[] = [];
    // Deterministic pseudo-random bursts over five simulated minutes (several "workers" at once).
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let step = 0; step < 300; step++) {
      const burst = Math.floor(rand() * 4);
      for (let i = 0; i < burst; i++) waits.push(q.acquire().then(() => void granted.push(clock.now())));
      await clock.advance(1000);
    }
    await clock.advance(10 * QUOTA_WINDOW_MS);
    await Promise.all(waits);
    assert.equal(granted.length, waits.length, 'every queued caller is served eventually');
    const worst = maxInAnyWindow(granted);
    console.log(`quota: ${granted.length} grants over ${Math.round((Math.max(...granted) - Math.min(...granted)) / 1000)} s, busiest 60 s window held ${worst} (limit ${perMinute})`);
    assert.ok(worst <= perMinute, `a 60 s window held ${worst} grants, limit ${perMinute}`);
    assert.equal(worst, perMinute, 'the quota is used fully under sustained demand');
  });

  it('refuses with CORRAL_ERR_QUEUE_FULL when the bounded queue is full', async () => {
    const clock = new FakeClock();
    const q = new QuotaBucket({ name: 'reads', perMinute: 1, maxQueue: 2, clock });
    await q.acquire();
    const a = q.acquire();
    const b = q.acquire();
    // With the wait for the next token, which the app's 503 gives as Retry-After.
    await assert.rejects(q.acquire(), (err: Error & { code?: string; retryAfterMs?: number }) => err.code === 'CORRAL_ERR_QUEUE_FULL' && err.retryAfterMs === QUOTA_WINDOW_MS);
    assert.equal(q.stats().refused, 1);
    await clock.advance(QUOTA_WINDOW_MS);
    await a;
    await clock.advance(QUOTA_WINDOW_MS);
    await b;
  });

  it('serves waiters in order, drops an aborted waiter, and rejects the rest on close', async () => {
    const clock = new FakeClock();
    const q = new QuotaBucket({ name: 'writes', perMinute: 1, maxQueue: 5, clock });
    assert.equal(q.tryAcquire(), true);
    assert.equal(q.tryAcquire(), false);
    const order: string[] = [];
    const ac = new AbortController();
    const first = q.acquire().then(() => order.push('first'));
    const aborted = q.acquire(ac.signal).then(
      () => order.push('aborted-granted'),
      () => order.push('aborted'),
    );
    const third = q.acquire().then(() => order.push('third'));
    ac.abort();
    await aborted;
    await clock.advance(QUOTA_WINDOW_MS);
    await first;
    const fourth = q.acquire().catch((err: Error & { code?: string }) => order.push(`fourth:${err.code}`));
    await clock.advance(QUOTA_WINDOW_MS);
    await third;
    q.close();
    await fourth;
    assert.deepEqual(order, ['aborted', 'first', 'third', 'fourth:CORRAL_ERR_QUEUE_FULL']);
    assert.equal(clock.pending(), 0, 'no timer left behind');
  });

  it('a waiter that goes first takes the next free token before those queued earlier without; FIFO within each kind; one promoted while it waits goes first too', async () => {
    const clock = new FakeClock();
    const q = new QuotaBucket({ name: 'reads', perMinute: 3, maxQueue: 10, clock });
    const start = clock.now();
    // The window full, its tokens coming back one a second from start + 60 s.
    const granted: number[] = [];
    for (let i = 0; i < 3; i++) {
      assert.ok(q.tryAcquire());
      granted.push(clock.now());
      await clock.advance(1000);
    }
    const order: string[] = [];
    const wait = (name: string, goesFirst?: () => boolean, signal?: AbortSignal) =>
      q.acquire(signal, goesFirst).then(
        () => void (order.push(name), granted.push(clock.now())),
        (err: Error & { code?: string }) => void order.push(`${name}:${err.code ?? err.message}`),
      );
    const urgent = () => true;
    const promotion = { urgent: false };
    const ac = new AbortController();
    const waits = [
      wait('b1', () => false),
      wait('b2'),
      wait('u1', urgent),
      wait('b3'),
      wait('u2', urgent),
      wait('p', () => promotion.urgent),
      wait('u-aborted', urgent, ac.signal),
    ];
    ac.abort(new Error('client gone'));
    await settle();
    promotion.urgent = true;
    assert.equal(q.queued(), 6);
    assert.equal(q.tryAcquire(), false, 'nobody jumps the queue without waiting in it');
    await clock.advance(start + QUOTA_WINDOW_MS - clock.now());
    assert.deepEqual(order, ['u-aborted:client gone', 'u1'], 'the first token that frees goes to the first urgent waiter');
    await clock.advance(2000);
    assert.deepEqual(order.slice(1), ['u1', 'u2', 'p'], 'then the next urgent one, then the one promoted while it waited');
    await clock.advance(QUOTA_WINDOW_MS);
    assert.deepEqual(order.slice(1), ['u1', 'u2', 'p', 'b1', 'b2', 'b3'], 'with no urgent waiter left, the others go, in their order');
    await Promise.all(waits);
    assert.ok(maxInAnyWindow(granted) <= 3, 'no window holds more than the limit');
    assert.equal(q.stats().ahead, 3, 'u1, u2 and p went ahead of b1');
    // Closing refuses waiters of both kinds.
    const late = [wait('b4'), wait('u3', urgent)];
    await settle();
    q.close();
    await Promise.all(late);
    assert.deepEqual(order.slice(-2), ['b4:CORRAL_ERR_QUEUE_FULL', 'u3:CORRAL_ERR_QUEUE_FULL']);
    assert.equal(clock.pending(), 0, 'no timer left behind');
  });

  it('waiters that go first have a queue of room of their own: a queue full of the others does not refuse them', async () => {
    const clock = new FakeClock();
    const q = new QuotaBucket({ name: 'reads', perMinute: 1, maxQueue: 2, clock });
    assert.ok(q.tryAcquire());
    const order: string[] = [];
    const wait = (name: string, goesFirst?: () => boolean) =>
      q.acquire(undefined, goesFirst).then(
        () => void order.push(name),
        (err: Error & { code?: string }) => void order.push(`${name}:${err.code ?? err.message}`),
      );
    const urgent = () => true;
    const waits = [wait('b1'), wait('b2'), wait('b3'), wait('u1', urgent), wait('u2', urgent), wait('u3', urgent), wait('b4')];
    await settle();
    assert.deepEqual(order, ['b3:CORRAL_ERR_QUEUE_FULL', 'u3:CORRAL_ERR_QUEUE_FULL', 'b4:CORRAL_ERR_QUEUE_FULL'], 'the others refused past 2 of them, those going first past 2 of their own');
    assert.equal(q.queued(), 4);
    for (let i = 0; i < 4; i++) await clock.advance(QUOTA_WINDOW_MS);
    await Promise.all(waits);
    assert.deepEqual(order.slice(3), ['u1', 'u2', 'b1', 'b2']);
    q.close();
  });

  it("a caller's turn counts the waiters it would queue behind: those going first for one that goes first, all for one that does not", async () => {
    const clock = new FakeClock();
    const q = new QuotaBucket({ name: 'reads', perMinute: 2, maxQueue: 10, clock });
    assert.equal(q.msUntilTurn(true), 0, 'a token free, nobody queued');
    assert.ok(q.tryAcquire());
    await clock.advance(1000);
    assert.ok(q.tryAcquire());
    // Two client reads and one background read queued; the first token back is 0.5 s away.
    const ranked = () => true;
    const waits = [q.acquire(undefined, ranked), q.acquire(undefined), q.acquire(undefined, ranked)].map((p) => p.catch(() => undefined));
    await clock.advance(QUOTA_WINDOW_MS - 1500);
    assert.equal(q.msUntilFree(), 500, "the head's wait");
    // A client read goes behind the two going first: the second grant's return serves the second
    // of them, and its own token is one of the grants they make, a window away at least.
    assert.equal(q.msUntilTurn(true), QUOTA_WINDOW_MS);
    assert.equal(q.msUntilTurn(false), QUOTA_WINDOW_MS);
    await clock.advance(500);
    await settle();
    // One client read served; the other goes at the second grant's return (1 s on), then the new one.
    assert.equal(q.queued(), 2);
    assert.equal(q.msUntilTurn(true), QUOTA_WINDOW_MS);
    await clock.advance(1000);
    await settle();
    assert.equal(q.queued(), 1, 'the background read waits');
    // Only the background read is queued: a client read goes before it, at the next return.
    assert.equal(q.msUntilTurn(true), QUOTA_WINDOW_MS - 1000);
    assert.equal(q.msUntilTurn(false), QUOTA_WINDOW_MS, 'behind the background read: the return after next');
    q.close();
    await Promise.all(waits);
  });

  it('whenFree waits for a token without taking it, and stops waiting on abort', async () => {
    const clock = new FakeClock();
    const q = new QuotaBucket({ name: 'writes', perMinute: 2, maxQueue: 5, clock });
    await q.whenFree();
    assert.equal(q.tokensLeft(), 2, 'asking takes nothing');
    assert.ok(q.tryAcquire());
    await clock.advance(10_000);
    assert.ok(q.tryAcquire());
    assert.equal(q.msUntilFree(), QUOTA_WINDOW_MS - 10_000, 'the first grant comes back first');
    let freed = false;
    const waiting = q.whenFree().then(() => (freed = true));
    await clock.advance(QUOTA_WINDOW_MS - 10_001);
    assert.equal(freed, false);
    await clock.advance(1);
    await waiting;
    assert.equal(q.tokensLeft(), 1);
    assert.ok(q.tryAcquire());
    const ac = new AbortController();
    const aborted = q.whenFree(ac.signal);
    ac.abort(new Error('keeper closing'));
    await assert.rejects(aborted, /keeper closing/);
    assert.equal(clock.pending(), 0, 'no timer left behind');
  });
});

describe('quota ledger', () => {
  async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'corral-ledger-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const bucketsOn = (clock: FakeClock, perMinute: number) => ({
    reads: new QuotaBucket({ name: 'reads', perMinute, maxQueue: 10, clock }),
    writes: new QuotaBucket({ name: 'writes', perMinute, maxQueue: 10, clock }),
  });

  it('a grant dated again when its call leaves (after the hosts\' shared window): its token comes back a window after that, and the ledger a restarted keeper reads says so', async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const first = bucketsOn(clock, 1);
        QuotaLedger.open(dir, first, log.logger);
        const grantedAt = await first.reads.acquire();
        assert.equal(grantedAt, clock.now(), 'acquire resolves with the grant time');
        // 20 s in Redis's shared window before the call leaves.
        await clock.advance(20_000);
        first.reads.sentAt(grantedAt);
        assert.deepEqual(first.reads.recentGrants(), [clock.now()]);
        assert.equal(first.reads.msUntilFree(), QUOTA_WINDOW_MS, 'a window from the call, not from the grant');
        const ledgerFile = JSON.parse(readFileSync(join(dir, QUOTA_LEDGER_FILE), 'utf8')) as { reads: [number, number][] };
        assert.deepEqual(ledgerFile.reads, [[Math.floor(clock.now() / 1000), 1]], 'the ledger moved it, not counted it twice');
        // The keeper dies; its successor, 70 s after the grant (50 s after the call), still counts it.
        await clock.advance(50_000);
        const second = bucketsOn(clock, 1);
        QuotaLedger.open(dir, second, log.logger);
        assert.equal(second.reads.tokensLeft(), 0, 'dated at the grant, its token would be back already; dated at the call, in 11 s');
        assert.ok(second.reads.msUntilFree() > QUOTA_WINDOW_MS - 50_000 - 1, String(second.reads.msUntilFree()));
        // A grant never waited for is left as it was.
        first.reads.sentAt(clock.now() + 5);
        assert.equal(first.reads.recentGrants().length, 1);
      } finally {
        log.close();
      }
    });
  });

  it("a call granted at once by the host's bucket, then held in the hosts' shared window, is dated when it leaves on the keeper's real clock too (fractions of a millisecond)", async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        // As the keeper's own clock (performance.timeOrigin + performance.now()): each reading a
        // little later than the one before, never twice the same.
        class FractionClock extends FakeClock {
          private reads = 0;
          override now(): number {
            return super.now() + ++this.reads / 1000;
          }
        }
        const clock = new FractionClock();
        const first = bucketsOn(clock, 1);
        QuotaLedger.open(dir, first, log.logger);
        let leftAt = 0;
        // Redis's shared window lets the call leave 20 s after the host's grant.
        const before = pacer(first.reads, first.writes, new UpstreamMeter(clock), () => clock.advance(20_000).then(() => void (leftAt = clock.now())));
        await before({ kind: 'read' });
        const [at] = first.reads.recentGrants();
        assert.ok(at !== undefined && at >= leftAt, `the grant is dated when its call left (${leftAt}), not at the host's grant (${at})`);
        assert.equal(first.reads.recentGrants().length, 1, 'moved, not counted twice');
        const ledgerFile = JSON.parse(readFileSync(join(dir, QUOTA_LEDGER_FILE), 'utf8')) as { reads: [number, number][] };
        assert.deepEqual(ledgerFile.reads, [[Math.floor(leftAt / 1000), 1]], "the ledger a restarted keeper reads dates it at the call");
      } finally {
        log.close();
      }
    });
  });

  it("a call held in the hosts' shared window longer than the quota window still counts from when it leaves", async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const first = bucketsOn(clock, 2);
        QuotaLedger.open(dir, first, log.logger);
        const grantedAt = await first.reads.acquire();
        // 62 s in Redis's shared window (the hosts together over the limit): the host's grant left the window meanwhile.
        await clock.advance(62_000);
        first.reads.sentAt(grantedAt);
        assert.deepEqual(first.reads.recentGrants(), [clock.now()], 'the call that leaves now holds a token for a window from now');
        const ledgerFile = JSON.parse(readFileSync(join(dir, QUOTA_LEDGER_FILE), 'utf8')) as { reads: [number, number][] };
        assert.deepEqual(ledgerFile.reads, [[Math.floor(clock.now() / 1000), 1]], 'and the ledger counts it');
      } finally {
        log.close();
      }
    });
  });

  it("a keeper whose clock drifted from the wall clock (a step of it, a suspend) hands its grants to the next keeper at their wall-clock time", async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        // The keeper's clock is the wall clock at its start, then monotonic: the system clock was
        // stepped two minutes forward since (NTP at boot, or a VM paused that long).
        class DriftedClock extends FakeClock {
          constructor(start: number, private readonly offsetMs: number) {
            super(start);
          }
          wallOffset(): number {
            return this.offsetMs;
          }
        }
        const t = 1_700_000_000_000;
        const before = new DriftedClock(t, 120_000);
        const first = bucketsOn(before, 3);
        QuotaLedger.open(dir, first, log.logger, before);
        for (let i = 0; i < 3; i++) assert.ok(first.reads.tryAcquire());
        // The keeper is restarted a second later (a reload): its clock starts at the wall clock.
        const after = new DriftedClock(t + 120_000 + 1000, 0);
        const second = bucketsOn(after, 3);
        QuotaLedger.open(dir, second, log.logger, after);
        assert.equal(second.reads.tokensLeft(), 0, 'the three reads of a second ago still count');
        assert.ok(second.reads.msUntilFree() > QUOTA_WINDOW_MS - 2000, String(second.reads.msUntilFree()));
      } finally {
        log.close();
      }
    });
  });

  it("a restarted keeper's buckets count the calls its predecessor made in the last minute", async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const first = bucketsOn(clock, 3);
        const ledger = QuotaLedger.open(dir, first, log.logger);
        for (let i = 0; i < 3; i++) {
          assert.ok(first.writes.tryAcquire());
          await clock.advance(10_000);
        }
        assert.ok(first.reads.tryAcquire());
        // The keeper dies here (nothing is closed); its successor starts 10 s later.
        await clock.advance(10_000);
        const second = bucketsOn(clock, 3);
        QuotaLedger.open(dir, second, log.logger);
        assert.equal(second.writes.tokensLeft(), 0, 'the three writes of the last 40 s still count');
        assert.equal(second.reads.tokensLeft(), 2);
        // The file counts grants per second and dates each at its second's end: held up to 999 ms
        // longer than the window, never shorter.
        assert.equal(second.writes.msUntilFree(), QUOTA_WINDOW_MS - 40_000 + 999, 'the first write comes back 60 s after the end of its second');
        await clock.advance(QUOTA_WINDOW_MS - 40_000 + 999);
        assert.equal(second.writes.tokensLeft(), 1);
        assert.ok(log.lines().some((l) => l.event === 'quota.restored' && l.writes === 3 && l.reads === 1));
        // Closing stops the recording: a grant after it is not in the file.
        ledger.close();
        const before = readFileSync(join(dir, QUOTA_LEDGER_FILE), 'utf8');
        assert.ok(first.writes.tryAcquire());
        assert.equal(readFileSync(join(dir, QUOTA_LEDGER_FILE), 'utf8'), before);
      } finally {
        log.close();
      }
    });
  });

  it('keeps the keepers counted present (REDIS_URL) for the next keeper, with the grants; nothing once closed; a malformed count is no count', async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const path = join(dir, QUOTA_LEDGER_FILE);
        const first = bucketsOn(clock, 5);
        const ledger = QuotaLedger.open(dir, first, log.logger);
        assert.equal(ledger.keepersSeen(), undefined, 'a first start knows no count');
        ledger.recordKeepers({ keepers: 3, at: clock.now() });
        assert.ok(first.reads.tryAcquire());
        assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')).keepers, [3, clock.now()], 'written, and kept by the write of a grant');
        // Its successor reads the count and the grant.
        const second = QuotaLedger.open(dir, bucketsOn(clock, 5), log.logger);
        assert.deepEqual(second.keepersSeen(), { keepers: 3, at: clock.now() });
        ledger.close();
        const before = readFileSync(path, 'utf8');
        ledger.recordKeepers({ keepers: 1, at: clock.now() });
        assert.equal(readFileSync(path, 'utf8'), before, 'a closed ledger writes nothing: the file may be the next keeper\'s');
        for (const keepers of [[0, 1], ['2', 1], [2], 'x']) {
          writeFileSync(path, JSON.stringify({ v: 1, reads: [], writes: [], keepers }));
          assert.equal(QuotaLedger.open(dir, bucketsOn(clock, 5), log.logger).keepersSeen(), undefined, JSON.stringify(keepers));
        }
      } finally {
        log.close();
      }
    });
  });

  it("keeps a count of keepers dated by the keeper's real clock, whose times have a fraction of a millisecond: written whole, read back, and kept by the next keeper's writes", async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const path = join(dir, QUOTA_LEDGER_FILE);
        // The keeper's clock (monotonicNow): not a whole number of ms, almost always.
        let at = systemClock.now();
        while (Number.isInteger(at)) at = systemClock.now();
        const clock = new FakeClock(at);
        const first = QuotaLedger.open(dir, bucketsOn(clock, 5), log.logger);
        first.recordKeepers({ keepers: 2, at });
        const [keepers, writtenAt] = JSON.parse(readFileSync(path, 'utf8')).keepers as [number, number];
        assert.equal(keepers, 2);
        assert.ok(Number.isInteger(writtenAt) && Math.abs(writtenAt - at) <= 0.5, `written as a whole ms: ${writtenAt} for ${at}`);
        first.close();
        // The next keeper (restarted while Redis is away) takes it, and its own grants keep it.
        const second = bucketsOn(clock, 5);
        const ledger = QuotaLedger.open(dir, second, log.logger);
        assert.equal(ledger.keepersSeen()?.keepers, 2, 'the count is read back');
        assert.ok(second.reads.tryAcquire());
        assert.equal(JSON.parse(readFileSync(path, 'utf8')).keepers?.[0], 2, "kept in the file the next keeper writes");
        ledger.close();
        // A file an earlier version wrote, with the fraction in it, is read too.
        writeFileSync(path, JSON.stringify({ v: 1, reads: [], writes: [], keepers: [3, 1795678499089.1167] }));
        assert.deepEqual(QuotaLedger.open(dir, bucketsOn(clock, 5), log.logger).keepersSeen(), { keepers: 3, at: 1795678499089.1167 });
      } finally {
        log.close();
      }
    });
  });

  it('drops grants older than the window, counts grants ahead of the clock as now, and survives a bad file', async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const now = clock.now();
        const path = join(dir, QUOTA_LEDGER_FILE);
        const second = (t: number) => Math.floor(t / 1000);
        writeFileSync(path, JSON.stringify({ v: 1, reads: [[second(now - QUOTA_WINDOW_MS - 1000), 1], [second(now - 1000), 2], 'x', [second(now), 0]], writes: [[second(now + 3_600_000), 1]] }));
        const restored = bucketsOn(clock, 5);
        QuotaLedger.open(dir, restored, log.logger);
        // The clock starts on a whole second: the second before now ends 1 ms before it.
        assert.deepEqual(restored.reads.recentGrants(), [now - 1, now - 1]);
        assert.deepEqual(restored.writes.recentGrants(), [now], 'a time an hour ahead holds its token one window, not an hour');

        writeFileSync(path, '{"v":1,"reads":[');
        const fresh = bucketsOn(clock, 5);
        QuotaLedger.open(dir, fresh, log.logger);
        assert.equal(fresh.reads.tokensLeft(), 5);
        const warning = log.lines().find((l) => l.event === 'quota.ledger_unreadable');
        assert.ok(warning, 'an unreadable ledger is reported');
        assert.match(String(warning.problem), /not JSON/);
        assert.ok(fresh.reads.tryAcquire());
        assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { v: 1, reads: [[second(now), 1]], writes: [] }, 'and replaced at the next grant');
      } finally {
        log.close();
      }
    });
  });

  it('keeps one entry a second whatever the rate, and a second restart within the minute still counts the first keeper', async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const first = bucketsOn(clock, 100_000);
        QuotaLedger.open(dir, first, log.logger);
        // 4,000 reads over 40 s: with a list of every grant, each write rewrote the whole minute.
        for (let i = 0; i < 4_000; i++) {
          assert.ok(first.reads.tryAcquire());
          if (i % 100 === 99) await clock.advance(1000);
        }
        const file = JSON.parse(readFileSync(join(dir, QUOTA_LEDGER_FILE), 'utf8')) as { reads: [number, number][] };
        assert.equal(file.reads.length, 40, 'one entry a second');
        assert.equal(file.reads.reduce((n, [, c]) => n + c, 0), 4_000);
        const second = bucketsOn(clock, 100_000);
        QuotaLedger.open(dir, second, log.logger);
        assert.equal(second.reads.tokensLeft(), 96_000);
        // The second keeper grants once and dies; the third still counts the first keeper's grants.
        assert.ok(second.reads.tryAcquire());
        const third = bucketsOn(clock, 100_000);
        QuotaLedger.open(dir, third, log.logger);
        assert.equal(third.reads.tokensLeft(), 96_000 - 1);
        // A window after the second keeper's grant (and its second's end), the old seconds leave
        // the file at the next grant.
        await clock.advance(QUOTA_WINDOW_MS + 1000);
        assert.ok(third.reads.tryAcquire());
        assert.deepEqual(JSON.parse(readFileSync(join(dir, QUOTA_LEDGER_FILE), 'utf8')).reads, [[Math.floor(clock.now() / 1000), 1]]);
      } finally {
        log.close();
      }
    });
  });
  it("keeps what the keeper knew of the hosts' shared window (REDIS_URL) for the next keeper: its last reading and its grants the window lacks; a file without them (an older corral's) reads as before", async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock(1_000_000.25);
        const path = join(dir, QUOTA_LEDGER_FILE);
        // A file an older corral wrote: grants and keepers, nothing of the window.
        const second = Math.floor(clock.now() / 1000) - 2;
        writeFileSync(path, JSON.stringify({ v: 1, reads: [[second, 2]], writes: [], keepers: [2, clock.now()] }));
        const old = bucketsOn(clock, 5);
        const first = QuotaLedger.open(dir, old, log.logger);
        assert.deepEqual(first.windowLeft(), {}, 'nothing known of the window: the successor does as before');
        assert.equal(old.reads.recentGrants().length, 2, 'its grants still restored');
        assert.equal(first.keepersSeen()?.keepers, 2);
        // This keeper hears the window, makes a call alone, and another it writes back later.
        const recorder = first.recorder();
        recorder.heard('read', { since: 5_000, redisAt: 9_000, at: clock.now(), counts: [3, 0, 1] });
        recorder.unshared('read', clock.now());
        clock.advance(2000);
        recorder.unshared('read', clock.now());
        recorder.shared('read', clock.now());
        first.close();
        const next = QuotaLedger.open(dir, bucketsOn(clock, 5), log.logger);
        const left = next.windowLeft();
        assert.deepEqual(left.read?.reading, { since: 5_000, redisAt: 9_000, at: 1_000_000, counts: [3, 0, 1] }, 'the reading, its time a whole ms');
        assert.deepEqual(left.read?.unshared, [(Math.floor(1_000_000.25 / 1000) * 1000) + 999], 'the grant made alone, at the end of its second; the one written back is not');
        assert.equal(left.write, undefined);
        // Carried over by the successor's writes, as the grants are: a second restart still knows them.
        next.recordKeepers({ keepers: 2, at: clock.now() });
        next.close();
        assert.deepEqual(QuotaLedger.open(dir, bucketsOn(clock, 5), log.logger).windowLeft(), left);
        // Malformed parts are left out, the rest is read.
        writeFileSync(path, JSON.stringify({ v: 1, reads: [], writes: [], window: { reads: { reading: [1, 'x', 3, []], unshared: [[second, 1]] }, writes: 7 } }));
        const odd = QuotaLedger.open(dir, bucketsOn(clock, 5), log.logger).windowLeft();
        assert.equal(odd.read?.reading, undefined);
        assert.equal(odd.read?.unshared.length, 1);
        assert.equal(odd.write, undefined);
      } finally {
        log.close();
      }
    });
  });
});
