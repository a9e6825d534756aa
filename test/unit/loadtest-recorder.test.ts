// What the run records: per-step tallies attributed by start time, a per-second timeline for the
// charts, requests dropped at the end kept apart from errors, requests left unanswered
// at the end counted with their waits but not as errors.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Outcome, Sample } from '../../src/loadtest/client.js';
import { Recorder } from '../../src/loadtest/recorder.js';
import { stepsSchedule } from '../../src/loadtest/schedule.js';
import { Tally } from '../../src/loadtest/tally.js';

function sample(startMs: number, endMs: number, status: number, outcome: Outcome = status >= 200 && status < 300 ? 'ok' : 'http', error?: string): Sample {
  return { kind: 'read', route: 'GET /api/players', status, outcome, latencyUs: (endMs - startMs) * 1000, startMs, endMs, bytes: 100, ...(error ? { error } : {}) };
}

describe('tally', () => {
  it('classifies answers and failures', () => {
    const t = new Tally();
    for (const s of [
      sample(0, 10, 200),
      sample(0, 20, 201),
      sample(0, 30, 503),
      sample(0, 40, 500),
      sample(0, 5, 429),
      sample(0, 5, 401),
      sample(0, 5000, 0, 'timeout', 'timeout'),
      sample(0, 1, 0, 'connection', 'ECONNRESET'),
      sample(0, 1, 0, 'aborted'),
      sample(0, 6000, 0, 'unanswered'),
    ]) t.record(s);
    assert.deepEqual(t.counts, { requests: 9, ok: 2, errors: 6, status5xx: 2, status503: 1, status429: 1, statusOther: 1, timeouts: 1, connection: 1, unanswered: 1, aborted: 1, generator: 0, bytes: 900 });
    assert.deepEqual([...t.statuses.entries()].sort(), [[200, 1], [201, 1], [401, 1], [429, 1], [500, 1], [503, 1]]);
    assert.deepEqual([...t.errorCodes.entries()].sort(), [['ECONNRESET', 1], ['timeout', 1]]);
    // Latency covers answers, timeouts (a timeout is the longest wait of all) and the wait of a
    // request unanswered at the end, not refused connections or dropped ones: 8 values, 5 ms to 6 s.
    const lat = t.latency();
    assert.ok(lat);
    assert.equal(lat.max, 6000);
    assert.ok(lat.p99 <= lat.max, 'no percentile above the largest value');
    assert.ok(lat.p50 >= 5 && lat.p50 <= 30);
  });

  it("keeps requests this machine could not send (EMFILE) apart: not sent, so no request and no error of the target", () => {
    const t = new Tally();
    t.record(sample(0, 10, 200));
    t.record(sample(0, 1, 0, 'generator', 'EMFILE'));
    t.record(sample(0, 1, 0, 'generator', 'EMFILE'));
    assert.equal(t.counts.requests, 1);
    assert.equal(t.counts.errors, 0);
    assert.equal(t.counts.connection, 0);
    assert.equal(t.counts.generator, 2);
    assert.deepEqual([...t.errorCodes.entries()], [['EMFILE', 2]]);
  });

  it("counts a stall for the requests it kept each user from sending (coordinated omission), by the user's pace", () => {
    // 20 users pausing 1 s: 24 quick answers each, then one 7 s stall each. Once per user, the stall
    // was 4 % of the requests and p95 read 40 ms ("supports 20 users: yes" for a server frozen 7 s).
    const paced = (latencyMs: number, paceUs: number | undefined): Sample => ({ ...sample(0, latencyMs, 200), ...(paceUs === undefined ? {} : { paceUs }) });
    const stalled = (paceUs: number | undefined): Tally => {
      const t = new Tally();
      for (let user = 0; user < 20; user++) {
        for (let i = 0; i < 24; i++) t.record(paced(40, paceUs));
        t.record(paced(7000, paceUs));
      }
      return t;
    };
    const corrected = stalled(1_000_000);
    assert.ok((corrected.latency()?.p95 ?? 0) >= 500, `p95 ${corrected.latency()?.p95}`);
    assert.equal(corrected.counts.requests, 500, 'the requests kept back weigh in the percentiles, not in the counts');
    assert.equal(corrected.latency()?.max, 7000);
    assert.ok((stalled(undefined).latency()?.p95 ?? 0) < 100, 'no pace (the checks before the load): as measured');
    // A user that does not pause (--think-time 0) keeps no pace to count back by.
    assert.ok((stalled(0).latency()?.p95 ?? 0) < 100);
    // Waits shorter than the pace add nothing: a healthy run reads as measured.
    const quick = new Tally();
    for (let i = 0; i < 100; i++) quick.record(paced(i === 99 ? 900 : 40, 1_000_000));
    assert.ok((quick.latency()?.p95 ?? 0) < 41);
  });

  it('has no latency before anything is answered', () => {
    assert.equal(new Tally().latency(), undefined);
  });
});

