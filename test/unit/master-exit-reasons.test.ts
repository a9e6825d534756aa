// The reason label of corral_child_exits_total: a fixed set, whatever free text the drain's reason carries.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXIT_REASONS, ExitTally, exitReasonOf } from '../../src/master/exit-reasons.js';

const child = (role: 'worker' | 'keeper', stopReason: string | undefined, ready = true, crashCounted = false) => ({ role, stopReason, readyAt: ready ? 1 : undefined, crashCounted });

test('exits asked for are named after what asked; others after what happened', () => {
  const cases: [ReturnType<typeof child>, string][] = [
    [child('worker', 'reload to generation 3'), 'reload'],
    [child('worker', 'superseded'), 'reload'],
    [child('keeper', 'reload: keeper settings changed'), 'reload'],
    [child('keeper', 'reload failed', false), 'reload'],
    [child('worker', 'shutdown'), 'shutdown'],
    [child('worker', 'quit'), 'shutdown'],
    [child('worker', 'stop'), 'shutdown'],
    [child('worker', 'max-requests'), 'max_requests'],
    [child('worker', 'memory'), 'memory'],
    [child('worker', 'scale-down'), 'scale_down'],
    [child('worker', 'uncaught'), 'uncaught'],
    [child('worker', undefined, true, true), 'uncaught'],
    [child('worker', 'timeout'), 'timeout'],
    [child('keeper', 'timeout'), 'timeout'],
    [child('worker', undefined, false), 'boot_failed'],
    [child('keeper', undefined, false), 'boot_failed'],
    [child('worker', undefined), 'died'],
    [child('keeper', undefined), 'died'],
    [child('worker', 'something new'), 'other'],
  ];
  for (const [c, want] of cases) assert.equal(exitReasonOf(c), want, JSON.stringify(c));
  for (const [c] of cases) assert.ok((EXIT_REASONS as readonly string[]).includes(exitReasonOf(c)));
});

test('the tally counts per role and hands out copies', () => {
  const tally = new ExitTally();
  tally.count(child('worker', undefined));
  tally.count(child('worker', undefined));
  tally.count(child('keeper', 'timeout'));
  const snap = tally.snapshot();
  assert.deepEqual(snap, { worker: { died: 2 }, keeper: { timeout: 1 } });
  snap.worker.died = 99;
  assert.deepEqual(tally.snapshot().worker, { died: 2 });
});
