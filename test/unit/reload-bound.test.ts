import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attemptBoundMs, drainBoundMs, probationBoundMs, ReloadBound, startBoundMs, STEP_MARGIN_MS } from '../../src/master/reload-bound.js';
import { BOOT_TIMEOUT_FLOOR_MS } from '../../src/master/stuck-judgement.js';
import { timeoutStartSec } from '../../src/systemd/timeouts.js';

const DEFAULTS = { CORRAL_TIMEOUT: 30, CORRAL_GRACEFUL_TIMEOUT: 30, CORRAL_RELOAD_SETTLE: 2 };

test('a reload starts with the unit\'s TimeoutStartSec: two boots (a keeper restart\'s, the workers\') with their settle time, and the drain', () => {
  assert.equal(startBoundMs(DEFAULTS), 154_000);
  assert.equal(startBoundMs({ CORRAL_TIMEOUT: 200, CORRAL_GRACEFUL_TIMEOUT: 10, CORRAL_RELOAD_SETTLE: 0 }), timeoutStartSec(10, 200, 0) * 1000);
  assert.equal(startBoundMs({ CORRAL_TIMEOUT: 200, CORRAL_GRACEFUL_TIMEOUT: 10, CORRAL_RELOAD_SETTLE: 0 }), 410_000);
});

test('a boot attempt has its boot timeout (the floor, or CORRAL_TIMEOUT when longer) and its settle time, then the drain and a margin; a later one the wait before it too', () => {
  assert.equal(attemptBoundMs(DEFAULTS), BOOT_TIMEOUT_FLOOR_MS + 2_000 + 30_000 + STEP_MARGIN_MS);
  assert.equal(attemptBoundMs({ CORRAL_TIMEOUT: 200, CORRAL_GRACEFUL_TIMEOUT: 0, CORRAL_RELOAD_SETTLE: 0 }), 200_000 + STEP_MARGIN_MS);
  assert.equal(attemptBoundMs(DEFAULTS, 4_000), 4_000 + attemptBoundMs(DEFAULTS), 'a failed boot\'s backoff comes first');
  assert.equal(attemptBoundMs(DEFAULTS, -5), attemptBoundMs(DEFAULTS), 'a backoff already over adds nothing');
  assert.equal(drainBoundMs(DEFAULTS), 30_000 + STEP_MARGIN_MS);
  assert.equal(drainBoundMs({ CORRAL_TIMEOUT: 30, CORRAL_GRACEFUL_TIMEOUT: 0, CORRAL_RELOAD_SETTLE: 2 }), STEP_MARGIN_MS, 'killed at once, the old workers still need reaping');
});

function recorded() {
  let now = 1_000_000;
  const sent: string[] = [];
  const bound = new ReloadBound({ reloading: (_status, ms) => void sent.push(`reloading:${ms}`), extendTimeout: (ms) => void sent.push(`extend:${ms}`) }, () => now);
  return { bound, sent, advance: (ms: number) => (now += ms) };
}

test('the bound is told to systemd when it ends later than what systemd has, never to shorten it (systemd would ignore that), and not again for a step within a second of the last', () => {
  const { bound, sent, advance } = recorded();
  assert.equal(bound.remainingMs(), undefined, 'no reload yet');
  assert.equal(bound.extend(100_000), false, 'nothing to extend before a reload started');
  bound.start('reloading: starting generation 2', 150_000);
  assert.deepEqual(sent, ['reloading:150000']);
  assert.equal(bound.remainingMs(), 150_000);
  // The first attempt's fork, in the same tick: within the first bound.
  assert.equal(bound.extend(100_000), false);
  advance(61_000);
  assert.equal(bound.remainingMs(), 89_000);
  // The second attempt, after the first timed out: from now, later than 150 s after the start.
  assert.equal(bound.extend(100_000), true);
  assert.equal(bound.remainingMs(), 100_000);
  advance(500);
  assert.equal(bound.extend(100_000), false, 'half a second later: the same step, not sent again');
  advance(60_000);
  assert.equal(bound.extend(40_000), false, 'the drain ends before the bound told');
  assert.equal(bound.extend(101_000), true);
  assert.deepEqual(sent, ['reloading:150000', 'extend:100000', 'extend:101000']);
  advance(200_000);
  assert.equal(bound.remainingMs(), 0, 'past: nothing left, not a negative wait');
  // The next reload starts from its own bound.
  bound.start('reloading: starting generation 3', 150_000);
  assert.equal(bound.remainingMs(), 150_000);
});

test('a new worker on probation may still be killed as stuck CORRAL_TIMEOUT after its settle time ends: the bound covers that, then the drain', () => {
  const slow = { CORRAL_TIMEOUT: 120, CORRAL_GRACEFUL_TIMEOUT: 30, CORRAL_RELOAD_SETTLE: 2 };
  assert.equal(probationBoundMs(slow, 0), 2_000 + 120_000 + 30_000 + STEP_MARGIN_MS);
  assert.equal(probationBoundMs(slow, 1_500), 500 + 120_000 + 30_000 + STEP_MARGIN_MS);
  assert.equal(probationBoundMs(slow, 5_000), 120_000 + 30_000 + STEP_MARGIN_MS, 'past its settle time: what a kill as stuck still takes');
});
