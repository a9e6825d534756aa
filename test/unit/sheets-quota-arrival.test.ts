// A token is dated when the bucket grants it; Google counts the call when it arrives. Between the
// two, the request may wait in undici's pool for a free connection (16 by default) behind calls
// Google is slow to answer: a burst of grants arrives spread over seconds, and the tokens come
// back 61 s after the grant, not after the arrival.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pacer } from '../../src/sheets/keeper/pacing.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { UpstreamMeter } from '../../src/sheets/keeper/upstream-meter.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { withHarness } from '../fixtures/sheets/harness.js';

const PER_MINUTE = 4;

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), 'timed out');
}

function mostInAnyMinute(times: readonly number[]): number {
  let most = 0;
  for (const t of times) most = Math.max(most, times.filter((u) => u >= t && u < t + 60_000).length);
  return most;
}

describe('quota: calls as Google counts them (arrival)', () => {
  it('no 60 s window of arrivals holds more than perMinute when requests queue for a connection', async () => {
    const c = new FakeClock(Date.now());
    await withHarness(
      async (h) => {
        const reads = new QuotaBucket({ name: 'sheets reads', perMinute: PER_MINUTE, maxQueue: 100, clock: c });
        const writes = new QuotaBucket({ name: 'sheets writes', perMinute: PER_MINUTE, maxQueue: 100, clock: c });
        const b = h.backend({ beforeAttempt: pacer(reads, writes, new UpstreamMeter(c)), connections: 1, now: () => c.now() });
        // The access token in hand first (its fetch is no Sheets call).
        await b.getValues('Players!A1');
        await c.advance(61_000);
        const t0 = c.now();
        // Google slow for now: the first answer takes 300 ms (real time).
        h.emulator.setFaults({ latencyMs: 300 });
        const first = Array.from({ length: PER_MINUTE }, () => b.getValues('Players!A1'));
        await until(() => h.emulator.reads(t0).length >= 1);
        assert.equal(reads.stats().granted, 1 + PER_MINUTE, 'the whole minute granted at t0');
        // Time passes while the first call is at Google; the others wait in the pool.
        await c.advance(30_000);
        h.emulator.setFaults({ latencyMs: 0 });
        await Promise.all(first);
        // A token comes back 61 s after the call left: the first call's at t0 + 61 s, the others'
        // (they left at t0 + 30 s) 30 s later. Unfixed, all four came back at t0 + 61 s and the
        // next burst went out at once: 7 calls in Google's minute from t0 + 30 s.
        await c.advance(31_000);
        const second = Promise.all(Array.from({ length: PER_MINUTE }, () => b.getValues('Players!A1')));
        await until(() => h.emulator.reads(t0 + 61_000).length >= 1);
        await c.advance(40_000);
        await second;
        const arrivals = h.emulator.reads(t0).map((r) => r.at);
        assert.equal(arrivals.length, 2 * PER_MINUTE);
        assert.deepEqual(arrivals.slice(0, PER_MINUTE + 1).map((t) => t - t0), [0, 30_000, 30_000, 30_000, 61_000]);
        assert.ok(mostInAnyMinute(arrivals) <= PER_MINUTE, `Google received ${mostInAnyMinute(arrivals)} reads in one 60 s window, quota ${PER_MINUTE}: ${arrivals.map((t) => t - t0).join(', ')}`);
      },
      { now: () => c.now() },
    );
  });
});
