// Review probe: a keeper restarted during a Redis outage inherits its predecessor's grants made
// alone (the quota ledger), but never writes them into the shared window once Redis is back.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { RedisLink } from '../../src/redis/link.js';
import { systemClock, type Clock } from '../../src/sheets/keeper/clock.js';
import type { QuotaKind } from '../../src/sheets/keeper/quota.js';
import type { WindowReading, WindowRecorder } from '../../src/sheets/keeper/quota-kind-state.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import { SharedQuota, type QuotaMemory } from '../../src/sheets/keeper/shared-quota.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

const PREFIX = sharedPrefix('google sheet-1 via emulator');

class HeldClock implements Clock {
  readonly timers = new Map<number, () => void>();
  private seq = 0;
  now(): number { return systemClock.now(); }
  setTimeout(fn: () => void): unknown { const id = ++this.seq; this.timers.set(id, fn); return id; }
  clearTimeout(h: unknown): void { this.timers.delete(h as number); }
}

describe('inherited grants and the shared window', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let log: CapturedLogger;
  const links: RedisLink[] = [];
  const quotas: SharedQuota[] = [];
  const aborts: AbortController[] = [];
  beforeEach(async () => { log = await captureLogger(); });
  afterEach(async () => {
    for (const a of aborts.splice(0)) a.abort();
    for (const q of quotas.splice(0)) q.close();
    for (const l of links.splice(0)) await l.close();
    log.close();
  });
  const quota = async (perMinute: number, memory: QuotaMemory = {}) => {
    const clock = new HeldClock();
    const link = new RedisLink({ url: server().url, logger: log.logger, pauseAfterFailureMs: 300, recoveredAfterMs: 300, commandTimeoutMs: 400 });
    links.push(link);
    while (!link.ready) await new Promise((r) => setTimeout(r, 10));
    mock.timers.enable({ apis: ['setInterval'] });
    let q: SharedQuota;
    try { q = new SharedQuota({ link, prefix: PREFIX, perMinute: { read: perMinute, write: perMinute }, logger: log.logger, ...memory, clock }); } finally { mock.timers.reset(); }
    quotas.push(q);
    return { q, clock, link };
  };
  const grantedAtOnce = async (p: { q: SharedQuota; clock: HeldClock }, n: number) => {
    const asleep = p.clock.timers.size;
    let granted = 0;
    for (let i = 0; i < n; i++) {
      const abort = new AbortController();
      aborts.push(abort);
      p.q.take('read', abort.signal).then(() => granted++, () => undefined);
    }
    await waitFor(() => granted + p.clock.timers.size - asleep === n, 30_000, 'granted or asleep');
    return granted;
  };

  it("Redis restarted empty while a host's keeper restarted: the predecessor's grants of the minute (the quota ledger's) count in the window", async () => {
    const a1 = await quota(12);
    const b = await quota(12);
    const times: number[] = [];
    const a1Takes = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await a1.q.take('read');
        times.push(systemClock.now());
      }
    };
    // A1's share; past it, A1 is granted what B has read of the window: B's second call tells
    // Redis the reading its first brought back, A1's six in it.
    await a1Takes(6);
    await b.q.take('read');
    await b.q.take('read');
    await a1Takes(2);
    assert.equal(a1.q.figures().sharedKeepers, 2);
    // A's keeper restarts (a reload, a crash) as Redis restarts without persistence.
    a1.q.close();
    server().cli('FLUSHALL');
    // Its successor holds the predecessor's 8 grants of the minute (the quota ledger's).
    const a2 = await quota(12, { before: { keepers: { keepers: 2, at: systemClock.now() }, grants: { read: times, write: [] } } });
    await waitFor(() => Number(server().cli('ZCARD', `${PREFIX}:keepers`).trim()) === 1 || undefined, 30_000, 'A2 present');
    void a2;
    // B: 2 calls so far; 8 of A's; the minute may hold 2 more.
    const more = await grantedAtOnce(b, 12);
    const inWindow = Number(server().cli('ZCARD', `${PREFIX}:quota:reads`).trim());
    assert.ok(8 + 2 + more <= 12, `B granted ${more} more after 10 calls this minute (window holds ${inWindow}): ${10 + more} of 12`);
  });

  it("a keeper restarted while Redis is away: the window its predecessor last heard (another host's calls) counts against its share", async () => {
    const b = await quota(10);
    for (let i = 0; i < 10; i++) await b.q.take('read');
    // What the quota ledger keeps of A1's window for its successor (quota-ledger.ts does the same, on disk).
    const readings: Partial<Record<QuotaKind, WindowReading>> = {};
    const recorder: WindowRecorder = { heard: (kind, r) => void (readings[kind] = r), unshared: () => undefined, shared: () => undefined };
    const a1 = await quota(10, { recorder });
    await waitFor(() => a1.q.figures().sharedKeepers === 2 || undefined, 30_000, 'A1 heard the window');
    await server().kill();
    try {
      assert.equal(await grantedAtOnce(a1, 5), 0, "A1 counts B's ten calls against its share");
      for (const x of aborts.splice(0)) x.abort();
      a1.q.close();
      // Its successor, started while Redis is away (a reload, a crash): the ledger's count of keepers, no grants of A's,
      // and A1's last reading of the window.
      const window = { read: { reading: readings.read!, unshared: [] }, write: { reading: readings.write!, unshared: [] } };
      const link = new RedisLink({ url: server().url, logger: log.logger, pauseAfterFailureMs: 300, recoveredAfterMs: 300, commandTimeoutMs: 400 });
      links.push(link);
      const clock = new HeldClock();
      mock.timers.enable({ apis: ['setInterval'] });
      let a2: SharedQuota;
      try { a2 = new SharedQuota({ link, prefix: PREFIX, perMinute: { read: 10, write: 10 }, logger: log.logger, before: { keepers: { keepers: 2, at: systemClock.now() }, grants: { read: [], write: [] }, window }, clock }); } finally { mock.timers.reset(); }
      quotas.push(a2);
      const got = await grantedAtOnce({ q: a2, clock }, 5);
      assert.equal(got, 0, `A2 spent ${got} alone on top of B's 10 of 10 this minute`);
    } finally {
      for (const x of aborts.splice(0)) x.abort();
      await server().restart();
    }
  });
  it("a successor writes back its predecessor's grants made alone, and all of them once Redis lost the window it last read; not twice when Redis did not", async () => {
    const readings: Partial<Record<QuotaKind, WindowReading>> = {};
    const recorder: WindowRecorder = { heard: (kind, r) => void (readings[kind] = r), unshared: () => undefined, shared: () => undefined };
    const a1 = await quota(12, { recorder });
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      await a1.q.take('read');
      times.push(systemClock.now());
    }
    a1.q.close();
    const alone = systemClock.now();
    const window = { read: { reading: readings.read!, unshared: [alone] } };
    const before = () => ({ keepers: { keepers: 1, at: systemClock.now() }, grants: { read: [...times, alone], write: [] }, window });
    const held = () => Number(server().cli('ZCARD', `${PREFIX}:quota:reads`).trim());
    const writers = () => Number(server().cli('ZCARD', `${PREFIX}:keepers:reads`).trim());
    // The window A1 read: only the grant made alone is written back.
    const a2 = await quota(12, { before: before() });
    await waitFor(() => writers() === 2 || undefined, 30_000, 'A2 wrote back');
    assert.equal(held(), 4, "A1's 3 in the window, and the one made alone, once");
    a2.q.close();
    // Redis lost its data: the successor writes back all of them.
    server().cli('FLUSHALL');
    const a3 = await quota(12, { before: before() });
    await waitFor(() => writers() === 1 || undefined, 30_000, 'A3 wrote back');
    assert.equal(held(), 4, "A1's 3 and the one made alone, under A3's members");
    void a3;
  });
});
