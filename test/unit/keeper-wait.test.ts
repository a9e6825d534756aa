// When workers wait for the keeper: at first boot, and while a reload restarts it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KEEPER_FIRST_WAIT_MS, KEEPER_RELOAD_ATTEMPTS, keeperRestartStep, waitForFirstKeeper } from '../../src/master/keeper-wait.js';

test('at first boot workers wait for the keeper, until its boot attempts are used up or the wait is over', () => {
  assert.equal(waitForFirstKeeper({ failures: 0, bootAttempts: 5, sinceStartMs: 0 }), true);
  assert.equal(waitForFirstKeeper({ failures: 4, bootAttempts: 5, sinceStartMs: KEEPER_FIRST_WAIT_MS - 1 }), true);
  assert.equal(waitForFirstKeeper({ failures: 5, bootAttempts: 5, sinceStartMs: 0 }), false);
  assert.equal(waitForFirstKeeper({ failures: 0, bootAttempts: 5, sinceStartMs: KEEPER_FIRST_WAIT_MS }), false);
});

test('a keeper restarted by a reload is waited for, and its repeated failures roll the reload back', () => {
  const base = { keeperReady: false, reloading: true, failures: 0, bootAttempts: 5 };
  assert.equal(keeperRestartStep(base), 'wait');
  assert.equal(keeperRestartStep({ ...base, keeperReady: true, failures: 4 }), 'ready');
  assert.equal(keeperRestartStep({ ...base, failures: KEEPER_RELOAD_ATTEMPTS - 1 }), 'wait');
  assert.equal(keeperRestartStep({ ...base, failures: KEEPER_RELOAD_ATTEMPTS }), 'roll-back');
});

test('with fewer boot attempts allowed than the reload tries, the reload is still rolled back, not completed', () => {
  assert.equal(keeperRestartStep({ keeperReady: false, reloading: true, failures: 2, bootAttempts: 2 }), 'roll-back');
});

test('after a rollback, a keeper failing with the old settings too is given up on', () => {
  const back = { keeperReady: false, reloading: false, failures: 3, bootAttempts: 5 };
  assert.equal(keeperRestartStep(back), 'wait');
  assert.equal(keeperRestartStep({ ...back, failures: 5 }), 'give-up');
});
