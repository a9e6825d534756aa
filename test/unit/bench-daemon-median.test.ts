// `npm run bench -- daemon` shows each server's median round, as the README says of BENCH_ROUNDS:
// with an even count, the lower of the two middle rounds (a round that was measured), as every
// other section takes it, not their average.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rowMedian, type Measured, type Row } from '../../bench/daemon.js';
import { median } from '../../bench/lib/report.js';

function round(rps: number, p99Ms: number): Measured {
  return { tool: 'wrk', connections: 100, keepAlive: true, seconds: 5, requests: rps * 5, okAnswers: rps * 5, rps, answeredRps: rps, p50Ms: 1, p99Ms, errors: 0, cpuUsPerOk: 1e6 / rps };
}

test('with an even BENCH_ROUNDS a daemon row shows the lower middle round, not the average of the two', () => {
  const row: Row = {
    workers: 2,
    connections: 100,
    runs: { bare: [round(30_000, 9), round(20_000, 5)], corral: [round(18_000, 4), round(27_000, 8)], 'corral+log': [round(15_000, 6)] },
  };
  assert.equal(rowMedian(row, 'bare', (x) => x.rps), 20_000);
  assert.equal(rowMedian(row, 'corral', (x) => x.rps), 18_000);
  assert.equal(rowMedian(row, 'bare', (x) => x.p99Ms), 5);
  assert.equal(rowMedian(row, 'corral+log', (x) => x.rps), 15_000, 'one round: that round');
});

test('with an odd BENCH_ROUNDS the middle round', () => {
  const row: Row = { workers: 8, connections: 1000, runs: { bare: [round(3, 1), round(1, 1), round(2, 1)], corral: [], 'corral+log': [] } };
  assert.equal(rowMedian(row, 'bare', (x) => x.rps), 2);
  assert.ok(Number.isNaN(rowMedian(row, 'corral', (x) => x.rps)), 'no round: NaN, as the table prints it');
});

test('a round with no figure (NaN: a server answered no 2xx) makes the median none, not whichever value the sort left in the middle', () => {
  assert.ok(Number.isNaN(median([5, Number.NaN, 1, 4, 3])));
  assert.equal(median([5, 2, 1, 4, 3]), 3);
});
