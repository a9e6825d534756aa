// The stop's deadline and its steps: workers first, then the keeper with time of its own, then exit.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KEEPER_STOP_MS, stopDeadline, stopStep } from '../../src/master/stop-sequence.js';

test('a second stop brings the deadline forward, never back', () => {
  const first = stopDeadline(1000, 30_000, undefined);
  assert.equal(first, 33_000);
  // SIGQUIT (no grace) 5 s later: sooner.
  assert.equal(stopDeadline(6000, 0, first), 8000);
  // Another SIGTERM later still: the earlier deadline stays.
  assert.equal(stopDeadline(20_000, 30_000, first), first);
});

test('the keeper is drained once the last worker is gone, with at least its own time', () => {
  const base = { now: 10_000, deadline: 40_000, workersLeft: 2, keeperLeft: true, keeperDrainSent: false };
  assert.deepEqual(stopStep(base), { drainKeeperMs: undefined, done: false, killAll: false });
  assert.equal(stopStep({ ...base, workersLeft: 0 }).drainKeeperMs, 30_000);
  assert.equal(stopStep({ ...base, workersLeft: 0, now: 39_000 }).drainKeeperMs, KEEPER_STOP_MS);
  assert.equal(stopStep({ ...base, workersLeft: 0, keeperDrainSent: true }).drainKeeperMs, undefined);
});

test('the master is done when no child is left, and kills what is left past the deadline', () => {
  const base = { now: 10_000, deadline: 40_000, workersLeft: 0, keeperLeft: false, keeperDrainSent: true };
  assert.deepEqual(stopStep(base), { drainKeeperMs: undefined, done: true, killAll: false });
  assert.deepEqual(stopStep({ ...base, now: 90_000 }), { drainKeeperMs: undefined, done: true, killAll: false });
  const workers = { ...base, workersLeft: 1, keeperLeft: true };
  assert.equal(stopStep({ ...workers, now: 40_000 }).killAll, false);
  assert.equal(stopStep({ ...workers, now: 40_001 }).killAll, true);
  // Only the keeper left: it has KEEPER_STOP_MS past the deadline.
  const keeper = { ...base, keeperLeft: true };
  assert.equal(stopStep({ ...keeper, now: 40_001 }).killAll, false);
  assert.equal(stopStep({ ...keeper, now: 40_000 + KEEPER_STOP_MS + 1 }).killAll, true);
});
