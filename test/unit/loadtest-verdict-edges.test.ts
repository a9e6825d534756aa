// Verdict and latency edges the criteria got wrong (review rv-loadtest).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/loadtest/client.js';
import { judgeSegment, type SegmentInput } from '../../src/loadtest/segment-judgement.js';
import { emptyCounts, Tally, type Counts, type LatencySummary } from '../../src/loadtest/tally.js';
import { overallVerdict, type JudgedSegment } from '../../src/loadtest/verdict.js';

const fast: LatencySummary = { p50: 2, p95: 41.2, p99: 60, max: 80, mean: 10 };

function input(over: Partial<Counts> = {}, more: Partial<SegmentInput> = {}): SegmentInput {
  const counts = { ...emptyCounts(), requests: 100, ok: 100, ...over };
  counts.errors = counts.requests - counts.ok;
  return { label: 'x', users: 4, counts, appRequests: counts.requests, latency: fast, statuses: new Map([[200, counts.ok]]), errorCodes: new Map(), server: [], serverProblem: 'no --admin URL given', ...more };
}

function judged(users: number, seg: SegmentInput, more: Partial<JudgedSegment> = {}): JudgedSegment {
  return { label: `step ${users}`, users, ran: true, complete: true, steady: true, counts: seg.counts, latency: seg.latency, judgement: judgeSegment(seg), ...more };
}

function sample(latencyMs: number, paceMs = 0): Sample {
  return { kind: 'read', route: 'GET /api/players', status: 200, outcome: 'ok', latencyUs: Math.round(latencyMs * 1000), startMs: 0, endMs: 1, bytes: 10, ...(paceMs > 0 ? { paceUs: paceMs * 1000 } : {}) };
}

function stepOf(tally: Tally): SegmentInput {
  return input({ ...tally.counts }, { latency: tally.latency(), statuses: tally.statuses, appRequests: tally.counts.requests });
}

describe('the verdict of a profile whose ramp_down fails', () => {
  it('does not say "supports 4 concurrent users: yes" when the server failed afterwards at 4 users or fewer', () => {
    // ramp_up 0→4 ok, plateau 4 pass, ramp_down 4→0 answered 500s.
    // It printed "verdict: supports 4 concurrent users: yes (...)" over "first failing step:
    // ramp_down, 4 users: 12 server errors (500×12)" and exited 2.
    const broken = input({ ok: 88, status5xx: 12 }, { statuses: new Map([[200, 88], [500, 12]]) });
    const v = overallVerdict(
      [judged(4, input(), { label: 'ramp_up', steady: false }), judged(4, input(), { label: 'plateau' }), judged(4, broken, { label: 'ramp_down', steady: false })],
      false,
    );
    assert.equal(v.pass, false);
    assert.equal(v.firstFailure?.label, 'ramp_down');
    assert.doesNotMatch(v.headline, /: yes/, `${v.headline} | ${v.lines.join(' | ')}`);
    assert.equal(v.supportedUsers, null);
  });
});

describe('the coordinated-omission correction never lowers a percentile below what the answers took', () => {
  it('fails a step in which 6 % of the requests took 520 ms (users pausing 100 ms)', () => {
    // --think-time 100ms: each 520 ms answer adds corrected samples at 420, 320, 220 and 120 ms,
    // all under the limit, which dilute the six real ones: p95 420 ms, "pass".
    const t = new Tally();
    for (let i = 0; i < 94; i++) t.record(sample(20, 100));
    for (let i = 0; i < 6; i++) t.record(sample(520, 100));
    const raw = new Tally();
    for (let i = 0; i < 94; i++) raw.record(sample(20));
    for (let i = 0; i < 6; i++) raw.record(sample(520));
    assert.ok((raw.p95() ?? 0) >= 500, `uncorrected p95 ${raw.p95()}`);
    const j = judgeSegment(stepOf(t));
    assert.equal(j.pass, false, `corrected p95 ${t.p95()} ms passed a step whose own requests had a p95 of ${raw.p95()} ms`);
  });

  it('does not report a p50 far below every request of a uniformly slow target', () => {
    // Every request took 1.5 s; the correction adds 1400, 1300, ..., 100 ms for each: p50 ~800 ms.
    const t = new Tally();
    for (let i = 0; i < 100; i++) t.record(sample(1500, 100));
    const p50 = t.latency()?.p50 ?? 0;
    assert.ok(p50 >= 1400, `p50 ${p50} ms where every request took 1500 ms`);
  });
});
