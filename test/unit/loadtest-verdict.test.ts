// Judging steps by the seeds' criteria and saying it in one sentence.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerSample } from '../../src/loadtest/sampler.js';
import type { Outcome, Sample } from '../../src/loadtest/client.js';
import { emptyCounts, Tally, type Counts, type LatencySummary } from '../../src/loadtest/tally.js';
import { MIN_APP_REQUESTS } from '../../src/loadtest/criteria.js';
import { judgeSegment, type SegmentInput } from '../../src/loadtest/segment-judgement.js';
import { overallVerdict, type JudgedSegment } from '../../src/loadtest/verdict.js';

const fast: LatencySummary = { p50: 2, p95: 41.2, p99: 60, max: 80, mean: 10 };
const cpu = (v: number, ram = 20): ServerSample => ({ t: 0, cpu: v, ram, hostT: 0, hostDated: false, connections: 4, maxConnections: 100, status: 'LOW' });

function input(over: Partial<Counts> = {}, more: Partial<SegmentInput> = {}): SegmentInput {
  const counts = { ...emptyCounts(), requests: 100, ok: 100, ...over };
  counts.errors = counts.requests - counts.ok;
  return { label: 'step 1/2', users: 4, counts, appRequests: counts.requests, latency: fast, statuses: new Map([[200, counts.ok]]), errorCodes: new Map(), server: [cpu(30), cpu(40)], serverProblem: undefined, ...more };
}

function judged(users: number, seg: SegmentInput, ran = true, more: Partial<JudgedSegment> = {}): JudgedSegment {
  return { label: `step ${users}`, users, ran, complete: ran, steady: true, counts: seg.counts, latency: seg.latency, judgement: judgeSegment(seg), ...more };
}

