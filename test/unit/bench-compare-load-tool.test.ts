// The comparison benchmark's goals as the load tool lets them be judged (bench/compare.ts):
// autocannon in the bench's own process caps every server alike, so only the upstream count,
// which does not depend on the load, is judged then.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgedWithLoadTool, type Goal } from '../../bench/compare.js';

const goals: Goal[] = [
  { what: 'GET /api/players: corral/bare ≥ 0.9 at 100 connections', figure: '0.97', met: true },
  { what: 'GET /api/players: corral p99 < 50 ms at 1000 connections', figure: '31 ms', met: true },
  { what: 'corral: ≤ 1 upstream call per TTL window per range', figure: 'at most 1 read of a range within one TTL', met: true },
];

test('with wrk every goal is judged as measured', () => {
  assert.deepEqual(judgedWithLoadTool(goals, 'wrk'), goals);
});

test('with autocannon the throughput and latency goals are not judged, their figures kept; the upstream goal still is', () => {
  const judged = judgedWithLoadTool(goals, 'autocannon');
  assert.deepEqual(judged.map((g) => g.met), [undefined, undefined, true]);
  assert.equal(judged[0]?.figure, 'not judged: the load came from autocannon in this process (wrk is not installed: apt-get install wrk), which caps what the servers are asked for; measured 0.97');
  assert.equal(judged[2], goals[2]);
});
