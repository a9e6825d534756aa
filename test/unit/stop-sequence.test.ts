// The stop's deadline and its steps: workers first, then the keeper with time of its own, then exit.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forcedExitAfterMs, KEEPER_STOP_MS, stopDeadline, stopStep } from '../../src/master/stop-sequence.js';
import { timeoutStopSec } from '../../src/systemd/timeouts.js';

test('a second stop brings the deadline forward, never back', () => {
  const first = stopDeadline(1000, 30_000, undefined);
  assert.equal(first, 33_000);
  // SIGQUIT (no grace) 5 s later: sooner.
  assert.equal(stopDeadline(6000, 0, first), 8000);
  // Another SIGTERM later still: the earlier deadline stays.
  assert.equal(stopDeadline(20_000, 30_000, first), first);
});

test('the keeper is drained once the last worker is gone, with at least its own time', () => {
  const base = { now: 10_000, deadline: 40_000, workersLeft: 2, keeperLeft: true, keeperDrainAt: undefined };
  assert.deepEqual(stopStep(base), { drainKeeperMs: undefined, done: false, killWorkers: false, killKeeper: false });
  assert.equal(stopStep({ ...base, workersLeft: 0 }).drainKeeperMs, 30_000);
  assert.equal(stopStep({ ...base, workersLeft: 0, now: 39_000 }).drainKeeperMs, KEEPER_STOP_MS);
  assert.equal(stopStep({ ...base, workersLeft: 0, keeperDrainAt: 10_000 }).drainKeeperMs, undefined);
});

test('the master is done when no child is left, and kills what is left past the deadline', () => {
  const base = { now: 10_000, deadline: 40_000, workersLeft: 0, keeperLeft: false, keeperDrainAt: 10_000 };
  assert.deepEqual(stopStep(base), { drainKeeperMs: undefined, done: true, killWorkers: false, killKeeper: false });
  assert.deepEqual(stopStep({ ...base, now: 90_000 }), { drainKeeperMs: undefined, done: true, killWorkers: false, killKeeper: false });
  const workers = { ...base, workersLeft: 1, keeperLeft: true, keeperDrainAt: undefined };
  assert.equal(stopStep({ ...workers, now: 40_000 }).killWorkers, false);
  assert.equal(stopStep({ ...workers, now: 40_001 }).killWorkers, true);
  // Only the keeper left: it has KEEPER_STOP_MS past the deadline.
  const keeper = { ...base, keeperLeft: true };
  assert.equal(stopStep({ ...keeper, now: 40_001 }).killKeeper, false);
  assert.equal(stopStep({ ...keeper, now: 40_000 + KEEPER_STOP_MS + 1 }).killKeeper, true);
});

test('workers left past the deadline are killed, not the keeper: it is drained then, and has its own time from that drain', () => {
  const overrun = { now: 40_001, deadline: 40_000, workersLeft: 2, keeperLeft: true, keeperDrainAt: undefined };
  assert.deepEqual(stopStep(overrun), { drainKeeperMs: KEEPER_STOP_MS, done: false, killWorkers: true, killKeeper: false });
  // Drained after the deadline (the last worker's exit read late): KEEPER_STOP_MS from its drain, not from the deadline.
  const late = { now: 0, deadline: 40_000, workersLeft: 0, keeperLeft: true, keeperDrainAt: 41_000 };
  assert.equal(stopStep({ ...late, now: 45_500 }).killKeeper, false);
  assert.equal(stopStep({ ...late, now: 46_001 }).killKeeper, true);
});

test("the forced exit after the master's own uncaught exception outlasts the stop it waits for, and comes before systemd's TimeoutStopSec", () => {
  for (const graceful of [0, 1, 30, 300]) {
    const deadline = stopDeadline(0, graceful * 1000, undefined);
    // The keeper drained at the first tick past the deadline (a worker overran it), killed KEEPER_STOP_MS later, then reaped.
    const lastKill = deadline + 250 + KEEPER_STOP_MS + 250;
    assert.ok(forcedExitAfterMs(graceful * 1000) > lastKill + 1000, `graceful ${graceful}s`);
    assert.ok(forcedExitAfterMs(graceful * 1000) <= timeoutStopSec(graceful) * 1000 - 3000, `graceful ${graceful}s`);
  }
});
