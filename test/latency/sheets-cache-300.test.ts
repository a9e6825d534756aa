// One upstream call per range per TTL for the whole host, and nobody waits: 8 workers, 300
// keep-alive clients, an emulator answering in 800 ms. This file runs alone (the serial phase of
// test/run.mjs): its latency bound would otherwise measure whatever other test shares the cores.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { mostReadsInTtl } from '../../bench/lib/emulator-proc.js';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { waitFor } from '../helpers/corral.js';
import { keeperFigures, load, pct, startWithEmulator, type ReadAnswer } from '../helpers/sheets-load.js';

describe('host-wide Sheets cache under 300 clients', () => {
  it('8 workers, 300 clients, 800 ms upstream: one upstream call per range per TTL, nobody waits for Google', async () => {
    const TTL_S = 5;
    const DURATION_MS = 20_000;
    // The first seconds of load open 300 connections (each accepted by the master and handed to
    // a worker) and get the workers' hot paths compiled: TCP, cluster and JIT, not the Sheets
    // layer. Latencies count from then on; upstream calls count from the start.
    const WARMUP_MS = 2_000;
    // Under the upstream latency: a request that waited for Google takes 800 ms or more, one that
    // did not is far below, unless the cores are shared. A tighter bound measures the machine
    // instead: 100 ms failed once (max 139 ms) while a build ran on the same two cores, and 400 ms
    // once (26 of 32,707 requests, max 489 ms, none waited upstream) while four other test runs did.
    const BOUND_MS = 700;
    const emu = await startEmulator({ faults: { latencyMs: 800 } });
    const c = await startWithEmulator(emu, 8, { SHEET_CACHE_TTL: String(TTL_S) });
    try {
      // First fill: this request waits for the emulator (800 ms), every later one must not.
      const first = await waitFor(async () => {
        const r = await request(`${c.url}/read?range=Players`);
        const text = await r.body.text();
        return r.statusCode === 200 ? (JSON.parse(text) as ReadAnswer) : undefined;
      }, 30_000, 'the first fill');
      assert.equal(first.values[0]?.[0], 'name');
      const callsBefore = emu.counters().calls['values.get'];
      const before = await keeperFigures(c);
      const t0 = Date.now();
      const r = await load(c.url, '/read?range=Players', 300, WARMUP_MS + DURATION_MS, 100, WARMUP_MS);
      const elapsedS = (Date.now() - t0) / 1000;
      const calls = emu.counters().calls['values.get'] - callsBefore;
      // Per window, as the bench judges its goal: the total alone let two calls in one TTL pass
      // whenever another window had none. Each refresh starts a TTL after the answer of the one
      // before (800 ms later still), so no two reads of a range fall within a TTL of each other.
      const mostInTtl = mostReadsInTtl(emu.reads(t0), TTL_S * 1000);
      const after = await keeperFigures(c);
      const waited = (after.cacheMisses ?? 0) - (before.cacheMisses ?? 0);
      const sorted = [...r.latenciesMs].sort((a, b) => a - b);
      const p50 = pct(sorted, 50);
      const p99 = pct(sorted, 99);
      const max = sorted.at(-1) ?? 0;
      const slow = sorted.filter((ms) => ms > BOUND_MS).length;
      const allowed = Math.floor(elapsedS / TTL_S) + 1;
      console.log(
        `cache: ${r.requests} requests in ${elapsedS.toFixed(1)} s from 300 clients over ${r.workers.size} workers; ` +
          `upstream values.get calls: ${calls} (TTL ${TTL_S} s, at most ${allowed} allowed; first fill excluded; most reads of one range within a TTL: ${mostInTtl}); ` +
          `latency of ${sorted.length} requests after ${WARMUP_MS / 1000} s of warm-up: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms, over ${BOUND_MS} ms: ${slow}; stale answers: ${r.staleAnswers}; ` +
          `keeper: ${(after.cacheHits ?? 0) - (before.cacheHits ?? 0)} answers from its cache, ${waited} that waited for upstream`,
      );
      assert.deepEqual(r.errors.slice(0, 5), [], `${r.errors.length} errors`);
      assert.ok(r.requests > 300 * 10, `clients kept reading (${r.requests} requests)`);
      assert.ok(calls >= 1, 'the value was refreshed at least once over 22 s');
      assert.ok(calls <= allowed, `${calls} upstream calls in ${elapsedS.toFixed(1)} s with a ${TTL_S} s TTL`);
      assert.equal(mostInTtl, 1, `${mostInTtl} reads of one range within ${TTL_S} s of each other: ${JSON.stringify(emu.reads(t0).map((r) => [r.at - t0, r.ranges]))}`);
      // After the first fill no request waited for the emulator: every keeper answer came from its
      // cache (fresh or stale-while-revalidate), and no client waited anywhere near Google's 800 ms.
      assert.equal(waited, 0, `${waited} requests waited for upstream after the first fill`);
      assert.ok(sorted.length > 300 * 10, `latencies measured (${sorted.length})`);
      assert.equal(slow, 0, `${slow} requests slower than ${BOUND_MS} ms (max ${max.toFixed(1)} ms)`);
      assert.ok((after.cacheHits ?? 0) > (before.cacheHits ?? 0), 'the workers asked the keeper when their L1 copy expired');
    } finally {
      await c.stop();
      await emu.close();
    }
  });
});
