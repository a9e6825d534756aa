import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuotaBucket, QUOTA_WINDOW_MS } from '../../src/sheets/keeper/quota.js';
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
    await assert.rejects(q.acquire(), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_QUEUE_FULL');
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
});
