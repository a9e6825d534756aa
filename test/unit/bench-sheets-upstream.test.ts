// `npm run bench -- sheets` judges "≤ 1 upstream call per TTL window per range" as `compare` does
// and as the README says of both: per window, from the emulator's log of reads. It used to take
// the larger of two averages (over the run, over each load), which a range read twice within a
// TTL can pass.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ttlWindows } from '../../bench/lib/sheets-app.js';
import { upstreamGoal } from '../../bench/sheets.js';

test('two reads 20 s apart, one in each of two 10 s loads: missed, though every average is 1', () => {
  // The section's three 10 s loads, back to back: a read at 5 s (first load) and at 25 s (third).
  const reads = [5_000, 25_000].map((at) => ({ at, ranges: ['Players'] }));
  const perLoad = [1, 0, 1].map((calls) => calls / ttlWindows(10, 30));
  const perRun = reads.length / ttlWindows(30.5, 30);
  assert.equal(Math.max(perRun, ...perLoad), 1, 'the averages the section judged on say met');
  assert.deepEqual(upstreamGoal(reads, 30), { met: false, mostInTtl: 2 });
});

test('one read per TTL: met; none: met', () => {
  assert.deepEqual(upstreamGoal([0, 31_000, 62_000].map((at) => ({ at, ranges: ['Players'] })), 30), { met: true, mostInTtl: 1 });
  assert.deepEqual(upstreamGoal([], 30), { met: true, mostInTtl: 0 });
});
