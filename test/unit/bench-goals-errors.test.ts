// The p99 goal of `npm run bench -- compare` is judged on the answers wrk got. A server that
// answers 503 fast, resets its connections or leaves requests unanswered has a short p99 (wrk
// prints 0.00us for a load with no answer at all, and counts no timeout for a hung request): such
// a row must not read "met".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goalsFor, type Measured, type Row } from '../../bench/compare.js';
import { wrkResult } from '../../bench/lib/load.js';

const m = (o: Partial<Measured>): Measured => ({ tool: 'wrk', connections: 1000, keepAlive: true, seconds: 10, requests: 100_000, okAnswers: 100_000, rps: 10_000, answeredRps: 10_000, p50Ms: 5, p99Ms: 20, errors: 0, cpuUsPerOk: 20, ...o });
const row = (connections: number, corral: Measured): Row => ({ workers: 8, route: 'GET /api/players', connections, keepAlive: true, bare: m({ connections }), corral, upstream: { corral: 0 } });
const p99Goal = (rows: Row[]) => goalsFor(rows, {}, false).find((g) => g.what === 'GET /api/players: corral p99 < 50 ms at 1000 connections');

test('a short p99 with no errors meets the goal', () => {
  assert.equal(p99Goal([row(1000, m({}))])?.met, true);
});

test('a short p99 over a row of errors (fast 503s) does not meet it, and says why', () => {
  const g = p99Goal([row(1000, m({ errors: 5000, rps: 0, p99Ms: 9 }))]);
  assert.equal(g?.met, false);
  assert.match(g?.figure ?? '', /not met with 5000 errors in the row/);
});

const hung = `Running 3s test @ http://127.0.0.1:37831/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  0 requests in 3.03s, 0.00B read
Requests/sec:      0.00
Transfer/sec:       0.00B
`;

test('a load wrk got no answer to (a hung server: wrk 4.1 prints this) has no latency, and its p99 goal is not met', () => {
  const r = wrkResult(hung, 2, 3, true);
  assert.equal(r.requests, 0);
  assert.ok(Number.isNaN(r.p99Ms) && Number.isNaN(r.p50Ms), `p99 ${r.p99Ms}`);
  // Each connection's request went unanswered, though wrk counted no error.
  assert.equal(r.errors, 2);
  assert.equal(p99Goal([row(1000, { ...r, cpuUsPerOk: NaN })])?.met, false);
  // One hung round of five, the others fast: the median p99 would be short; the row's errors say no.
  const rounds = [20, NaN, 22, 21, 19];
  const hungRound: Row = { ...row(1000, m({})), roundsP99: { corral: rounds, bare: rounds }, roundsErrors: { corral: [0, r.errors, 0, 0, 0], bare: [0, 0, 0, 0, 0] } };
  assert.equal(p99Goal([hungRound])?.met, false);
});

test('wrk\'s percentiles in their units', () => {
  const r = wrkResult('  Latency Distribution\n     50%  719.00us\n     75%    1.00ms\n     90%    1.50ms\n     99%    1.03s\n  871210 requests in 10.00s, 10.5GB read\nRequests/sec:  87121.00\n', 100, 10, true);
  assert.equal(r.p50Ms, 0.719);
  assert.equal(r.p99Ms, 1030);
  assert.equal(r.errors, 0);
});
