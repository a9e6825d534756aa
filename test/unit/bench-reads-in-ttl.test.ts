// The upstream goal of `npm run bench -- compare` (≤ 1 call per TTL window per range), judged per
// window from the emulator's log of read calls, not as an average over the run.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mostReadsInTtl } from '../../bench/lib/emulator-proc.js';

const TTL = 30_000;

test('one read of a range per TTL, however many ranges: 1', () => {
  const reads = [0, 30_000, 61_000].flatMap((at) => [{ at, ranges: ['Players'] }, { at: at + 5, ranges: ['Events!1:1'] }]);
  assert.equal(mostReadsInTtl(reads, TTL), 1);
});

test('two reads of one range within a TTL count, though the run\'s average is under one per window', () => {
  // 4 reads in 150 s (6 windows): 0.67 per window on average, but two 10 s apart.
  const reads = [0, 40_000, 50_000, 140_000].map((at) => ({ at, ranges: ['Players'] }));
  assert.equal(mostReadsInTtl(reads, TTL), 2);
});

test('a batchGet counts for each range it names; no reads: 0', () => {
  assert.equal(mostReadsInTtl([{ at: 0, ranges: ['Players'] }, { at: 1000, ranges: ['Players', 'Events!1:1'] }], TTL), 2);
  assert.equal(mostReadsInTtl([], TTL), 0);
});
