// The benchmarks' CPU column divides a server's CPU by the answers it served (2xx). Divided by
// every answer, a server that refuses much of a load with fast 503s (gunicorn at 1000
// connections, its upstream quota spent) read cheaper per request than one that serves them all.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuUsPerOk } from '../../bench/lib/cpu.js';
import { wrkResult } from '../../bench/lib/load.js';

/** wrk 4.1's summary of a 10 s load: `requests` answers, `non2xx` of them errors (503s). */
const wrkOutput = (requests: number, non2xx: number) =>
  `Running 10s test @ http://127.0.0.1:40000/api/players
  2 threads and 1000 connections
  Latency Distribution
     50%  200.00ms
     75%  300.00ms
     90%  500.00ms
     99%    1.50s
  ${requests} requests in 10.00s, 120.00MB read
${non2xx > 0 ? `  Non-2xx or 3xx responses: ${non2xx}\n` : ''}Requests/sec:  ${(requests / 10).toFixed(2)}
Transfer/sec:     12.00MB
`;

test('a load counts its 2xx answers apart from every answer', () => {
  const r = wrkResult(wrkOutput(100_000, 40_000), 1000, 10, true);
  assert.equal(r.requests, 100_000);
  assert.equal(r.okAnswers, 60_000);
  assert.equal(r.errors, 40_000);
});

test('CPU per answer is the CPU over the 2xx answers, not over every answer', () => {
  const r = wrkResult(wrkOutput(100_000, 40_000), 1000, 10, true);
  // 3 s of CPU for 60 000 served answers: 50 µs each (over all 100 000 answers it read 30).
  assert.equal(cpuUsPerOk(3, r), 50);
});

test('a server that refuses part of a load with 503s does not read cheaper than one that serves it all', () => {
  const servesAll = wrkResult(wrkOutput(100_000, 0), 1000, 10, true);
  const refusesSome = wrkResult(wrkOutput(100_000, 40_000), 1000, 10, true);
  // The first spends 4 s serving 100 000; the second 3 s serving 60 000 and refusing 40 000.
  const all = cpuUsPerOk(4, servesAll);
  const some = cpuUsPerOk(3, refusesSome);
  assert.equal(all, 40);
  assert.ok(some > all, `refusing server ${some} µs per 2xx answer, serving one ${all}`);
});

test('a load with no 2xx answer has no CPU per answer', () => {
  assert.ok(Number.isNaN(cpuUsPerOk(2, wrkResult(wrkOutput(50_000, 50_000), 1000, 10, true))));
  // wrk got no answer at all (a hung server).
  assert.ok(Number.isNaN(cpuUsPerOk(2, wrkResult('  0 requests in 3.03s, 0.00B read\nRequests/sec:      0.00\n', 2, 3, true))));
});
