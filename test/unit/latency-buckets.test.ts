import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketOf, bucketUpperMs, LatencyBuckets } from '../../src/latency-buckets.js';

describe('request durations in 1 % buckets (latency-buckets.ts)', () => {
  it('reads a percentile at most 1 % above the true one, never below', () => {
    const b = new LatencyBuckets();
    for (let ms = 1; ms <= 1000; ms++) b.recordMs(ms);
    for (const [q, truth] of [[0.5, 500], [0.9, 900], [0.99, 990], [1, 1000]] as const) {
      const got = b.percentileMs(q) as number;
      assert.ok(got >= truth && got <= truth * 1.01, `p${q * 100} ${got} ms for ${truth} ms`);
    }
    assert.equal(new LatencyBuckets().percentileMs(0.99), undefined, 'none counted');
    for (const us of [1, 2, 100, 1_522_700, 3.6e9]) assert.ok(bucketUpperMs(bucketOf(us)) * 1000 >= us * (1 - 1e-12), `bucket of ${us} µs holds it`);
  });

  it('a handful of slow requests among many fast ones is the p99 (rank ceil(0.99 × count))', () => {
    const b = new LatencyBuckets();
    for (let i = 0; i < 95; i++) b.recordMs(2);
    for (let i = 0; i < 5; i++) b.recordMs(1522.7);
    const p99 = b.percentileMs(0.99) as number;
    assert.ok(p99 >= 1522.7 && p99 < 1540, String(p99));
  });

  it('adds up exactly: the buckets of two beats sent as pairs are those of all their requests', () => {
    const whole = new LatencyBuckets();
    const beats = [new LatencyBuckets(), new LatencyBuckets()];
    for (let i = 0; i < 200; i++) {
      const ms = (i * 37) % 700 + 0.3;
      whole.recordMs(ms);
      beats[i % 2]?.recordMs(ms);
    }
    const merged = new LatencyBuckets();
    for (const beat of beats) merged.addPairs(JSON.parse(JSON.stringify(beat.toPairs())) as number[]);
    assert.deepEqual(merged.toPairs(), whole.toPairs());
    assert.equal(merged.count, 200);
    assert.equal(merged.percentileMs(0.99), whole.percentileMs(0.99));
    const other = new LatencyBuckets();
    other.add(merged);
    assert.deepEqual(other.toPairs(), whole.toPairs());
  });

  it('skips pairs that are not two non-negative integers (they come over IPC)', () => {
    const b = new LatencyBuckets();
    b.addPairs([10, 2, -1, 5, 3.5, 1, 20, 0, 30, Number.NaN, 40]);
    assert.deepEqual(b.toPairs(), [10, 2]);
    b.reset();
    assert.equal(b.count, 0);
  });
});
