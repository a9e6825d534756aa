// Workers recycled for memory one after another soon after their ready: said once per limit value
// as the limit's fault (worker.memory_limit_churn), not left to one memory_limit warning each.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IN_A_ROW, MemoryLimitChurnWatch, SOON_AFTER_READY_MS } from '../../src/master/memory-limit-churn.js';

test('three recycles in a row, each within a minute of the ready, are said once, with a limit 1.5 times the RSS', () => {
  const watch = new MemoryLimitChurnWatch();
  assert.equal(IN_A_ROW, 3);
  assert.equal(watch.overLimit(256, 300, 20_000), undefined);
  assert.equal(watch.overLimit(256, 310, 15_000), undefined);
  assert.deepEqual(watch.overLimit(256, 320, 12_000), { limitMb: 256, rssMb: 320, afterReadyMs: 12_000, inARow: 3, suggestedMb: 512 });
  // Once per limit value: the churn goes on, and its next recycles are the warnings alone.
  assert.equal(watch.overLimit(256, 320, 12_000), undefined);
  // A reload that raised it, not enough: said again for the new value, once three workers in a row
  // went over that one.
  assert.equal(watch.overLimit(384, 400, 30_000), undefined);
  assert.equal(watch.overLimit(384, 410, 25_000), undefined);
  assert.deepEqual(watch.overLimit(384, 420, 20_000), { limitMb: 384, rssMb: 420, afterReadyMs: 20_000, inARow: 3, suggestedMb: 640 });
});

test('recycles under another limit do not count towards the run of the limit a reload set: one worker over the raised limit is no churn', () => {
  // Two workers over 256 at 300 MiB, then a reload to 384 (the value the churn line asked for)
  // and one worker over it: "3 workers in a row went over it" was said of 384, which the first
  // two, at 300 MiB, never reached, and sent the operator raising it again.
  const watch = new MemoryLimitChurnWatch();
  assert.equal(watch.overLimit(256, 300, 20_000), undefined);
  assert.equal(watch.overLimit(256, 300, 20_000), undefined);
  assert.equal(watch.overLimit(384, 400, 20_000), undefined);
  assert.equal(watch.overLimit(384, 400, 20_000), undefined);
  assert.equal(watch.overLimit(384, 400, 20_000)?.inARow, 3);
});

test('a worker that served a while before going over (growth, a leak: what the recycle is for) breaks the run', () => {
  const watch = new MemoryLimitChurnWatch();
  assert.equal(watch.overLimit(256, 300, 20_000), undefined);
  assert.equal(watch.overLimit(256, 300, 20_000), undefined);
  assert.equal(watch.overLimit(256, 300, SOON_AFTER_READY_MS + 1), undefined);
  assert.equal(watch.overLimit(256, 300, 20_000), undefined);
  assert.equal(watch.overLimit(256, 300, 20_000), undefined);
  assert.equal(watch.overLimit(256, 300, 20_000)?.inARow, 3);
});
