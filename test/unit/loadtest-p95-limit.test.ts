// The p95 criterion judged on exact counts of the latencies at or over its limit, not on the HDR
// bucket the p95 falls in: near 500 ms a bucket is 256 µs wide, and its highest value read a true
// p95 of 499.98 ms as "p95 500 ms ≥ 500 ms".

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/loadtest/client.js';
import { judgeSegment, type SegmentInput } from '../../src/loadtest/segment-judgement.js';
import { emptyCounts, p95UnderLimit, reachingLimit, Tally } from '../../src/loadtest/tally.js';
import { briefFigures, overallVerdict } from '../../src/loadtest/verdict.js';

function sample(latencyMs: number, paceMs = 0): Sample {
  return { kind: 'read', route: 'GET /api/players', status: 200, outcome: 'ok', latencyUs: Math.round(latencyMs * 1000), startMs: 0, endMs: 1, bytes: 10, ...(paceMs > 0 ? { paceUs: paceMs * 1000 } : {}) };
}

function recorded(...runs: [count: number, latencyMs: number, paceMs?: number][]): Tally {
  const t = new Tally();
  for (const [count, latencyMs, paceMs] of runs) for (let i = 0; i < count; i++) t.record(sample(latencyMs, paceMs));
  return t;
}

function stepOf(t: Tally): SegmentInput {
  return { label: 'step 4', users: 4, counts: { ...emptyCounts(), ...t.counts }, appRequests: t.counts.requests, latency: t.latency(), statuses: t.statuses, errorCodes: t.errorCodes, server: [], serverProblem: 'no --admin URL given' };
}

function p95Detail(t: Tally): string | undefined {
  return judgeSegment(stepOf(t)).checks.find((c) => c.name === 'p95')?.detail;
}

function verdictOf(t: Tally): ReturnType<typeof overallVerdict> {
  const seg = stepOf(t);
  return overallVerdict([{ label: seg.label, users: 4, ran: true, complete: true, steady: true, counts: seg.counts, latency: seg.latency, judgement: judgeSegment(seg) }], false);
}

describe('the nearest-rank p95 against a limit', () => {
  it('is under it while at most 5 % of the samples reach it', () => {
    // Of 200, the p95 is the 190th: 10 at or over the limit leave it under, 11 do not.
    assert.equal(p95UnderLimit(10, 200), true);
    assert.equal(p95UnderLimit(11, 200), false);
    // Of 20 the 19th, of 19 the 19th (ceil(18.05)): one slow sample is tolerated only in the first.
    assert.equal(p95UnderLimit(1, 20), true);
    assert.equal(p95UnderLimit(1, 19), false);
    assert.equal(p95UnderLimit(0, 1), true);
    assert.equal(p95UnderLimit(1, 1), false);
  });

  it('counts the samples the coordinated-omission correction adds, as HdrHistogram adds them', () => {
    // 600.02 ms at a 100 ms pace: itself and 500.02 reach 500 ms; 400.02 ... 100.02 do not.
    assert.equal(reachingLimit(600_020, 100_000, 500_000), 2);
    assert.equal(reachingLimit(599_980, 100_000, 500_000), 1);
    assert.equal(reachingLimit(500_000, 100_000, 500_000), 1);
    assert.equal(reachingLimit(499_999, 100_000, 500_000), 0);
    // 1.5 s: 1400 ... 500 ms are ten of the fourteen added.
    assert.equal(reachingLimit(1_500_000, 100_000, 500_000), 11);
    // A pace longer than the limit: 2.5 s at 1 s adds 1.5 s only (0.5 s is under the pace).
    assert.equal(reachingLimit(2_500_000, 1_000_000, 500_000), 2);
    assert.equal(reachingLimit(1_999_999, 1_000_000, 500_000), 1);
  });
});

