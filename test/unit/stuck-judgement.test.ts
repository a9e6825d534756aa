// What the murder step does with a child, judged from its record and the clock alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATE_AFTER_BEATS } from '../../src/heartbeat-interval.js';
import { BOOT_TIMEOUT_FLOOR_MS, cannotDrain, judgeChild } from '../../src/master/stuck-judgement.js';
import type { ChildRecord } from '../../src/master/registry.js';

const TIMEOUT_MS = 30_000;
const NOW = 1_000_000;

type Judged = Parameters<typeof judgeChild>[0];

function child(over: Partial<Judged> = {}): Judged {
  return { state: 'ready', lastBeatAt: NOW, beaten: true, beatIntervalMs: 1000, drainedReported: false, sigkillAt: undefined, drainDeadline: undefined, startedAt: NOW - 100_000, ...over };
}

test('a ready child is stuck only once silent for longer than CORRAL_TIMEOUT', () => {
  assert.deepEqual(judgeChild(child({ lastBeatAt: NOW - TIMEOUT_MS }), NOW, TIMEOUT_MS), { kind: 'none' });
  assert.deepEqual(judgeChild(child({ lastBeatAt: NOW - TIMEOUT_MS - 1 }), NOW, TIMEOUT_MS), { kind: 'stuck', silentMs: TIMEOUT_MS + 1 });
});

test('a child beating at the pace of an older, longer timeout is stuck only after two of its own beats', () => {
  const slow = child({ beatIntervalMs: 20_000, lastBeatAt: NOW - 35_000 });
  assert.deepEqual(judgeChild(slow, NOW, TIMEOUT_MS), { kind: 'none' });
  assert.deepEqual(judgeChild(slow, NOW + 5001, TIMEOUT_MS), { kind: 'stuck', silentMs: 40_001 });
});

test('a draining child silent past the timeout is killed before its drain deadline, unless it reported drained', () => {
  const draining = child({ state: 'draining', lastBeatAt: NOW - TIMEOUT_MS - 1, drainDeadline: NOW + 60_000 });
  assert.equal(judgeChild(draining, NOW, TIMEOUT_MS).kind, 'stuck');
  assert.equal(judgeChild({ ...draining, drainedReported: true }, NOW, TIMEOUT_MS).kind, 'none');
  assert.equal(judgeChild({ ...draining, drainedReported: true }, NOW + 60_001, TIMEOUT_MS).kind, 'drain-deadline');
  assert.equal(judgeChild(child({ state: 'draining', drainDeadline: NOW - 1 }), NOW, TIMEOUT_MS).kind, 'drain-deadline');
});

test('a child sent SIGTERM gets SIGKILL at its time, sooner once it is not beating; one already sent SIGKILL is left alone', () => {
  const killing = child({ state: 'killing', sigkillAt: NOW + 10_000 });
  assert.equal(judgeChild(killing, NOW, TIMEOUT_MS).kind, 'none');
  // Still beating (close hooks that never end) at its SIGKILL time.
  assert.equal(judgeChild({ ...killing, lastBeatAt: NOW + 10_000 }, NOW + 10_001, TIMEOUT_MS).kind, 'no-exit-after-sigterm');
  // Its loop blocked (booting: nothing to cut): LATE_AFTER_BEATS missed beats, not CORRAL_TIMEOUT.
  assert.equal(judgeChild({ ...killing, lastBeatAt: NOW - LATE_AFTER_BEATS * 1000 }, NOW, TIMEOUT_MS).kind, 'none');
  assert.equal(judgeChild({ ...killing, lastBeatAt: NOW - LATE_AFTER_BEATS * 1000 - 1 }, NOW, TIMEOUT_MS).kind, 'not-beating');
  // One that reported drained stopped beating on purpose, on its way out.
  assert.equal(judgeChild({ ...killing, drainedReported: true, lastBeatAt: NOW - TIMEOUT_MS - 1 }, NOW, TIMEOUT_MS).kind, 'none');
  assert.equal(judgeChild({ ...killing, sigkillAt: undefined, lastBeatAt: NOW - 10 * TIMEOUT_MS }, NOW, TIMEOUT_MS).kind, 'none');
});

