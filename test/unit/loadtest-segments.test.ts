// Each segment judged from what the recorder saw, and the steps table: a step in which no request
// finished is "no data" (pass null), not a failure.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/loadtest/client.js';
import type { ServerSample } from '../../src/loadtest/sampler.js';
import { Recorder } from '../../src/loadtest/recorder.js';
import { parseProfile } from '../../src/loadtest/profile.js';
import { capSchedule, profileSchedule, stepsSchedule } from '../../src/loadtest/schedule.js';
import { judgeSegments, printSummary } from '../../src/loadtest/segments.js';
import { MIN_APP_REQUESTS } from '../../src/loadtest/criteria.js';
import { overallVerdict } from '../../src/loadtest/verdict.js';

function ok(startMs: number, endMs: number): Sample {
  return { kind: 'read', route: 'GET /api/players', status: 200, outcome: 'ok', latencyUs: (endMs - startMs) * 1000, startMs, endMs, bytes: 100 };
}

/** The same request, as many times as a step needs to be judged a pass on (MIN_APP_REQUESTS). */
function recordJudgeable(r: Recorder, s: Sample): void {
  for (let i = 0; i < MIN_APP_REQUESTS; i++) r.record(s);
}

describe('judging segments', () => {
  it('shows a step in which no request was due as "no data" with pass null, and judges the run on the others', () => {
    const schedule = stepsSchedule([2, 4], 1000);
    const r = new Recorder(schedule);
    r.users(2, 0);
    recordJudgeable(r, ok(100, 130));
    recordJudgeable(r, ok(400, 420));
    r.users(4, 1000);
    r.finish(2000);
    const { segments, judged } = judgeSegments(schedule, r, 2000, false, [], 'no --admin URL given');
    assert.deepEqual(segments.map((s) => [s.label, s.ran, s.pass]), [['step 1/2', true, true], ['step 2/2', true, null]]);
    assert.equal(segments[1]?.checks.find((c) => c.name === 'answered')?.detail, 'not measured: no request was due in this step');
    assert.deepEqual(segments[1]?.reasons, []);
    const verdict = overallVerdict(judged, false);
    assert.equal(verdict.pass, true);
    assert.equal(verdict.supportedUsers, 2);
    let out = '';
    printSummary({ write: (t: string) => (out += t) }, segments, judged, verdict, { dir: '.', json: 'r.json', html: 'r.html' });
    const rows = out.split('\n');
    assert.match(rows[0] ?? '', /^step 1\/2 +2 users  pass /);
    assert.match(rows[1] ?? '', /^step 2\/2 +4 users  no data /);
    assert.match(out, /^verdict: supports 2 concurrent users: yes/m);
    assert.match(out, /^ {2}no request finished, so not measured and proving no capacity: step 2\/2 \(4 users\)$/m);
  });

  it('lists the steps --duration cut before they began as not run, in the table, the result and the verdict', () => {
    // --steps 1,2,3 --step-duration 1s --duration 2s: the cap falls on step 3's start.
    const schedule = capSchedule(stepsSchedule([1, 2, 3], 1000), 2000);
    const r = new Recorder(schedule);
    r.users(1, 0);
    recordJudgeable(r, ok(100, 130));
    r.users(2, 1000);
    recordJudgeable(r, ok(1100, 1130));
    r.finish(2000.3);
    // The deadline timer fired just after 2 s, when step 3 would have begun: it still did not run.
    const { segments, judged } = judgeSegments(schedule, r, 2000.3, false, [], 'no --admin URL given');
    assert.deepEqual(segments.map((s) => [s.label, s.users, s.ran, s.pass]), [['step 1/3', 1, true, true], ['step 2/3', 2, true, true], ['step 3/3', 3, false, null]], 'not run: neither a pass nor a failure');
    assert.equal(segments[2]?.counts.requests, 0);
    const verdict = overallVerdict(judged, false);
    assert.equal(verdict.pass, true, 'no step that ran failed');
    assert.equal(verdict.supportedUsers, 2);
    assert.ok(verdict.lines.includes('every step that ran passed (2 of 3 ran)'), verdict.lines.join(' | '));
    assert.ok(verdict.lines.includes('not run (cut by --duration): step 3/3 (3 users)'), verdict.lines.join(' | '));
    let out = '';
    printSummary({ write: (t: string) => (out += t) }, segments, judged, verdict, undefined);
    assert.match(out, /^step 3\/3 +3 users  not run /m);
    assert.match(out, /\nresult: not written \(see the error on stderr\)\n$/);
    // The report alone failed (it could not be rendered): the result is still where it says.
    out = '';
    printSummary({ write: (t: string) => (out += t) }, segments, judged, verdict, { json: 'r.json' });
    assert.match(out, /\nresult: r\.json\nreport: not written \(see the error on stderr\)\n$/);
    assert.match(out, /^step 1\/3 +1 user   pass /m, 'one user, in the same columns');
  });

  it("judges a step's CPU on the measurements that average its own time, not the step before it", () => {
    // The master measures every 5 s the busy share since its last measurement. Steps of 5 s: the
    // figure taken 1 s into step 2 (at 6 s) is the CPU of 1..6 s, mostly step 1; the one taken
    // 1 s into step 1 is mostly the idle host before the run.
    const schedule = stepsSchedule([2, 4, 8], 5000);
    const r = new Recorder(schedule);
    r.users(2, 0);
    for (const start of [100, 5100, 10100]) recordJudgeable(r, ok(start, start + 10));
    r.finish(15_000);
    const host = (hostT: number, cpu: number, ram: number): ServerSample => ({ t: hostT + 500, cpu, ram, hostT, hostDated: true, connections: 1, maxConnections: 100, status: 'LOW' });
    const samples = [host(1000, 3, 10), host(1000, 3, 10), host(6000, 50, 20), host(11_000, 90, 30)];
    const { segments } = judgeSegments(schedule, r, 15_000, false, samples, undefined);
    assert.deepEqual(segments.map((s) => s.server.cpuMean), [50, 90, null]);
    // RAM is a level, not an average: it belongs where it was read.
    assert.deepEqual(segments.map((s) => s.server.ramMax), [10, 20, 30]);
    assert.deepEqual(segments.map((s) => s.pass), [true, false, true]);
    assert.equal(segments[2]?.checks.find((c) => c.name === 'cpu')?.detail, 'CPU not judged: no host measurement of the master (it measures every 5s) covers this step; longer steps get one');
    // Without host.sampled_at nothing says what a figure averages: it counts as of its fetch.
    const undated = judgeSegments(schedule, r, 15_000, false, samples.map((x) => ({ ...x, hostDated: false })), undefined);
    assert.deepEqual(undated.segments.map((s) => s.server.cpuMean), [3, 50, 90]);
  });

  it('shows a ramp in the steps table as from→to users, a step or plateau as its count', () => {
    const schedule = profileSchedule(parseProfile({ users: { distribution: { ramp_up: { duration: '1s', users: 3 }, plateau: { duration: '1s', users: 3 }, ramp_down: { duration: '1s', users: 0 } } } }), 1);
    const r = new Recorder(schedule);
    r.users(3, 0);
    for (const start of [100, 1100, 2100]) recordJudgeable(r, ok(start, start + 10));
    r.finish(3000);
    const { segments, judged } = judgeSegments(schedule, r, 3000, false, [], 'no --admin URL given');
    let out = '';
    printSummary({ write: (t: string) => (out += t) }, segments, judged, overallVerdict(judged, false), undefined);
    const rows = out.split('\n');
    assert.match(rows[0] ?? '', /^ramp_up +0→3 users  ramp ok /);
    assert.match(rows[1] ?? '', /^plateau +3 users  pass /);
    assert.match(rows[2] ?? '', /^ramp_down +3→0 users  ramp ok /);
  });

  it('says why a short step has no CPU or RAM figure although the admin API answered', () => {
    const schedule = stepsSchedule([2, 4], 2000);
    const r = new Recorder(schedule);
    r.users(2, 0);
    recordJudgeable(r, ok(100, 110));
    recordJudgeable(r, ok(2100, 2110));
    r.finish(4000);
    const samples: ServerSample[] = [{ t: 1, cpu: 12, ram: 10, hostT: -500, hostDated: true, connections: 1, maxConnections: 100, status: 'LOW' }];
    const { segments } = judgeSegments(schedule, r, 4000, false, samples, undefined);
    assert.deepEqual(segments.map((s) => s.server.cpuMean), [null, null]);
    assert.match(segments[0]?.checks.find((c) => c.name === 'ram')?.detail ?? '', /^RAM not judged: no host measurement of the master covers this step; longer steps get one$/);
    // No fetch was answered during step 2 (the master went quiet): that is not the step's length.
    assert.equal(segments[1]?.checks.find((c) => c.name === 'cpu')?.detail, 'CPU not judged: the admin API did not answer during this step');
  });

  it("says a step's CPU and RAM were not judged because the master's figures were stale, not that longer steps get one", () => {
    // The master's measurements kept failing: every fetch returns its last one (host.stale).
    const schedule = stepsSchedule([2, 4], 30_000);
    const r = new Recorder(schedule);
    r.users(2, 0);
    recordJudgeable(r, ok(100, 110));
    recordJudgeable(r, ok(30_100, 30_110));
    r.finish(60_000);
    const last = { cpu: 12, ram: 10, hostT: 2000, hostDated: true, connections: 1, maxConnections: 100, status: 'LOW' };
    const samples: ServerSample[] = [{ t: 2100, ...last }, ...[20_000, 35_000, 50_000].map((t): ServerSample => ({ t, ...last, hostStale: true }))];
    const { segments } = judgeSegments(schedule, r, 60_000, false, samples, undefined);
    assert.deepEqual(segments.map((s) => s.server.cpuMean), [12, null]);
    const stale = "the master's host figures were stale during this step: its measurements of CPU and RAM kept failing (its log says why: host.sample_failed)";
    assert.equal(segments[1]?.checks.find((c) => c.name === 'cpu')?.detail, `CPU not judged: ${stale}`);
    assert.equal(segments[1]?.checks.find((c) => c.name === 'ram')?.detail, `RAM not judged: ${stale}`);
  });

  it('says a step the run ended before did not run, not that the admin API did not answer during it', () => {
    const host = (t: number, hostT: number): ServerSample => ({ t, cpu: 30, ram: 10, hostT, hostDated: true, connections: 1, maxConnections: 100, status: 'LOW' });
    // The admin API answered every second of the run, until it ended.
    const samples = [0, 1000, 2000, 3000].map((t) => host(t, t));
    const say = (segment: { checks: readonly { name: string; detail: string }[] } | undefined, name: string): string | undefined => segment?.checks.find((c) => c.name === name)?.detail;
    // Ctrl-C 1.5 s into step 1 of 2: step 2 never began.
    const stopped = stepsSchedule([2, 4], 2000);
    const r = new Recorder(stopped);
    r.users(2, 0);
    recordJudgeable(r, ok(100, 110));
    r.finish(1500);
    const interrupted = judgeSegments(stopped, r, 1500, true, samples.slice(0, 2), undefined).segments[1];
    assert.equal(interrupted?.ran, false);
    assert.equal(say(interrupted, 'cpu'), 'CPU not judged: this step did not run (the run was stopped before it began)');
    assert.equal(say(interrupted, 'ram'), 'RAM not judged: this step did not run (the run was stopped before it began)');
    assert.equal(say(interrupted, 'answered'), 'not measured: this step did not run (the run was stopped before it began)');
    // --duration 3s on --steps 2,4,6 × 1.5s: step 3 was never to run.
    const capped = capSchedule(stepsSchedule([2, 4, 6], 1500), 3000);
    const q = new Recorder(capped);
    q.users(2, 0);
    recordJudgeable(q, ok(100, 110));
    q.users(4, 1500);
    recordJudgeable(q, ok(1600, 1610));
    q.finish(3000);
    const cut = judgeSegments(capped, q, 3000, false, samples, undefined).segments[2];
    assert.equal(cut?.ran, false);
    assert.equal(say(cut, 'cpu'), 'CPU not judged: this step did not run (--duration ended the run before it began)');
    assert.equal(say(cut, 'answered'), 'not measured: this step did not run (--duration ended the run before it began)');
  });

  it('says a step has no CPU or RAM because the admin API refused during it, not because the step was short', () => {
    const schedule = stepsSchedule([2, 4], 12_000);
    const r = new Recorder(schedule);
    r.users(2, 0);
    recordJudgeable(r, ok(100, 110));
    recordJudgeable(r, ok(12_100, 12_110));
    r.finish(24_000);
    const host = (t: number, hostT: number): ServerSample => ({ t, cpu: 30, ram: 10, hostT, hostDated: true, connections: 1, maxConnections: 100, status: 'LOW' });
    // Answered until 8 s, then refused (a reload rotated the token) to the end of the run.
    const samples = [host(1000, 0), host(5500, 5000), host(7000, 5000)];
    const failures = [8000, 9000, 10_000, 11_000, 12_000, 13_000, 14_000].map((t) => ({ t, problem: 'HTTP 401: token refused' }));
    const { segments, judged } = judgeSegments(schedule, r, 24_000, false, samples, undefined, [...failures, { t: 15_000, problem: 'ECONNREFUSED' }]);
    assert.deepEqual(segments.map((s) => s.server.cpuMean), [30, null]);
    assert.equal(segments[1]?.checks.find((c) => c.name === 'cpu')?.detail, 'CPU not judged: the admin API gave no CPU or RAM figure during this step (HTTP 401: token refused ×3, ECONNREFUSED ×1)');
    assert.equal(segments[1]?.checks.find((c) => c.name === 'ram')?.detail, 'RAM not judged: the admin API gave no CPU or RAM figure during this step (HTTP 401: token refused ×3, ECONNREFUSED ×1)');
    // Among the verdict's lines, the step is named.
    assert.match(overallVerdict(judged, false).lines.join('\n'), /CPU and RAM not judged: the admin API gave no CPU or RAM figure during step 2\/2 \(HTTP 401/);
    // Answered during step 2, but without host figures (a master yet to measure the host).
    const bare: ServerSample = { t: 13_000, cpu: null, ram: null, hostT: 13_000, hostDated: false, connections: 1, maxConnections: 100, status: 'LOW' };
    const answered = judgeSegments(schedule, r, 24_000, false, [...samples, bare], undefined, []);
    assert.equal(answered.segments[1]?.checks.find((c) => c.name === 'cpu')?.detail, 'CPU not judged: the admin API answered without CPU or RAM figures during this step');
    assert.equal(answered.segments[1]?.server.connectionsMax, 1);
  });

  /**
   * Two steps of 3 s (or the segments of `schedule`, 3 s each); the master, measuring every
   * second, answered before the load and through the first, then went away 0.5 s into the second
   * (its fetches there failing ECONNREFUSED).
   */
  const judgedWithAdminLost = (schedule = stepsSchedule([2, 4], 3000)) => {
    const r = new Recorder(schedule);
    r.users(2, 0);
    recordJudgeable(r, ok(100, 110));
    recordJudgeable(r, ok(3100, 3110));
    r.finish(6000);
    const host = (t: number, hostT: number): ServerSample => ({ t, cpu: 30, ram: 10, hostT, hostDated: true, connections: 1, maxConnections: 100, status: 'LOW' });
    const samples = [host(100, 0), host(1100, 1000), host(2100, 2000), host(3100, 2000), host(3400, 2000)];
    const failures = [4000, 5000].map((t) => ({ t, problem: 'ECONNREFUSED' }));
    return { schedule, r, ...judgeSegments(schedule, r, 6000, false, samples, undefined, failures) };
  };

  it('says a step has no CPU or RAM because the admin API went away during it, not that longer steps get one', () => {
    // The fetches before the master stopped brought its last measurement of step 1.
    const { segments } = judgedWithAdminLost();
    assert.equal(segments[0]?.server.ramMax, 10);
    assert.equal(segments[1]?.checks.find((c) => c.name === 'ram')?.detail, "RAM not judged: the admin API stopped giving figures during this step (ECONNREFUSED ×2), before any of the master's measurements in it");
  });

  it('claims no capacity from a step the admin API failed during: the verdict names the last step judged on CPU and RAM, and a run with none is not a pass', () => {
    const { schedule, r, segments, judged } = judgedWithAdminLost();
    assert.deepEqual(judged.map((j) => j.judgement.serverLost), [false, true]);
    assert.deepEqual(segments.map((s) => s.serverLost), [false, true], 'said in result.json');
    const v = overallVerdict(judged, false);
    let out = '';
    printSummary({ write: (t: string) => (out += t) }, segments, judged, v, undefined);
    assert.match(out, /^step 1\/2 +2 users  pass /m);
    assert.match(out, /^step 2\/2 +4 users  partial /m, 'not "pass": it proves no capacity');
    assert.equal(v.supportedUsers, 2, 'not the 4 users of the step whose CPU and RAM went unjudged');
    assert.match(v.headline, /^supports 2 concurrent users: yes \(p95 10 ms, 0 errors, CPU 30 %\)$/);
    assert.equal(v.pass, true, 'step 2 failed nothing and step 1 was judged in full');
    assert.ok(v.lines.includes('without the CPU and RAM figures --admin asked for (the admin API failed during them), so proving no capacity: step 2/2 (4 users)'), v.lines.join(' | '));
    assert.ok(!v.lines.some((l) => l.startsWith('every step')), v.lines.join(' | '));
    // Gone from the start of the load: no step was judged on CPU and RAM, so no "yes" and no pass.
    const gone = judgeSegments(schedule, r, 6000, false, [], undefined, [500, 1500, 2500, 3500, 4500, 5500].map((t) => ({ t, problem: 'ECONNREFUSED' })));
    const none = overallVerdict(gone.judged, false);
    assert.equal(none.supportedUsers, null);
    assert.equal(none.pass, false);
    assert.match(none.headline, /^supports 4 concurrent users: not shown \(the admin API gave no CPU or RAM figure during the steps held to their end; p95 10 ms, 0 errors, CPU not measured\)$/);
    // Without --admin, nothing was asked for: a step without CPU and RAM still proves its users.
    const unasked = judgeSegments(schedule, r, 6000, false, [], 'no --admin URL given', []);
    assert.equal(overallVerdict(unasked.judged, false).supportedUsers, 4);
  });

  it('claims no capacity from a step the admin API failed partway through after measuring its start (a token rotated by a reload); a failure the measurements came back after is a blip', () => {
    const schedule = stepsSchedule([3], 30_000);
    const r = new Recorder(schedule);
    r.users(3, 0);
    recordJudgeable(r, ok(100, 110));
    r.finish(30_000);
    const host = (t: number, hostT: number): ServerSample => ({ t, cpu: 18, ram: 10, hostT, hostDated: true, connections: 1, maxConnections: 100, status: 'LOW' });
    const early = [host(1500, 1000), host(6500, 6000), host(11_500, 11_000)];
    const refused = [13_000, 15_000, 20_000, 25_000, 29_000].map((t) => ({ t, problem: 'HTTP 401: token refused' }));
    const lost = judgeSegments(schedule, r, 30_000, false, early, undefined, refused);
    assert.equal(lost.judged[0]?.judgement.serverLost, true);
    assert.equal(lost.segments[0]?.checks.find((c) => c.name === 'cpu')?.detail, "CPU not judged: the admin API stopped giving figures partway through this step (HTTP 401: token refused ×5), so the master's measurements cover only its start");
    const v = overallVerdict(lost.judged, false);
    assert.equal(v.pass, false, 'not "supports 3 concurrent users: yes"');
    // One refusal, then measured again to the end: judged.
    const blip = judgeSegments(schedule, r, 30_000, false, [...early, host(16_500, 16_000), host(21_500, 21_000), host(26_500, 26_000)], undefined, [{ t: 13_000, problem: 'timeout' }]);
    assert.equal(blip.judged[0]?.judgement.serverLost, false);
    assert.equal(blip.segments[0]?.checks.find((c) => c.name === 'cpu')?.pass, true);
  });

  it("judges a step whose admin fetch failed once in its last second, every measurement of the master dated in it fetched: not 'partial', not 'only its start'", () => {
    // Steps of 30 s; the master measures every 5 s (at 2.5 s, 7.5 s, ...), fetched once a second;
    // the fetch at 29 s failed (a reset), the one at 30 s brought the 27.5 s measurement again.
    const schedule = stepsSchedule([3, 6], 30_000);
    const r = new Recorder(schedule);
    r.users(3, 0);
    for (let i = 0; i < 20; i++) r.record(ok(100 + i, 110 + i));
    r.users(6, 30_000);
    for (let i = 0; i < 20; i++) r.record(ok(30_100 + i, 30_110 + i));
    r.finish(60_000);
    const samples: ServerSample[] = [];
    for (let t = 0; t < 60_000; t += 1000) {
      if (t === 29_000) continue;
      samples.push({ t, cpu: 30, ram: 20, hostT: Math.floor((t - 2500) / 5000) * 5000 + 2500, hostDated: true, connections: 3, maxConnections: 100, status: 'LOW' });
    }
    const { segments, judged } = judgeSegments(schedule, r, 60_000, false, samples, undefined, [{ t: 29_000, problem: 'ECONNRESET' }]);
    assert.deepEqual(segments.map((s) => [s.serverLost, s.criteriaUnjudged, s.pass]), [[false, false, true], [false, false, true]]);
    assert.equal(segments[0]?.checks.find((c) => c.name === 'cpu')?.detail, 'CPU 30 % on average (max 30 %) < 80 %');
    const v = overallVerdict(judged, false);
    assert.ok(v.lines.includes('every step passed (2 of 2 ran)'), v.lines.join(' | '));
    // The same failure in the last step, the run ending after it (no fetch came back): still judged,
    // as no measurement dated in it was left unfetched.
    const tail = judgeSegments(schedule, r, 60_000, false, samples.filter((s) => s.t < 59_000), undefined, [{ t: 59_000, problem: 'no answer before the run ended' }]);
    assert.equal(tail.segments[1]?.criteriaUnjudged, false);
    // Failing from 13 s to the end, the measurements at 17.5, 22.5 and 27.5 s never fetched: lost.
    const gone = judgeSegments(schedule, r, 60_000, false, samples.filter((s) => s.t < 13_000 || s.t >= 30_000), undefined, [13_000, 20_000, 29_000].map((t) => ({ t, problem: 'HTTP 401: token refused' })));
    assert.equal(gone.segments[0]?.serverLost, true);
  });

  it('fails a step on a CPU or RAM figure over its limit though the admin API failed during it: a master stalled by the overloaded host is not a "yes" for the step after', () => {
    // Steps of 12 s; the master measures every 5 s. Its loop stalled from 14 s to 24 s (the host
    // overloaded): every fetch of step 2 after the first went unanswered, and its next measurement,
    // fetched in step 3, is the busy share of the 13.4 s since its last: 95 %, mostly step 2's.
    const schedule = stepsSchedule([1, 2, 3], 12_000);
    const r = new Recorder(schedule);
    r.users(1, 0);
    recordJudgeable(r, ok(100, 110));
    r.users(2, 12_000);
    recordJudgeable(r, ok(12_100, 12_110));
    r.users(3, 24_000);
    recordJudgeable(r, ok(24_100, 24_110));
    r.finish(36_000);
    const host = (t: number, hostT: number, cpu: number, ram = 10): ServerSample => ({ t, cpu, ram, hostT, hostDated: true, connections: 1, maxConnections: 100, status: 'LOW' });
    const samples = [host(1500, 1000, 20), host(6500, 6000, 20), host(11_500, 11_000, 20), host(12_500, 11_000, 20), host(13_500, 11_000, 20), host(24_500, 24_400, 95), host(29_500, 29_400, 30), host(34_500, 34_400, 30)];
    const failures = [15_000, 17_000, 19_000, 21_000, 23_000].map((t) => ({ t, problem: 'no answer within 2 s' }));
    const stalled = judgeSegments(schedule, r, 36_000, false, samples, undefined, failures);
    assert.deepEqual(stalled.segments.map((s) => s.pass), [true, false, true], stalled.segments.map((s) => s.checks.find((c) => c.name === 'cpu')?.detail).join(' | '));
    const cpu = stalled.segments[1]?.checks.find((c) => c.name === 'cpu');
    assert.equal(cpu?.pass, false);
    assert.match(cpu?.detail ?? '', /^CPU 95 % on average \(max 95 %\) ≥ 80 %/);
    assert.equal(stalled.segments[1]?.checks.find((c) => c.name === 'ram')?.pass, null, 'no RAM reading dated in the step: still unjudged');
    const v = overallVerdict(stalled.judged, false);
    assert.equal(v.pass, false, 'not "supports 3 concurrent users: yes"');
    assert.equal(v.firstFailure?.label, 'step 2/3');
    // RAM is the step's highest reading: one over the limit before the API failed fails it, as the
    // readings missed could only have been higher. One under the limit still judges nothing.
    const swapping = judgeSegments(schedule, r, 36_000, false, [host(1500, 1000, 20), host(6500, 6000, 20), host(11_500, 11_000, 20), host(13_500, 13_000, 20, 70), host(29_500, 29_400, 30), host(34_500, 34_400, 30)], undefined, [15_000, 17_000, 19_000, 21_000, 23_000, 25_000, 27_000].map((t) => ({ t, problem: 'no answer within 2 s' })));
    const ram = swapping.segments[1]?.checks.find((c) => c.name === 'ram');
    assert.equal(ram?.pass, false, ram?.detail);
    assert.match(ram?.detail ?? '', /^RAM 70 % at most ≥ 50 %/);
    assert.equal(overallVerdict(swapping.judged, false).pass, false);
    const under = judgeSegments(schedule, r, 36_000, false, samples.map((s) => (s.cpu === 95 ? { ...s, cpu: 40 } : s)), undefined, failures);
    assert.deepEqual(under.segments.map((s) => [s.pass, s.criteriaUnjudged]), [[true, false], [true, true], [true, false]], 'a figure under the limit proves nothing of a step the API failed during');
  });

  it('claims no capacity from a step no measurement of the master covered, with --admin given: the verdict names a step judged on CPU and RAM, or shows nothing', () => {
    // Steps of 2 s; the master measured the host at 1.5 s (its figure averaging the 2.5 s before),
    // then not again before the run ended: step 2 had neither CPU nor RAM.
    const schedule = stepsSchedule([2, 4], 2000);
    const r = new Recorder(schedule);
    r.users(2, 0);
    recordJudgeable(r, ok(100, 110));
    r.users(4, 2000);
    recordJudgeable(r, ok(2100, 2110));
    r.finish(4000);
    const host = (hostT: number, t: number): ServerSample => ({ t, cpu: 30, ram: 10, hostT, hostDated: true, connections: 1, maxConnections: 100, status: 'LOW' });
    const samples = [host(-1000, 0), host(1500, 1600), host(1500, 2600), host(1500, 3600)];
    const { segments, judged } = judgeSegments(schedule, r, 4000, false, samples, undefined);
    assert.deepEqual(segments.map((s) => [s.server.cpuMean, s.server.ramMax]), [[30, 10], [null, null]]);
    assert.deepEqual(segments.map((s) => [s.serverLost, s.criteriaUnjudged]), [[false, false], [false, true]], 'said in result.json');
    const v = overallVerdict(judged, false);
    let out = '';
    printSummary({ write: (t: string) => (out += t) }, segments, judged, v, undefined);
    assert.match(out, /^step 2\/2 +4 users  partial /m, 'not "pass": it proves no capacity');
    assert.equal(v.supportedUsers, 2);
    assert.match(v.headline, /^supports 2 concurrent users: yes \(p95 10 ms, 0 errors, CPU 30 %\)$/);
    assert.ok(v.lines.includes('without the CPU and RAM figures --admin asked for, so proving no capacity: step 2/2 (4 users)'), v.lines.join(' | '));
    assert.ok(v.lines.some((l) => l.startsWith('CPU and RAM not judged: no host measurement of the master (it measures every ') && l.includes('covers step 2/2')), v.lines.join(' | '));
    // No measurement in either step: nothing shown, no pass (exit 2).
    const none = judgeSegments(schedule, r, 4000, false, [host(-1000, 0), host(-1000, 1000), host(-1000, 3000)], undefined);
    const nothing = overallVerdict(none.judged, false);
    assert.equal(nothing.supportedUsers, null);
    assert.equal(nothing.pass, false);
    assert.match(nothing.headline, /^supports 4 concurrent users: not shown \(no CPU or RAM measurement of the master covers the steps held to their end; longer steps get one; /);
    // Without --admin, nothing was asked for: the same steps prove their users.
    assert.equal(overallVerdict(judgeSegments(schedule, r, 4000, false, [], 'no --admin URL given').judged, false).supportedUsers, 4);
  });

  it('names a ramp an interruption cut short by the users it reached, not the peak it never got to', () => {
    // A ramp to 300 users over 10 s, then a plateau: Ctrl-C 2.3 s in, with 82 users running, and
    // 503s among their answers.
    const schedule = profileSchedule(parseProfile({ users: { distribution: { ramp_up: { duration: '10s', users: 300 }, plateau: { duration: '10s', users: 300 } } } }), 1);
    const r = new Recorder(schedule);
    r.users(82, 2000);
    recordJudgeable(r, ok(100, 120));
    r.record({ ...ok(2100, 2110), status: 503, outcome: 'http' });
    r.finish(2300);
    const { judged } = judgeSegments(schedule, r, 2300, true, [], 'no --admin URL given');
    const v = overallVerdict(judged, true);
    assert.match(v.headline, /^supports 82 concurrent users: no \(/);
    assert.ok(v.lines.some((l) => l.startsWith('first failing step: ramp_up, 82 of 300 users reached: 1 server error (')), v.lines.join(' | '));
    assert.deepEqual(v.firstFailure?.users, 82);
    // Held to its end, a ramp is named by its peak, as it reached it.
    const whole = new Recorder(schedule);
    whole.users(300, 9000);
    recordJudgeable(whole, ok(100, 120));
    whole.record({ ...ok(2100, 2110), status: 503, outcome: 'http' });
    whole.finish(10_000);
    assert.match(overallVerdict(judgeSegments(schedule, whole, 10_000, true, [], 'no --admin URL given').judged, true).headline, /^supports 300 concurrent users: no \(/);
  });

  it('is no pass when the admin API failed during the plateau, though the ramp before it was judged in full', () => {
    // A ramp of 3 s to 4 users, then a plateau of 3 s; the master answered through the ramp and
    // went away 0.5 s into the plateau. The ramp shows no capacity; the plateau, which could, was
    // not judged on CPU and RAM.
    const { judged } = judgedWithAdminLost(profileSchedule(parseProfile({ users: { distribution: { ramp_up: { duration: '3s', users: 4 }, plateau: { duration: '3s', users: 4 } } } }), 1));
    assert.deepEqual(judged.map((j) => [j.judgement.enough, j.judgement.serverLost]), [[true, false], [true, true]]);
    const v = overallVerdict(judged, false);
    assert.equal(v.pass, false, 'exit 2: no step that could show capacity was judged on the criteria asked for');
    assert.equal(v.supportedUsers, null);
    assert.match(v.headline, /^supports 4 concurrent users: not shown \(the admin API gave no CPU or RAM figure during the steps held to their end; /);
  });

  it('prints a passing p95 just under the limit as under it, in the steps table and the verdict', () => {
    const schedule = stepsSchedule([2], 2000);
    const r = new Recorder(schedule);
    r.users(2, 0);
    recordJudgeable(r, { ...ok(100, 600), latencyUs: 499_700 });
    r.finish(2000);
    const { segments, judged } = judgeSegments(schedule, r, 2000, false, [], 'no --admin URL given');
    let out = '';
    printSummary({ write: (t: string) => (out += t) }, segments, judged, overallVerdict(judged, false), undefined);
    assert.match(out, /^step 1\/1 +2 users  pass .* p95 499\.\d ms, 0 errors/m);
    assert.match(out, /^verdict: supports 2 concurrent users: yes \(p95 499\.\d ms, /m);
    assert.doesNotMatch(out, /500 ms/);
  });
});
