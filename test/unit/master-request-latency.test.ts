import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyBuckets } from '../../src/latency-buckets.js';
import { LATENCY_WINDOW_MS, RequestLatency } from '../../src/master/request-latency.js';

/** One beat's pairs: `n` requests of `ms` each. */
function beat(...groups: [n: number, ms: number][]): number[] {
  const b = new LatencyBuckets();
  for (const [n, ms] of groups) for (let i = 0; i < n; i++) b.recordMs(ms);
  return b.toPairs();
}

describe("the master's request durations per beat (request-latency.ts)", () => {
  it('a reader with a cursor counts every beat once: the slow beat between two samples is in the next one, whatever the last beat was', () => {
    const log = new RequestLatency();
    let cursor = 0;
    const sample = () => {
      const s = log.since(cursor);
      cursor = s.cursor;
      return s.buckets;
    };
    log.add(11, beat([10, 2]), 0);
    assert.equal(sample().count, 10);
    // The audit's case: five 1.5 s logins answered in the second beat of five; the last beat idle.
    log.add(11, beat([20, 2]), 1000);
    log.add(11, beat([5, 1522.7]), 2000);
    log.add(11, beat([20, 2]), 3000);
    log.add(11, [], 4000);
    log.add(12, beat([30, 3]), 4000);
    const s = sample();
    assert.equal(s.count, 75);
    assert.ok((s.percentileMs(0.99) as number) >= 1522.7);
    // A beat received in the very millisecond of the previous sample is in the next one.
    log.add(11, beat([1, 900]), 4000);
    assert.equal(sample().count, 1);
    assert.equal(sample().count, 0, 'nothing since');
  });

  it(`p99Ms covers the last ${LATENCY_WINDOW_MS / 1000} s, all workers or one; 0 with no request`, () => {
    const log = new RequestLatency();
    assert.equal(log.p99Ms(0), 0);
    log.add(11, beat([5, 1522.7]), 1000);
    for (let t = 2000; t <= 15_000; t += 1000) {
      log.add(11, beat([5, 2]), t);
      log.add(12, beat([5, 4]), t);
    }
    // A scrape 15 s after the slow beat sees it, as every one within the minute does.
    assert.ok(log.p99Ms(15_000) >= 1522.7, String(log.p99Ms(15_000)));
    assert.ok(log.p99Ms(15_000, 11) >= 1522.7);
    assert.ok(log.p99Ms(15_000, 12) <= 4.05, 'the other worker had none');
    assert.ok(log.p99Ms(1000 + LATENCY_WINDOW_MS - 1) >= 1522.7);
    assert.ok(log.p99Ms(1000 + LATENCY_WINDOW_MS) <= 4.05, 'out of the window');
    assert.equal(log.p99Ms(15_000 + LATENCY_WINDOW_MS), 0);
  });

  it("each worker's p99 and the total come from one pass over the beats, kept until a beat comes or leaves the window", () => {
    const log = new RequestLatency();
    const workers = 64;
    for (let t = 1000; t <= 10_000; t += 1000) for (let pid = 1; pid <= workers; pid++) log.add(pid, beat([5, pid]), t);
    const added = LatencyBuckets.prototype.addPairs;
    let passes = 0;
    LatencyBuckets.prototype.addPairs = function (this: LatencyBuckets, pairs: readonly number[]) {
      passes++;
      return added.call(this, pairs);
    };
    try {
      // As /api/admin/stats and a scrape ask: each worker's, then the total.
      const p99s = Array.from({ length: workers }, (_, i) => log.p99Ms(10_000, i + 1));
      assert.ok(Math.abs((p99s[9] ?? 0) - 10) < 0.5 && Math.abs((p99s[59] ?? 0) - 60) < 2, `each its own: ${p99s[9]}, ${p99s[59]}`);
      assert.ok(log.p99Ms(10_000) >= 60);
      assert.equal(passes, 2 * 10 * workers, 'each beat read twice (its worker, the total), not once per worker asked');
      assert.equal(log.p99Ms(10_000, 999), 0, 'a worker with no beat');
      // A new beat is counted at once.
      log.add(1, beat([50, 900]), 10_500);
      assert.ok(log.p99Ms(10_500, 1) >= 900);
    } finally {
      LatencyBuckets.prototype.addPairs = added;
    }
  });
});
