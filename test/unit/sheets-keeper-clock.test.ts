import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../../src/sheets/keeper/clock.js';

test("the keeper's clock reads as wall-clock milliseconds but does not follow a step of the system clock", (t) => {
  const before = systemClock.now();
  assert.ok(Math.abs(before - Date.now()) < 1000, 'close to the wall clock, so the quota ledger reads right in the next keeper');
  // The system clock stepped back an hour (NTP, `date -s`): with Date.now() the quota window would
  // hold every token for an hour more.
  t.mock.method(Date, 'now', () => before - 3_600_000);
  const after = systemClock.now();
  assert.ok(after >= before && after - before < 1000, `${after - before} ms later`);
});