test('a booting child that beats but is never ready times out after the larger of a minute and CORRAL_TIMEOUT', () => {
  const booting = child({ state: 'booting', startedAt: NOW - BOOT_TIMEOUT_FLOOR_MS });
  assert.equal(judgeChild(booting, NOW, TIMEOUT_MS).kind, 'none');
  assert.deepEqual(judgeChild(booting, NOW + 1, TIMEOUT_MS), { kind: 'boot-timeout', bootMs: BOOT_TIMEOUT_FLOOR_MS + 1 });
  const longTimeout = 120_000;
  assert.equal(judgeChild({ ...booting, lastBeatAt: NOW + 1 }, NOW + 1, longTimeout).kind, 'none');
  assert.equal(judgeChild({ ...booting, lastBeatAt: NOW + 60_001 }, NOW + 60_001, longTimeout).kind, 'boot-timeout');
});

test("a booting child that never beat has the boot timeout, not CORRAL_TIMEOUT (node and corral's modules still starting on a starved host), unless the task limit refused since its fork", () => {
  const TIMEOUT = 2000;
  let asked = 0;
  const refused = (answer: boolean) => () => {
    asked++;
    return answer;
  };
  const unbeaten = child({ state: 'booting', beaten: false, startedAt: NOW, lastBeatAt: NOW });
  assert.deepEqual(judgeChild(unbeaten, NOW + TIMEOUT + 1, TIMEOUT, refused(false)), { kind: 'none' });
  assert.equal(asked, 1, 'the counters are read once it is silent past CORRAL_TIMEOUT');
  assert.deepEqual(judgeChild(unbeaten, NOW + TIMEOUT, TIMEOUT, refused(true)), { kind: 'none' });
  assert.equal(asked, 1, 'and not before');
  assert.deepEqual(judgeChild(unbeaten, NOW + TIMEOUT + 1, TIMEOUT, refused(true)), { kind: 'stuck', silentMs: TIMEOUT + 1, neverBeat: 'task-limit' });
  assert.deepEqual(judgeChild(unbeaten, NOW + BOOT_TIMEOUT_FLOOR_MS, TIMEOUT, refused(false)), { kind: 'none' });
  asked = 0;
  assert.deepEqual(judgeChild(unbeaten, NOW + BOOT_TIMEOUT_FLOOR_MS + 1, TIMEOUT, refused(false)), { kind: 'stuck', silentMs: BOOT_TIMEOUT_FLOOR_MS + 1, neverBeat: 'boot-timeout' });
  assert.equal(asked, 0, 'past the boot timeout the counters are not needed');
  // A pause of the master's own discounted (lastBeatAt moved on): the boot timeout counts from there too.
  assert.deepEqual(judgeChild({ ...unbeaten, lastBeatAt: NOW + 5000 }, NOW + BOOT_TIMEOUT_FLOOR_MS + 1, TIMEOUT), { kind: 'none' });
  // Once it beat, a silence is its loop blocked (at the app's import, in createApp): CORRAL_TIMEOUT.
  const beat = { ...unbeaten, beaten: true, lastBeatAt: NOW + 500 };
  assert.deepEqual(judgeChild(beat, NOW + 500 + TIMEOUT + 1, TIMEOUT, refused(false)), { kind: 'stuck', silentMs: TIMEOUT + 1 });
  // A ready or draining child has beaten (ready is a beat); one sent SIGTERM keeps its own rules.
  const killing = { ...unbeaten, state: 'killing' as const, sigkillAt: NOW + 60_000 };
  assert.equal(judgeChild(killing, NOW + 4000, TIMEOUT).kind, 'not-beating');
});

test('a booting, ready or draining child cannot drain once LATE_AFTER_BEATS beats are missed and it has not reported drained', () => {
  const late = { state: 'ready' as ChildRecord['state'], drainedReported: false, beatIntervalMs: 1000, lastBeatAt: NOW - LATE_AFTER_BEATS * 1000 };
  assert.equal(cannotDrain(late, NOW), false);
  assert.equal(cannotDrain(late, NOW + 1), true);
  assert.equal(cannotDrain({ ...late, state: 'draining' }, NOW + 1), true);
  assert.equal(cannotDrain({ ...late, drainedReported: true }, NOW + 1), false);
  // Booting, blocked at import or in createApp: it could not run its SIGTERM handler either.
  assert.equal(cannotDrain({ ...late, state: 'booting' }, NOW + 1), true);
  // Killing (on its way out) is judged by judgeChild.
  assert.equal(cannotDrain({ ...late, state: 'killing' }, NOW + 1), false);
});
