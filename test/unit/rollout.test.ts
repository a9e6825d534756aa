// Which workers are forked, retired and drained, from the workers' states and the counts alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainsDue, forksDue, isActiveCurrent, nextRecycle, scaleDownExcess, stillBooting } from '../../src/master/rollout.js';
import type { ChildRecord } from '../../src/master/registry.js';

type W = Pick<ChildRecord, 'generation' | 'retire' | 'pendingRetire' | 'state'> & Partial<Pick<ChildRecord, 'settled' | 'probation' | 'stopReason' | 'readyAt'>> & { id: number };

/** A worker; a ready one has settled (been ready for CORRAL_RELOAD_SETTLE) unless `over` says not. */
const w = (id: number, generation: number, state: W['state'], over: Partial<W> = {}): W => ({ id, generation, state, retire: undefined, pendingRetire: undefined, settled: state === 'ready', ...over });
const ids = (list: readonly { id: number }[]) => list.map((c) => c.id);

test('only booting or ready workers of the generation, not retiring, count towards its size', () => {
  assert.equal(isActiveCurrent(w(1, 2, 'ready'), 2), true);
  assert.equal(isActiveCurrent(w(1, 2, 'booting'), 2), true);
  assert.equal(isActiveCurrent(w(1, 1, 'ready'), 2), false);
  assert.equal(isActiveCurrent(w(1, 2, 'draining'), 2), false);
  assert.equal(isActiveCurrent(w(1, 2, 'ready', { retire: 'max-requests' }), 2), false);
});

test('a worker killed as a failed boot counts until its exit is reaped: its slot is not forked again before the failure is counted', () => {
  const failedBoot = { readyAt: undefined, bootError: { code: 'CORRAL_ERR_WORKER_TIMEOUT', message: 'silent for 10 s while booting' }, stopReason: undefined };
  assert.equal(isActiveCurrent({ ...w(1, 2, 'killing'), ...failedBoot }, 2), true);
  assert.equal(isActiveCurrent({ ...w(1, 2, 'killing'), ...failedBoot, stopReason: 'superseded' }, 2), false, 'one stopped on purpose does not count');
  assert.equal(isActiveCurrent({ ...w(1, 2, 'killing'), ...failedBoot, readyAt: 5 }, 2), false, 'one that was ready is a crash, not a failed boot');
  assert.equal(isActiveCurrent({ ...w(1, 1, 'killing'), ...failedBoot }, 2), false, 'of another generation');
});

test('scaling down retires the oldest of the current generation beyond the count', () => {
  const workers = [w(1, 1, 'ready'), w(2, 2, 'ready'), w(3, 2, 'draining'), w(4, 2, 'ready'), w(5, 2, 'ready'), w(6, 2, 'ready', { retire: 'memory' })];
  assert.deepEqual(ids(scaleDownExcess(workers, 2, 1)), [2, 4]);
  assert.deepEqual(ids(scaleDownExcess(workers, 2, 3)), []);
});

test('scaling down retires a worker still booting before a ready one, the last forked first: a TTOU after a TTIN takes back the worker the TTIN forked, not one that serves', () => {
  // A TTIN forked 4, then 5; a TTOU came before they were ready.
  const workers = [w(2, 2, 'ready'), w(3, 2, 'ready'), w(4, 2, 'booting'), w(5, 2, 'booting')];
  assert.deepEqual(ids(scaleDownExcess(workers, 2, 3)), [5]);
  assert.deepEqual(ids(scaleDownExcess(workers, 2, 2)), [5, 4]);
  assert.deepEqual(ids(scaleDownExcess(workers, 2, 1)), [5, 4, 2], 'then the oldest ready');
});

test('one recycle at a time: the next ready worker asking waits while another retiree is replaced', () => {
  const asking = w(2, 1, 'ready', { pendingRetire: 'max-requests' });
  assert.equal(nextRecycle([w(1, 1, 'ready'), w(3, 1, 'booting', { pendingRetire: 'memory' }), asking]), asking);
  assert.equal(nextRecycle([w(1, 1, 'ready', { retire: 'memory' }), asking]), undefined);
  // A worker retired after a crash is not a recycle: it does not hold the others back.
  assert.equal(nextRecycle([w(1, 1, 'ready', { retire: 'uncaught' }), asking]), asking);
});

test('forks: every missing worker at once, one at a time after crashes, and none while a probe boots after failed boots', () => {
  assert.deepEqual(forksDue({ missing: 4, bootFailures: 0, quickCrashes: 1, anyBooting: true }), { n: 4, failing: false });
  assert.deepEqual(forksDue({ missing: 4, bootFailures: 0, quickCrashes: 2, anyBooting: true }), { n: 1, failing: true });
  assert.deepEqual(forksDue({ missing: 4, bootFailures: 1, quickCrashes: 0, anyBooting: false }), { n: 1, failing: true });
  assert.deepEqual(forksDue({ missing: 4, bootFailures: 1, quickCrashes: 0, anyBooting: true }), { n: 0, failing: true });
  assert.equal(forksDue({ missing: 0, bootFailures: 1, quickCrashes: 0, anyBooting: false }).n, 0);
});

