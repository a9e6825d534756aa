// The window in which a worker waits for a keeper the master restarts (keeper-restart-window.ts).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KeeperRestartWindow } from '../../src/sheets/keeper-restart-window.js';

it('a restart window is not lengthened by a step back of the system clock', () => {
  const realNow = Date.now;
  let step = 0;
  // The wall clock as the process sees it, which NTP or `date -s` may step.
  Date.now = () => realNow() + step;
  try {
    const w = new KeeperRestartWindow();
    w.open(12_000);
    step = -3_600_000;
    assert.ok(w.remainingMs() <= 12_000, `waits ${w.remainingMs()} ms for the new keeper`);
  } finally {
    Date.now = realNow;
  }
});
