// Each segment judged from what the recorder saw, and the steps table: a step in which no request
// finished is "no data" (pass null), not a failure.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/loadtest/client.js';
import { Recorder } from '../../src/loadtest/recorder.js';
import { stepsSchedule } from '../../src/loadtest/schedule.js';
import { judgeSegments, printSummary } from '../../src/loadtest/segments.js';
import { overallVerdict } from '../../src/loadtest/verdict.js';

function ok(startMs: number, endMs: number): Sample {
  return { kind: 'read', route: 'GET /api/players', status: 200, outcome: 'ok', latencyUs: (endMs - startMs) * 1000, startMs, endMs, bytes: 100 };
}

describe('judging segments', () => {
  it('shows a step in which no request was due as "no data" with pass null, and judges the run on the others', () => {
    const schedule = stepsSchedule([2, 4], 1000);
    const r = new Recorder(schedule);
    r.users(2, 0);
    r.record(ok(100, 130));
    r.record(ok(400, 420));
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
});