describe('a step whose p95 sits a few tens of µs from 500 ms', () => {
  it('passes at a true p95 of 499.98 ms and says it under 500 ms', () => {
    // 200 requests: the 190th is 499.98 ms, and 10 (5 %) took 520 ms.
    const t = recorded([180, 20], [10, 499.98], [10, 520]);
    assert.equal(t.p95Under(), true);
    const p95 = t.latency()?.p95 ?? Number.NaN;
    assert.ok(p95 < 500 && p95 >= 499.7, `p95 ${p95} ms`);
    assert.ok((t.p95() ?? Number.NaN) < 500, 'the progress line says it as the verdict does');
    assert.equal(judgeSegment(stepOf(t)).pass, true, p95Detail(t));
    assert.equal(p95Detail(t), 'p95 499.9 ms < 500 ms');
    assert.equal(verdictOf(t).headline, 'supports 4 concurrent users: yes (p95 499.9 ms, 0 errors, CPU not measured)');
  });

  it('fails at 500.02 ms, and at 500 ms itself, saying a figure at the limit', () => {
    for (const slowMs of [500.02, 500]) {
      const t = recorded([180, 20], [10, slowMs], [10, 520]);
      assert.equal(t.p95Under(), false);
      assert.ok((t.latency()?.p95 ?? 0) >= 500, `p95 ${t.latency()?.p95} ms`);
      assert.deepEqual(judgeSegment(stepOf(t)).reasons, ['p95 500 ms ≥ 500 ms']);
      assert.match(verdictOf(t).headline, /^supports 4 concurrent users: no \(p95 500 ms,/);
    }
  });

  it('fails with one request more than 5 % over the limit, however little over', () => {
    const t = recorded([189, 20], [11, 500.001]);
    assert.equal(t.p95Under(), false);
    assert.deepEqual(judgeSegment(stepOf(t)).reasons, ['p95 500 ms ≥ 500 ms']);
  });

  it('says no lower percentile above the p95 it says', () => {
    // 96 % at 499.98 ms: the p50 shares the p95's bucket, whose highest value is 500.223 ms.
    const t = recorded([192, 499.98], [8, 600]);
    assert.equal(t.p95Under(), true);
    const lat = t.latency();
    assert.ok(lat && lat.p95 < 500 && lat.p50 <= lat.p95, JSON.stringify(lat));
  });
});

describe('the p95 criterion with the coordinated-omission correction in play', () => {
  it('passes when the samples the correction adds put the p95 at 499.98 ms', () => {
    // Users pausing 100 ms; 10 of 200 answers took 599.98 ms (5 %, the answers' own p95 is 20 ms),
    // each adding 499.98, 399.98, 299.98 and 199.98 ms: of 240 samples 10 reach 500 ms, and the
    // 228th is 499.98 ms.
    const t = recorded([190, 20, 100], [10, 599.98, 100]);
    assert.equal(t.p95Under(), true);
    assert.equal(p95Detail(t), 'p95 499.9 ms < 500 ms');
    assert.match(briefFigures({ label: 'step 4', users: 4, ran: true, complete: true, steady: true, counts: t.counts, latency: t.latency(), judgement: judgeSegment(stepOf(t)) }), /^p95 499\.9 ms,/);
  });

  it('fails when the samples it adds reach the limit, though the answers alone would pass', () => {
    // 600.02 ms adds 500.02 ms: 20 of 250 samples reach 500 ms, more than 5 %; the answers' own
    // p95 is 20 ms (10 of 200).
    const t = recorded([190, 20, 100], [10, 600.02, 100]);
    assert.equal(t.p95Under(), false);
    assert.deepEqual(judgeSegment(stepOf(t)).reasons, ['p95 500 ms ≥ 500 ms']);
  });

  it('fails when the answers alone reach it, whatever the samples the correction adds under it', () => {
    // 11 of 200 answers at 520 ms (5.5 %): the added 420 ... 120 ms dilute them to 11 of 244.
    const t = recorded([189, 20, 100], [11, 520, 100]);
    assert.equal(t.p95Under(), false);
    assert.deepEqual(judgeSegment(stepOf(t)).reasons, ['p95 520 ms ≥ 500 ms']);
  });
});

describe('a tally absorbing another (a second\'s short tail)', () => {
  it('carries the counts of samples at the limit with the latencies', () => {
    const quick = recorded([190, 20, 100]);
    quick.absorb(recorded([10, 600.02, 100]));
    assert.equal(quick.p95Under(), false, 'the absorbed slow answers and the samples they add count');
    assert.ok((quick.latency()?.p95 ?? 0) >= 500);
    const near = recorded([190, 20, 100]);
    near.absorb(recorded([10, 599.98, 100]));
    assert.equal(near.p95Under(), true);
    assert.ok((near.latency()?.p95 ?? Number.NaN) < 500, `p95 ${near.latency()?.p95}`);
  });
});
