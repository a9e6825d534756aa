// The settle window of a replacement: when a ready worker settles, and which deaths before that
// are failed boots of a reload's new generation.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { probationFailure, settlesNow } from '../../src/master/settle.js';

const BEAT = 1000;
const ready = (readyAt: number, lastBeatAt = readyAt) => ({ state: 'ready' as const, readyAt, lastBeatAt, beatIntervalMs: BEAT, settled: false });

test('a ready worker settles once it has been ready for the settle time, and is beating', () => {
  assert.equal(settlesNow(ready(10_000), 11_999, 2000), false, 'ready 1.999 s');
  assert.equal(settlesNow(ready(10_000, 11_500), 12_000, 2000), true, 'ready 2 s, beat 0.5 s ago');
  assert.equal(settlesNow(ready(10_000), 10_000, 0), true, 'no settle time: at its ready');
  assert.equal(settlesNow(ready(10_000, 10_000), 20_000, 2000), false, 'silent for 10 s: its loop is blocked, it takes no one\'s place');
  assert.equal(settlesNow({ ...ready(10_000, 19_900), settled: true }, 20_000, 2000), false, 'settles once');
  assert.equal(settlesNow({ ...ready(10_000, 19_900), state: 'draining' }, 20_000, 2000), false);
  assert.equal(settlesNow({ state: 'booting', readyAt: undefined, lastBeatAt: 19_900, beatIntervalMs: BEAT, settled: false }, 20_000, 2000), false);
});

test('a reload\'s new worker that dies before it settled is a failed boot, with how long after its ready and how it ended', () => {
  const c = { generation: 2, readyAt: 10_000, probation: true, settled: false };
  assert.deepEqual(probationFailure(c, { kind: 'exit', code: 1, signal: null }, 10_500, 2), {
    code: 'CORRAL_ERR_WORKER_DIED',
    message: 'worker exited with code 1 0.5 s after it was ready, before it settled (CORRAL_RELOAD_SETTLE)',
  });
  assert.match(probationFailure(c, { kind: 'exit', code: null, signal: 'SIGKILL' }, 11_200, 2)?.message ?? '', /^worker was killed by signal SIGKILL 1\.2 s after it was ready/);
  // The exception's headline as the worker reported it; an older worker sends none.
  assert.deepEqual(probationFailure(c, { kind: 'uncaught', error: 'TypeError: db.query is not a function' }, 10_300, 2), {
    code: 'CORRAL_ERR_UNCAUGHT',
    message: 'worker threw an uncaught exception 0.3 s after it was ready, before it settled (CORRAL_RELOAD_SETTLE): TypeError: db.query is not a function',
  });
  assert.match(probationFailure(c, { kind: 'uncaught' }, 10_300, 2)?.message ?? '', /before it settled \(CORRAL_RELOAD_SETTLE\): its worker\.uncaught line has the error$/);
  const stuck = probationFailure(c, { kind: 'stuck' }, 10_800, 2);
  assert.equal(stuck?.code, 'CORRAL_ERR_WORKER_TIMEOUT');
  assert.match(stuck?.message ?? '', /stopped beating 0\.8 s after it was ready/);
});

test('no failed boot: a worker that settled, one not on probation (first start, nothing to drain, no settle time), or of a generation no reload boots', () => {
  const c = { generation: 2, readyAt: 10_000, probation: true, settled: false };
  const exit = { kind: 'exit', code: 1, signal: null } as const;
  assert.equal(probationFailure({ ...c, settled: true }, exit, 13_000, 2), undefined, 'a crash after it settled');
  assert.equal(probationFailure({ ...c, probation: false }, exit, 10_500, 2), undefined);
  assert.equal(probationFailure(c, exit, 10_500, undefined), undefined, 'the reload ended');
  assert.equal(probationFailure(c, exit, 10_500, 3), undefined, 'a newer reload boots generation 3');
  assert.equal(probationFailure({ ...c, readyAt: undefined }, exit, 10_500, 2), undefined, 'never ready: the boot failure rules of a booting worker apply');
});