describe('judging a step', () => {
  it('passes a fast, clean step under the CPU and RAM limits', () => {
    const j = judgeSegment(input());
    assert.equal(j.pass, true);
    assert.deepEqual(j.reasons, []);
    assert.equal(j.server.cpuMean, 35);
    assert.equal(j.server.cpuMax, 40);
  });

  it('fails on each criterion with a reason', () => {
    const slow = judgeSegment(input({}, { latency: { ...fast, p95: 812 } }));
    assert.deepEqual(slow.reasons, ['p95 812 ms ≥ 500 ms']);
    const five = judgeSegment(input({ ok: 95, status5xx: 5, status503: 5 }, { statuses: new Map([[200, 95], [503, 5]]) }));
    assert.match(five.reasons.join(), /5 server errors \(503×5\); 503 means the server was full/);
    const to = judgeSegment(input({ ok: 98, timeouts: 2 }, { errorCodes: new Map([['timeout', 2]]) }));
    assert.deepEqual(to.reasons, ['2 timeouts']);
    const conn = judgeSegment(input({ ok: 97, connection: 3 }, { errorCodes: new Map([['ECONNREFUSED', 3]]) }));
    assert.deepEqual(conn.reasons, ['3 connection errors (ECONNREFUSED×3)']);
    // A server at its connection cap during the step: why a reset may come, said with it.
    const full: ServerSample = { ...cpu(30), connections: 3, maxConnections: 3, status: 'FULL' };
    const atCap = judgeSegment(input({ ok: 99, connection: 1 }, { errorCodes: new Map([['ECONNRESET', 1]]), server: [cpu(30), full] }));
    assert.deepEqual(atCap.reasons, ['1 connection error (ECONNRESET×1); the server was at its connection cap (FULL) during this step, where it closes idle keep-alive connections to make room and a request sent on one as it closes is reset']);
    const limited = judgeSegment(input({ ok: 90, status429: 10 }, { statuses: new Map([[200, 90], [429, 10]]) }));
    assert.match(limited.reasons.join(), /10 answers 429 Too Many Requests: .*CORRAL_RATE_LIMIT.*CORRAL_TRUSTED_PROXIES/);
    // Logins answered 429 login_locked: a name locked by wrong codes, which no rate limit setting lifts.
    const locked = judgeSegment(input({ ok: 95, status429: 5 }, { statuses: new Map([[200, 95], [429, 5]]), errorCodes: new Map([['login_locked', 3]]) }));
    assert.match(locked.reasons.join(), /^2 answers 429 Too Many Requests: .*CORRAL_RATE_LIMIT.*; 3 logins answered 429 login_locked: the target locked a player's name after too many failed logins .*--users-file/);
    const onlyLocked = judgeSegment(input({ ok: 99, status429: 1 }, { statuses: new Map([[200, 99], [429, 1]]), errorCodes: new Map([['login_locked', 1]]) }));
    assert.match(onlyLocked.reasons.join(), /^1 login answered 429 login_locked: /);
    assert.doesNotMatch(onlyLocked.reasons.join(), /CORRAL_RATE_LIMIT/);
    const other = judgeSegment(input({ ok: 99, statusOther: 1 }, { statuses: new Map([[200, 99], [401, 1]]) }));
    assert.match(other.reasons.join(), /1 unexpected answer \(401×1\); 401 usually means --users-file or --admin-token does not match the target/);
    // No 401 among them (a target redirecting, a method refused): no word of credentials.
    const moved = judgeSegment(input({ ok: 0, statusOther: 6 }, { statuses: new Map([[301, 6]]) }));
    assert.deepEqual(moved.reasons, ['6 unexpected answers (301×6)']);
    // Logins answered 200 without a token: their status is a success's, so they are named apart.
    const tokenless = judgeSegment(input({ ok: 0, statusOther: 100 }, { appRequests: 0, statuses: new Map([[200, 100]]), errorCodes: new Map([['login_without_token', 100]]) }));
    assert.match(tokenless.reasons.join(), /^100 unexpected answers \(100 logins answered without a token, as a server that is not corral's app does\)/);
    const hot = judgeSegment(input({}, { server: [cpu(85, 20), cpu(90, 55)] }));
    assert.deepEqual(hot.reasons, ['CPU 88 % on average (max 90 %) ≥ 80 %', 'RAM 55 % at most ≥ 50 %']);
  });

  it('never shows a passing figure rounded up to its limit ("p95 500 ms < 500 ms", a passing "CPU 80 %")', () => {
    const j = judgeSegment(input({}, { latency: { ...fast, p95: 499.6 }, server: [cpu(79.6, 49.7)] }));
    assert.equal(j.pass, true);
    const detail = (name: string): string | undefined => j.checks.find((c) => c.name === name)?.detail;
    assert.equal(detail('p95'), 'p95 499.6 ms < 500 ms');
    assert.equal(detail('cpu'), 'CPU 79.6 % on average (max 79.6 %) < 80 %');
    assert.equal(detail('ram'), 'RAM 49.7 % at most < 50 %');
    const v = overallVerdict([judged(4, input({}, { latency: { ...fast, p95: 499.96 }, server: [cpu(79.94, 20)] }))], false);
    assert.equal(v.headline, 'supports 4 concurrent users: yes (p95 499.9 ms, 0 errors, CPU 79.9 %)');
    // Away from the limit, and on the failing side of it, figures stay rounded as before.
    assert.deepEqual(judgeSegment(input({}, { latency: { ...fast, p95: 500.2 }, server: [cpu(80.4, 50.3)] })).reasons, ['p95 500 ms ≥ 500 ms', 'CPU 80 % on average (max 80 %) ≥ 80 %', 'RAM 50 % at most ≥ 50 %']);
    assert.equal(judgeSegment(input({}, { latency: { ...fast, p95: 41.2 }, server: [cpu(35.4, 20.2)] })).checks.find((c) => c.name === 'cpu')?.detail, 'CPU 35 % on average (max 35 %) < 80 %');
  });

  it('judges requests still unanswered when the run ended by their waits, not as errors', () => {
    const stepOf = (answeredMs: readonly number[], waitingMs: readonly number[]) => {
      const t = new Tally();
      const at = (ms: number, outcome: Outcome): Sample => ({ kind: 'read', route: 'GET /api/players', status: outcome === 'ok' ? 200 : 0, outcome, latencyUs: ms * 1000, startMs: 0, endMs: ms, bytes: 100 });
      for (const ms of answeredMs) t.record(at(ms, 'ok'));
      for (const ms of waitingMs) t.record(at(ms, 'unanswered'));
      return judgeSegment(input({}, { counts: t.counts, latency: t.latency(), statuses: t.statuses }));
    };
    // A healthy step whose deadline caught one slow request: the p95 tolerates it, as it would an
    // answered one (failing on it turned a random tail request into exit 2).
    const healthy = stepOf(Array.from({ length: 199 }, () => 40), [1200]);
    assert.equal(healthy.pass, true, healthy.reasons.join());
    assert.equal(healthy.checks.find((c) => c.name === 'p95')?.detail, 'p95 40 ms < 500 ms (with the waits of 1 request still unanswered when the run ended)');
    // A target that stopped answering: most requests are still waiting, and their waits fail p95.
    const hung = stepOf(Array.from({ length: 10 }, () => 40), Array.from({ length: 30 }, () => 900));
    assert.equal(hung.pass, false);
    assert.match(hung.reasons.join(), /^p95 9\d\d ms ≥ 500 ms \(with the waits of 30 requests still unanswered when the run ended\)$/);
  });

  it('does not fail a step in which no request was due, but marks it not measured', () => {
    const idle = judgeSegment(input({ requests: 0, ok: 0 }, { latency: undefined, statuses: new Map() }));
    assert.equal(idle.pass, true, 'nothing failed');
    assert.equal(idle.measured, false);
    assert.deepEqual(idle.reasons, []);
    const answered = idle.checks.find((c) => c.name === 'answered');
    assert.equal(answered?.pass, null);
    assert.equal(answered?.detail, 'not measured: no request was due in this step');
    assert.equal(idle.checks.find((c) => c.name === 'p95')?.pass, null);
    const cut = judgeSegment(input({ requests: 0, ok: 0, aborted: 2 }, { latency: undefined, statuses: new Map() }));
    assert.equal(cut.checks.find((c) => c.name === 'answered')?.detail, 'not measured: no request finished in this step (2 in flight under 500 ms when the run ended)');
    assert.equal(judgeSegment(input()).measured, true);
  });

  it('judges CPU and RAM on their unrounded figures: a mean of 79.95 % passes, shown and kept as 79.9 %, never rounded up to the limit', () => {
    // Two measurements, 79.9 and 80.0: their mean, 79.95, is under 80 %, which rounding made "80 % ≥ 80 %".
    const j = judgeSegment(input({}, { server: [cpu(79.9, 49.96), cpu(80, 20)] }));
    assert.equal(j.pass, true, j.reasons.join('; '));
    const cpuCheck = j.checks.find((c) => c.name === 'cpu');
    assert.equal(cpuCheck?.pass, true);
    assert.equal(cpuCheck?.detail, 'CPU 79.9 % on average (max 80 %) < 80 %');
    assert.equal(cpuCheck?.value, 79.9);
    const ram = j.checks.find((c) => c.name === 'ram');
    assert.equal(ram?.pass, true);
    assert.equal(ram?.detail, 'RAM 49.9 % at most < 50 %');
    assert.deepEqual([j.server.cpuMean, j.server.ramMax], [79.9, 49.9], 'result.json never holds a passing figure rounded up to its limit');
    // At or over the limit, unrounded, it still fails.
    const over = judgeSegment(input({}, { server: [cpu(80.04, 50.01)] }));
    assert.deepEqual(over.reasons, ['CPU 80 % on average (max 80 %) ≥ 80 %', 'RAM 50 % at most ≥ 50 %']);
    assert.deepEqual([over.server.cpuMean, over.server.ramMax], [80, 50]);
  });

  it('says the CPU in the reason as the headline and the steps table say it: a mean of 91.45 % is 92 % (91.5) in both', () => {
    // Two measurements, 91 and 91.9: the mean is kept as 91.5, which the headline shows as 92 %.
    const seg = input({}, { server: [cpu(91, 20), cpu(91.9, 20)] });
    const j = judgeSegment(seg);
    assert.equal(j.server.cpuMean, 91.5);
    assert.deepEqual(j.reasons, ['CPU 92 % on average (max 92 %) ≥ 80 %']);
    assert.match(overallVerdict([judged(4, seg)], false).headline, /, CPU 92 %\)$/);
  });

  it('does not judge CPU and RAM without the admin API, and says why', () => {
    const j = judgeSegment(input({}, { server: [], serverProblem: 'no --admin URL given' }));
    assert.equal(j.pass, true);
    const cpuCheck = j.checks.find((c) => c.name === 'cpu');
    assert.equal(cpuCheck?.pass, null);
    assert.match(cpuCheck?.detail ?? '', /CPU not judged: no --admin URL given/);
  });
});

describe('the verdict', () => {
  it('names the largest passing step when every step passed', () => {
    const v = overallVerdict([judged(2, input()), judged(4, input())], false);
    assert.equal(v.pass, true);
    assert.equal(v.supportedUsers, 4);
    assert.equal(v.headline, 'supports 4 concurrent users: yes (p95 41 ms, 0 errors, CPU 35 %)');
    assert.equal(v.firstFailure, null);
  });

  it('names the last good step and the first failing one, with why', () => {
    const bad = input({ ok: 90, timeouts: 10 }, { latency: { ...fast, p95: 900 } });
    const v = overallVerdict([judged(5, input()), judged(10, input()), judged(25, bad), judged(50, input())], false);
    assert.equal(v.pass, false);
    assert.equal(v.supportedUsers, 10);
    assert.match(v.headline, /^supports 10 concurrent users: yes/);
    assert.equal(v.firstFailure?.users, 25);
    assert.equal(v.lines[0], 'first failing step: step 25, 25 users: p95 900 ms ≥ 500 ms; 10 timeouts');
  });

  it('counts one user as "1 user" in the first failing step, as the steps table does', () => {
    const v = overallVerdict([judged(1, input({ ok: 50, status5xx: 50 }, { statuses: new Map([[503, 50]]) }))], false);
    assert.match(v.lines[0] ?? '', /^first failing step: step 1, 1 user: /);
    const thin = judgeSegment(input({ requests: 4, ok: 4 }, { users: 1, appRequests: 3 }));
    assert.match(thin.checks.find((c) => c.name === 'sample')?.detail ?? '', /3 requests other than logins \(and 1 login\) where/);
  });

  it('says no when the first step fails', () => {
    const v = overallVerdict([judged(5, input({ ok: 50, status5xx: 50 }, { statuses: new Map([[500, 50]]) }))], false);
    assert.equal(v.supportedUsers, null);
    assert.equal(v.headline, 'supports 5 concurrent users: no (p95 41 ms, 50 errors, CPU 35 %)');
  });

  it('lists the steps an interruption left out and never passes an interrupted run', () => {
    const v = overallVerdict([judged(2, input()), judged(4, input(), false)], true);
    assert.equal(v.pass, false);
    assert.equal(v.supportedUsers, 2);
    assert.ok(v.lines.includes('not run (interrupted): step 4 (4 users)'));
  });

  it('a passing ramp proves no capacity: a plateau that fails at the same users makes it a no', () => {
    const bad = input({ ok: 80, timeouts: 20 });
    const v = overallVerdict(
      [judged(4, input(), true, { label: 'ramp_up', steady: false }), judged(4, bad, true, { label: 'plateau' }), judged(4, input(), true, { label: 'ramp_down', steady: false })],
      false,
    );
    assert.equal(v.supportedUsers, null);
    assert.match(v.headline, /^supports 4 concurrent users: no/);
    assert.equal(v.firstFailure?.label, 'plateau');
  });

  it('a profile whose ramps failed nothing says no step failed, not that every step passed: the table shows them "ramp ok"', () => {
    const v = overallVerdict(
      [judged(4, input(), true, { label: 'ramp_up', steady: false }), judged(4, input(), true, { label: 'plateau' }), judged(4, input(), true, { label: 'ramp_down', steady: false })],
      false,
    );
    assert.equal(v.pass, true);
    assert.match(v.headline, /^supports 4 concurrent users: yes/);
    assert.ok(v.lines.includes('no step failed (3 of 3 ran)'), v.lines.join(' | '));
    assert.ok(!v.lines.some((l) => l.startsWith('every step')), v.lines.join(' | '));
    // Steps alone still say every step passed.
    assert.ok(overallVerdict([judged(2, input()), judged(4, input())], false).lines.includes('every step passed (2 of 2 ran)'));
  });

  it('a profile of ramps alone, with no plateau, failed nothing but showed no capacity: no pass (exit 2)', () => {
    const v = overallVerdict([judged(4, input(), true, { label: 'ramp_up', steady: false }), judged(0, input(), true, { label: 'ramp_down', steady: false })], false);
    assert.equal(v.firstFailure, null);
    assert.equal(v.supportedUsers, null);
    assert.match(v.headline, /^supports 4 concurrent users: not shown \(no step held its users to the end; /);
    assert.equal(v.pass, false, '"not shown" is no pass');
    assert.ok(v.lines.includes('no step failed (2 of 2 ran)'), v.lines.join(' | '));
  });

  it('does not say a ramp whose CPU went unmeasured proves no capacity "without the CPU and RAM figures": no ramp proves any', () => {
    const down = judged(300, input(), true, { label: 'ramp_down', steady: false });
    const unmeasuredDown = { ...down, judgement: { ...down.judgement, unjudged: true } };
    const v = overallVerdict([judged(300, input(), true, { label: 'ramp_up', steady: false }), judged(300, input(), true, { label: 'plateau' }), unmeasuredDown], false);
    assert.equal(v.pass, true);
    assert.ok(!v.lines.some((l) => l.startsWith('without the CPU and RAM figures')), v.lines.join(' | '));
    // A steady step so left unjudged is still named.
    const step = judged(4, input());
    const lostStep = { ...step, judgement: { ...step.judgement, unjudged: true } };
    const w = overallVerdict([judged(2, input()), lostStep], false);
    assert.ok(w.lines.includes('without the CPU and RAM figures --admin asked for, so proving no capacity: step 4 (4 users)'), w.lines.join(' | '));
  });

  it('takes the plateau, not the ramp down, for the headline of a passing profile', () => {
    const plateau = input({}, { latency: { ...fast, p95: 128 } });
    const down = input({}, { latency: { ...fast, p95: 73 } });
    const v = overallVerdict(
      [judged(300, input(), true, { label: 'ramp_up', steady: false }), judged(300, plateau, true, { label: 'plateau' }), judged(300, down, true, { label: 'ramp_down', steady: false })],
      false,
    );
    assert.equal(v.supportedUsers, 300);
    assert.match(v.headline, /^supports 300 concurrent users: yes \(p95 128 ms/);
  });

  it('a step cut short by --duration or an interruption is judged but proves nothing; only the interruption stops a pass', () => {
    const v = overallVerdict([judged(2, input()), judged(40, input(), true, { complete: false })], false);
    assert.equal(v.supportedUsers, 2);
    assert.equal(v.pass, true, 'no step that ran failed: exit 0, with the cut-short step named');
    assert.match(v.headline, /^supports 2 concurrent users: yes/);
    assert.ok(v.lines.includes('cut short, so proving no capacity: step 40 (40 users)'), v.lines.join(' | '));
    // A step cut short passed nothing: the run says no step failed, never that every step passed.
    assert.ok(v.lines.includes('no step failed (2 of 2 ran)'), v.lines.join(' | '));
    assert.ok(!v.lines.some((l) => l.startsWith('every step passed')), v.lines.join(' | '));
    const only = overallVerdict([judged(40, input(), true, { complete: false })], true);
    assert.equal(only.pass, false, 'interrupted');
    assert.equal(only.supportedUsers, null);
    assert.match(only.headline, /^supports 40 concurrent users: not shown/);
  });

  it("blames the load generator's own limits (EMFILE) on it, not on the target: no failure, and no capacity claimed for that step", () => {
    const clean = input({}, { label: 'step 1/2' });
    const starved = input({ generator: 152 }, { label: 'step 2/2', errorCodes: new Map([['EMFILE', 152]]) });
    const j = judgeSegment(starved);
    assert.equal(j.pass, true, j.reasons.join());
    assert.equal(j.checks.find((c) => c.name === 'connection')?.pass, true, 'no connection error of the target');
    const gen = j.checks.find((c) => c.name === 'generator');
    assert.equal(gen?.pass, null);
    assert.match(gen?.detail ?? '', /^the load generator could not send 152 requests \(EMFILE×152\), a limit of this machine, not the target: .*ulimit -n/);
    const v = overallVerdict([judged(20, clean), judged(300, starved)], false);
    assert.equal(v.supportedUsers, 20, 'the step the generator could not load proves nothing');
    assert.match(v.headline, /^supports 20 concurrent users: yes/);
    assert.equal(v.firstFailure, null);
    assert.ok(v.lines.includes('no step failed (2 of 2 ran)'), v.lines.join(' | '));
    assert.ok(v.lines.some((l) => /^step 300 \(300 users\) proves no capacity: the load generator could not send 152 requests \(EMFILE×152\)/.test(l)), v.lines.join(' | '));
    // Its only step starved, the run showed nothing: not a pass (exit 2), as one too thin to judge.
    const alone = overallVerdict([judged(300, starved)], false);
    assert.match(alone.headline, /^supports 300 concurrent users: not shown \(the load generator could not send every request of the steps held to their end/);
    assert.equal(alone.pass, false, '"not shown" is no pass');
    // Nothing sent at all is no step in which "no request was due".
    const none = judgeSegment(input({ requests: 0, ok: 0, generator: 40 }, { latency: undefined, statuses: new Map(), errorCodes: new Map([['EMFILE', 40]]) }));
    assert.equal(none.checks.find((c) => c.name === 'answered')?.detail, 'not measured: no request was sent in this step: the load generator could not send any');
  });

  it('says "1 concurrent user", not "1 concurrent users"', () => {
    assert.match(overallVerdict([judged(1, input())], false).headline, /^supports 1 concurrent user: yes/);
    assert.match(overallVerdict([judged(1, input({ ok: 98, timeouts: 2 }, { errorCodes: new Map([['timeout', 2]]) }))], false).headline, /^supports 1 concurrent user: no/);
    const cut = overallVerdict([judged(1, input(), true, { complete: false })], true);
    assert.ok(cut.lines.includes('cut short, so proving no capacity: step 1 (1 user)'), cut.lines.join(' | '));
  });

  it('claims no capacity from a step that measured nothing; a run that showed none is no pass', () => {
    const idle = input({ requests: 0, ok: 0 }, { latency: undefined, statuses: new Map() });
    // A time-scaled profile whose actions pace each user slower than the phases last.
    const profile = overallVerdict(
      [judged(3, input(), true, { label: 'ramp_up', steady: false }), judged(3, idle, true, { label: 'plateau' }), judged(3, idle, true, { label: 'ramp_down', steady: false })],
      false,
    );
    assert.equal(profile.supportedUsers, null);
    // Only its ramp measured anything, and a ramp proves no capacity: "not shown" exits 2, not 0.
    assert.equal(profile.pass, false, 'no step failed, but none showed capacity');
    assert.equal(profile.firstFailure, null);
    assert.equal(profile.headline, 'supports 3 concurrent users: not shown (no step held to its end had a request to judge; p95 41 ms, 0 errors, CPU 35 %)');
    assert.deepEqual(profile.lines, ['no step failed (3 of 3 ran)', 'no request finished, so not measured and proving no capacity: plateau (3 users), ramp_down (3 users)']);
    const steps = overallVerdict([judged(2, input()), judged(4, idle)], false);
    assert.equal(steps.supportedUsers, 2);
    assert.match(steps.headline, /^supports 2 concurrent users: yes/);
    assert.equal(steps.pass, true);
    const nothing = overallVerdict([judged(2, idle), judged(4, idle)], false);
    assert.equal(nothing.pass, false, 'a run that measured nothing shows nothing');
    assert.equal(nothing.supportedUsers, null);
    assert.match(nothing.headline, /^supports 4 concurrent users: not shown \(no request finished in any step; no answers/);
    assert.equal(nothing.lines[0], 'nothing to judge: no request finished in any step (2 of 2 ran)');
  });

  it('claims nothing from logins alone: a run whose users never got past their login is "not enough requests to judge", not a pass', () => {
    // --users 100 --duration 400ms: 100 requests, every one a login.
    const logins = input({}, { users: 100, appRequests: 0 });
    const j = judgeSegment(logins);
    assert.equal(j.pass, true, 'it failed nothing');
    assert.equal(j.enough, false);
    assert.equal(j.checks.find((c) => c.name === 'sample')?.pass, null);
    const v = overallVerdict([judged(100, logins, true, { label: 'constant' })], false);
    assert.equal(v.supportedUsers, null);
    assert.equal(v.pass, false, 'exit 2: nothing shown');
    assert.match(v.headline, /^supports 100 concurrent users: not shown \(not enough requests to judge; p95 /);
    assert.ok(v.lines.includes(`not enough requests to judge constant: no request other than logins (100 logins), which prove nothing of the load where a pass needs at least 100 (${MIN_APP_REQUESTS}, and one per user)`), v.lines.join(' | '));
    assert.ok(v.lines.includes('no step failed (1 of 1 ran)'), v.lines.join(' | '));
  });

  it('claims nothing from a plateau of a handful of requests, however many the ramp-up carried', () => {
    // --time-scale 0.005: 198 requests in ramp_up, 3 on the plateau of 50 users.
    const up = input({ requests: 198, ok: 198 }, { users: 50, appRequests: 150 });
    const plateau = input({ requests: 3, ok: 3 }, { users: 50, appRequests: 3 });
    const v = overallVerdict([judged(50, up, true, { label: 'ramp_up', steady: false }), judged(50, plateau, true, { label: 'plateau' })], false);
    assert.equal(v.supportedUsers, null);
    assert.match(v.headline, /^supports 50 concurrent users: not shown \(not enough requests to judge; /);
    assert.ok(v.lines.some((l) => l.startsWith('not enough requests to judge plateau: 3 requests other than logins (and 0 logins) where a pass needs at least 50')), v.lines.join(' | '));
    // Fewer than the minimum, even from one user.
    assert.equal(judgeSegment(input({ requests: MIN_APP_REQUESTS - 1, ok: MIN_APP_REQUESTS - 1 }, { users: 1, appRequests: MIN_APP_REQUESTS - 1 })).enough, false);
    assert.equal(judgeSegment(input({ requests: MIN_APP_REQUESTS, ok: MIN_APP_REQUESTS }, { users: 1, appRequests: MIN_APP_REQUESTS })).enough, true);
  });

  it('still fails a step on its logins: too few requests stop a pass, never a failure', () => {
    const refused = input({ requests: 20, ok: 0, status5xx: 20, status503: 20 }, { users: 20, appRequests: 0, statuses: new Map([[503, 20]]) });
    const v = overallVerdict([judged(20, refused)], false);
    assert.match(v.headline, /^supports 20 concurrent users: no /);
    assert.equal(v.pass, false);
    assert.ok(!v.lines.some((l) => l.startsWith('not enough requests')), v.lines.join(' | '));
  });

  it('writes "CPU not measured" without the admin API', () => {
    const v = overallVerdict([judged(2, input({}, { server: [], serverProblem: 'no --admin URL given' }))], false);
    assert.equal(v.headline, 'supports 2 concurrent users: yes (p95 41 ms, 0 errors, CPU not measured)');
    // One reason, said once for both figures.
    assert.equal(v.lines.at(-1), 'CPU and RAM not judged: no --admin URL given');
  });
});