test('outgoing workers drain only while enough current ones are ready to take their place; booting ones stop at once', () => {
  const old = [w(1, 1, 'ready'), w(2, 1, 'ready'), w(3, 1, 'booting')];
  // None of generation 2 ready yet: only the booting one of generation 1 goes.
  assert.deepEqual(drainsDue([...old, w(4, 2, 'booting'), w(5, 2, 'booting')], 2, 2), [{ c: old[2], superseded: true }]);
  // One ready: one old one may go.
  assert.deepEqual(ids(drainsDue([...old.slice(0, 2), w(4, 2, 'ready'), w(5, 2, 'booting')], 2, 2).map((d) => d.c)), [1]);
  // Both ready: both old ones go.
  assert.deepEqual(ids(drainsDue([...old.slice(0, 2), w(4, 2, 'ready'), w(5, 2, 'ready')], 2, 2).map((d) => d.c)), [1, 2]);
  // Already draining: not again.
  assert.deepEqual(drainsDue([w(1, 1, 'draining'), w(4, 2, 'ready')], 2, 1), []);
  // A recycled worker of the current generation waits for its replacement to be ready.
  const retiring = w(6, 2, 'ready', { retire: 'max-requests' });
  assert.deepEqual(drainsDue([retiring, w(7, 2, 'booting')], 2, 1), []);
  assert.deepEqual(drainsDue([retiring, w(7, 2, 'ready')], 2, 1), [{ c: retiring, superseded: false }]);
});

test('an outgoing worker drains only once its replacement has settled: ready alone is not enough', () => {
  const old = [w(1, 1, 'ready'), w(2, 1, 'ready')];
  const settling = (id: number) => w(id, 2, 'ready', { settled: false, probation: true });
  // Both new ones ready, neither settled: nothing drains.
  assert.deepEqual(drainsDue([...old, settling(3), settling(4)], 2, 2), []);
  // One settled: one old one drains; the other waits for the second.
  assert.deepEqual(ids(drainsDue([...old, w(3, 2, 'ready'), settling(4)], 2, 2).map((d) => d.c)), [1]);
  assert.deepEqual(ids(drainsDue([...old, w(3, 2, 'ready'), w(4, 2, 'ready')], 2, 2).map((d) => d.c)), [1, 2]);
  // A recycle's replacement waits its settle time too.
  const retiring = w(6, 2, 'ready', { retire: 'max-requests' });
  assert.deepEqual(drainsDue([retiring, w(5, 2, 'ready'), w(7, 2, 'ready', { settled: false })], 2, 2), []);
  assert.deepEqual(drainsDue([retiring, w(5, 2, 'ready'), w(7, 2, 'ready')], 2, 2), [{ c: retiring, superseded: false }]);
  // A scale-down needs no replacement: the excess drains at once, settled or not.
  const excess = w(8, 2, 'ready', { retire: 'scale-down', settled: false });
  assert.deepEqual(drainsDue([excess, w(9, 2, 'ready')], 2, 1), [{ c: excess, superseded: false }]);
});

test('a reload\'s new workers that threw drain before any old one: a healthy old worker is never drained to keep one', () => {
  const old = [w(1, 1, 'ready'), w(2, 1, 'ready')];
  const threw = [w(3, 2, 'ready', { retire: 'uncaught', settled: false }), w(4, 2, 'ready', { retire: 'uncaught', settled: false })];
  // Two old ones serve the count of two: the two that threw go, both old ones stay.
  assert.deepEqual(ids(drainsDue([...old, ...threw], 2, 2).map((d) => d.c)), [3, 4]);
});

test('outgoing workers not settled drain before settled ones: a scale-down or a superseded reload during the settle time keeps the old generation serving', () => {
  const old = [w(1, 1, 'ready'), w(2, 1, 'ready')];
  // A TTOU during a reload's settle time retires the oldest new worker, ready but not settled:
  // it goes first, and one old worker stays beside the other new one until that one settles.
  const retired = w(3, 2, 'ready', { retire: 'scale-down', settled: false, probation: true });
  const settling = w(4, 2, 'ready', { settled: false, probation: true });
  assert.deepEqual(ids(drainsDue([...old, retired, settling], 2, 1).map((d) => d.c)), [3, 1]);
  // A superseded reload's worker, ready but not settled, is outgoing too: it goes, the old generation stays.
  const superseded = w(5, 2, 'ready', { settled: false, probation: true });
  assert.deepEqual(ids(drainsDue([...old, superseded, w(6, 3, 'booting'), w(7, 3, 'booting')], 3, 2).map((d) => d.c)), [5]);
});

test('probing after failed boots counts a reload\'s new worker ready but not settled as still booting; one killed as stuck before it settled still holds its slot', () => {
  assert.equal(stillBooting(w(1, 2, 'booting')), true);
  assert.equal(stillBooting(w(1, 2, 'ready', { settled: false, probation: true })), true);
  assert.equal(stillBooting(w(1, 2, 'ready', { settled: false, probation: false })), false, 'no reload: ready is done');
  assert.equal(stillBooting(w(1, 2, 'ready', { probation: true })), false, 'settled');
  const stuck = w(1, 2, 'killing', { readyAt: 5, stopReason: 'timeout', probation: true, settled: false });
  assert.equal(isActiveCurrent(stuck, 2), true, 'its exit is a failed boot still to count');
  assert.equal(isActiveCurrent({ ...stuck, settled: true }, 2), false, 'settled, it is a crash: replaced at once');
  assert.equal(isActiveCurrent({ ...stuck, probation: false }, 2), false);
});