describe('recorder', () => {
  it('attributes requests to the step they started in, and buckets seconds by completion', () => {
    const r = new Recorder(stepsSchedule([2, 4], 1000));
    r.users(2, 0);
    r.record(sample(100, 200, 200));
    r.record(sample(900, 1100, 200)); // started in step 1, finished in second 1
    r.users(4, 1000);
    r.record(sample(1200, 1300, 503));
    r.record(sample(1900, 1950, 0, 'aborted'));
    r.record(sample(1100, 1990, 0, 'unanswered'));
    r.finish(2000);
    assert.equal(r.segments[0]?.counts.requests, 2);
    assert.equal(r.segments[1]?.counts.requests, 2);
    assert.equal(r.segments[1]?.counts.errors, 1, 'the 503; the request unanswered at the end is no error');
    assert.equal(r.segments[1]?.counts.unanswered, 1);
    assert.equal(r.segments[1]?.counts.aborted, 1);
    assert.deepEqual(r.segmentUsersMax, [2, 4]);
    assert.equal(r.timeline.length, 2);
    const [s0, s1] = r.timeline;
    assert.equal(s0?.t, 0);
    assert.equal(s0?.requests, 1);
    assert.equal(s0?.users, 2);
    assert.equal(s1?.t, 1);
    assert.equal(s1?.requests, 3);
    assert.equal(s1?.status5xx, 1);
    assert.equal(s1?.unanswered, 1);
    assert.equal(s1?.errors, 1, 'the 503 only');
    assert.equal(s1?.users, 4);
    // HDR keeps 3 significant digits: the unanswered request's 890 ms wait comes back within 0.1 %.
    assert.ok(Math.abs((s1?.p95 ?? 0) - 890) < 0.9, String(s1?.p95));
    assert.equal(r.overall.counts.requests, 4);
    assert.equal(r.overall.counts.aborted, 1);
  });

  it('leaves empty seconds with null latency and counts a short last second at its real length', () => {
    const r = new Recorder(stepsSchedule([1], 3000));
    r.record(sample(0, 100, 200));
    r.users(1, 2100);
    r.record(sample(2200, 2300, 200));
    r.finish(2500);
    assert.deepEqual(r.timeline.map((p) => [p.t, p.requests, p.p50 === null ? null : Math.round(p.p50)]), [[0, 1, 100], [1, 0, null], [2, 1, 100]]);
    assert.equal(r.timeline[2]?.span, 0.5);
    assert.equal(r.timeline[2]?.rps, 2);
  });

  it('shows a target that stalls as a dip: requests unanswered at the end are no throughput, and a tail of a few ms joins the second before', () => {
    // Steps 2,4 of 1.5 s; the target answers for a second, then never again. At the 3 s deadline
    // four requests are still waiting; the run ends 3 ms later.
    const r = new Recorder(stepsSchedule([2, 4], 1500));
    r.users(2, 0);
    for (let i = 0; i < 30; i++) r.record(sample(i * 30, i * 30 + 10, 200));
    r.record(sample(1000, 1010, 200));
    r.record(sample(1100, 1110, 200));
    r.users(4, 1500);
    r.users(4, 2900);
    for (let i = 0; i < 4; i++) r.record(sample(1200 + i * 100, 3001 + i % 3, 0, 'unanswered'));
    r.finish(3003);
    assert.deepEqual(r.timeline.map((p) => p.rps), [30, 2, 0], 'no spike at the end: the stall is a dip');
    const last = r.timeline[r.timeline.length - 1];
    assert.equal(last?.t, 2);
    assert.equal(last?.span, 1.003, 'the 3 ms tail is part of the last second, not a point of its own');
    assert.equal(last?.unanswered, 4, 'the requests still waiting are shown where the run ended');
    assert.equal(last?.users, 4);
    assert.equal(r.timeline.reduce((a, p) => a + p.requests, 0), r.overall.counts.requests, 'the seconds still add up to the totals');
  });

  it('counts no unanswered request as throughput in a tail long enough to stand on its own', () => {
    const r = new Recorder(stepsSchedule([1], 3000));
    r.users(1, 0);
    r.record(sample(2000, 2100, 200));
    r.record(sample(2100, 2200, 200));
    r.record(sample(1000, 2500, 0, 'unanswered'));
    r.finish(2500);
    const last = r.timeline[r.timeline.length - 1];
    assert.equal(last?.span, 0.5);
    assert.equal(last?.requests, 3);
    assert.equal(last?.rps, 4, 'two answers in half a second; the wait cut by the end is not a third');
  });

  it('keeps one point even when the run stops at once (Ctrl-C right after the start)', () => {
    const r = new Recorder(stepsSchedule([2], 10_000));
    r.users(2, 0);
    r.finish(20);
    assert.equal(r.timeline.length, 1);
    assert.equal(r.timeline[0]?.users, 2);
    assert.equal(r.timeline[0]?.requests, 0);
  });
});
