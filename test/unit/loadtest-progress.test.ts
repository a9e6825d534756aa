// The progress line: redrawn in place on a terminal, a plain line every few seconds otherwise.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readLoadtestEnv } from '../../src/config/loadtest-env.js';
import { compactProgressLine, Progress, progressLine, type ProgressState } from '../../src/loadtest/progress.js';

const state = (elapsedMs: number, segmentLabel = 'step 1/2 (2 users)'): ProgressState => ({ elapsedMs, totalMs: 60_000, segmentLabel, users: 2, rps: 38.25, p95Ms: 4.12, errors: 1, requests: 120 });

function sink(isTTY: boolean): { writes: string[]; isTTY: boolean; write(t: string): boolean } {
  const writes: string[] = [];
  return { writes, isTTY, write: (t) => writes.push(t) > 0 };
}

describe('progress', () => {
  it('shows users, req/s, p95, errors, elapsed and remaining', () => {
    assert.equal(progressLine(state(12_000)), '[00:12 elapsed, 00:48 left]  step 1/2 (2 users)  users 2  38.3 req/s  p95 4.1 ms  errors 1/120');
    assert.match(progressLine({ ...state(0), p95Ms: undefined }), /p95 -/);
  });

  it('shows a p95 just under the limit as the steps table and the verdict do, never rounded up to it', () => {
    assert.match(progressLine({ ...state(12_000), p95Ms: 499.96 }), /p95 499\.9 ms/);
    assert.match(compactProgressLine({ ...state(12_000), p95Ms: 499.96 }), /p95 499\.9 ms/);
  });

  it('counts the time left down to 00:00 at the end, not a second early', () => {
    assert.match(progressLine(state(100)), /^\[00:00 elapsed, 01:00 left\]/);
    assert.match(progressLine(state(59_100)), /^\[00:59 elapsed, 00:01 left\]/);
    assert.match(progressLine(state(60_000)), /^\[01:00 elapsed, 00:00 left\]/);
  });

  it('redraws one line on a terminal, at most four times a second, and ends it with a newline', () => {
    const s = sink(true);
    const p = new Progress(s);
    for (let t = 0; t < 1000; t += 100) p.update(state(t));
    assert.equal(s.writes.length, 4);
    assert.ok(s.writes.every((w) => w.startsWith('\r') && w.endsWith('\x1b[K') && !w.includes('\n')));
    p.done();
    assert.equal(s.writes.at(-1), '\n');
  });

  it('fits the redrawn line in a terminal narrower than it, so a redraw never wraps and leaves rows behind', () => {
    const writes: string[] = [];
    const p = new Progress({ isTTY: true, columns: 50, write: (t: string) => writes.push(t) > 0 });
    p.update(state(12_000));
    const drawn = (writes[0] ?? '').replace(/^\r/, '').replace(/\x1b\[K$/, '');
    assert.equal(drawn.length, 49, drawn);
    assert.ok(compactProgressLine(state(12_000)).startsWith(drawn.slice(0, -1)) && drawn.endsWith('…'), drawn);
    const wide: string[] = [];
    new Progress({ isTTY: true, columns: 200, write: (t: string) => wide.push(t) > 0 }).update(state(12_000));
    assert.equal(wide[0], `\r${progressLine(state(12_000))}\x1b[K`, 'a line that fits is left whole');
  });

  it('keeps every figure, errors included, on an 80-column terminal during the default steps', () => {
    // The full line of step 6/6 of the default steps is over 90 columns: cut, it lost the errors.
    const big: ProgressState = { elapsedMs: 163_000, totalMs: 180_000, segmentLabel: 'step 6/6 (200 users)', users: 200, rps: 153.25, p95Ms: 120, errors: 12, requests: 34_567 };
    assert.ok(progressLine(big).length >= 80);
    const writes: string[] = [];
    new Progress({ isTTY: true, columns: 80, write: (t: string) => writes.push(t) > 0 }).update(big);
    const drawn = (writes[0] ?? '').replace(/^\r/, '').replace(/\x1b\[K$/, '');
    assert.equal(drawn, '[02:43, 00:17 left] step 6/6 users 200 153.3 req/s p95 120 ms errors 12/34567');
    assert.ok(drawn.length < 80);
  });

  it('prints a plain line every 5 s and on each step change when not a terminal, the ending step\'s last figures first', () => {
    const s = sink(false);
    const p = new Progress(s);
    for (let t = 0; t <= 12_000; t += 100) {
      const first = t < 7000;
      // The new step has measured nothing yet at its first tick.
      p.update({ ...state(t, first ? 'step 1/2 (2 users)' : 'step 2/2 (4 users)'), p95Ms: first ? 4.12 + t / 1000 : t === 7000 ? undefined : 9 });
    }
    p.done();
    assert.deepEqual(s.writes.map((w) => w.slice(0, 7)), ['[00:00 ', '[00:05 ', '[00:06 ', '[00:07 ', '[00:12 ']);
    assert.match(s.writes[2] ?? '', /step 1\/2 \(2 users\).*p95 11 ms/, 'how step 1 ended: its last tick, 6.9 s in');
    assert.match(s.writes[3] ?? '', /step 2\/2 \(4 users\).*p95 -/);
    assert.ok(s.writes.every((w) => w.endsWith('\n') && !w.includes('\r')));
    // A step whose last tick was written already (on the 5 s beat) is not written twice.
    const t = sink(false);
    const q = new Progress(t);
    for (const [ms, label] of [[0, 'step 1/2 (2 users)'], [5000, 'step 1/2 (2 users)'], [5100, 'step 2/2 (4 users)']] as const) q.update(state(ms, label));
    assert.deepEqual(t.writes.map((w) => w.slice(0, 7)), ['[00:00 ', '[00:05 ', '[00:05 ']);
  });

  it('prints plain lines on a terminal too under CI or TERM=dumb, where redraws would fill the log with control characters', () => {
    for (const env of [{ CI: 'true' }, { CI: '1' }, { TERM: 'dumb' }]) {
      const { progressInPlace } = readLoadtestEnv(env);
      assert.equal(progressInPlace, false, JSON.stringify(env));
      const s = sink(true);
      const p = new Progress(s, { inPlace: progressInPlace });
      for (let t = 0; t <= 6000; t += 100) p.update(state(t));
      p.done();
      assert.deepEqual(s.writes.map((w) => w.slice(0, 7)), ['[00:00 ', '[00:05 '], JSON.stringify(env));
      assert.ok(s.writes.every((w) => w.endsWith('\n') && !/[\r\x1b]/.test(w)), JSON.stringify(s.writes));
    }
    for (const env of [{}, { CI: 'false' }, { CI: '0' }, { CI: '' }, { TERM: 'xterm-256color' }]) {
      assert.equal(readLoadtestEnv(env).progressInPlace, true, JSON.stringify(env));
    }
  });
});
