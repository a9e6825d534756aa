// The host-wide cache with the real master, keeper and workers in front of the emulator: stale
// data served while "Google" fails, and a prompt 503 once the copy is past max-stale. (The 300-client test runs alone: test/latency/.)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { waitFor } from '../helpers/corral.js';
import { delay, http } from '../helpers/http.js';
import { keeperFigures, load, startWithEmulator, type ReadAnswer } from '../helpers/sheets-load.js';

describe('host-wide Sheets cache with the real master', () => {
  it('Google failing for 30 s: reads keep answering from stale data, no client error, one warning', async () => {
    const emu = await startEmulator({ faults: { latencyMs: 50 } });
    const c = await startWithEmulator(emu, 2, { SHEET_CACHE_TTL: '2', SHEET_CACHE_MAX_STALE: '600', SHEETS_TIMEOUT: '2' });
    try {
      await waitFor(async () => (await request(`${c.url}/read?range=Players`)).statusCode === 200, 30_000, 'the first fill');
      emu.setFaults({ errorRate: 1, errorStatus: 503 });
      const failedAt = Date.now();
      const r = await load(c.url, '/read?range=Players', 20, 30_000, 100);
      const failingCalls = emu.counters().injectedErrors;
      console.log(
        `stale-if-error: ${r.requests} reads during a 30 s outage, errors ${r.errors.length}, stale answers ${r.staleAnswers}, ` +
          `max staleness ${r.maxStaleSeconds} s, upstream attempts refused ${failingCalls}`,
      );
      assert.deepEqual(r.errors, []);
      assert.ok(r.staleAnswers > 0, 'stale answers were served');
      assert.ok(r.maxStaleSeconds >= 20, `staleness is visible to the app (${r.maxStaleSeconds} s)`);
      assert.ok(failingCalls > 0, 'the keeper did try upstream');
      const warnings = c.logs().filter((l) => l.role === 'keeper' && l.level === 'warn' && l.range === 'Players' && Date.parse(String(l.time)) >= failedAt - 1000);
      assert.equal(warnings.length, 1, `one warning for the outage, not one per request (${warnings.length})`);
      // Recovery: fresh data again, and the keeper says so.
      emu.setFaults({ errorRate: 0 });
      await waitFor(async () => {
        const res = await request(`${c.url}/read?range=Players`);
        const a = JSON.parse(await res.body.text()) as ReadAnswer;
        return !a.stale;
      }, 60_000, 'fresh data after recovery');
      await c.waitForLog((l) => l.role === 'keeper' && String(l.msg).includes('refreshed again'), 10_000, 'the recovery line');
    } finally {
      await c.stop();
      await emu.close();
    }
  });

  it('past SHEET_CACHE_MAX_STALE while Google fails or hangs, every read gets a prompt 503 sheets_unavailable, and a recovered Google is picked up', async () => {
    const emu = await startEmulator();
    // The bundled app (its /api/players answers 503 sheets_unavailable with Retry-After).
    const c = await startWithEmulator(emu, 2, { CORRAL_RATE_LIMIT: '0', SHEET_CACHE_TTL: '2', SHEET_CACHE_MAX_STALE: '3', SHEETS_TIMEOUT: '3' }, { bundledApp: true });
    const players = () => http(`${c.url}/api/players`, { timeoutMs: 120_000 });
    const recovered = () => waitFor(async () => (await players()).status === 200, 60_000, 'players served again once Google answers');
    /**
     * A read every 250 ms for `ms`, and on (up to 3 × `ms` in all) until `minFailed` have failed:
     * the failed ones, and the longest any read took. How many fail in a fixed time is how fast the
     * box answers: each read on a starved one takes longer, and fewer fit.
     */
    const readFor = async (ms: number, minFailed: number) => {
      const failed: { status: number; error: unknown; retryAfter: unknown }[] = [];
      let slowestMs = 0;
      const start = Date.now();
      for (; Date.now() < start + ms || (failed.length < minFailed && Date.now() < start + 3 * ms); await delay(250)) {
        const t0 = Date.now();
        const r = await players();
        slowestMs = Math.max(slowestMs, Date.now() - t0);
        if (r.status !== 200) failed.push({ status: r.status, error: r.json().error, retryAfter: r.headers['retry-after'] });
      }
      return { failed, slowestMs };
    };
    try {
      await recovered();
      // Failing: the copy is past max-stale 5 s after its fetch, while the refresh begun at its
      // expiry goes through Google's 5 attempts and backoff (about 15 s). Before, a read that
      // joined that refresh waited all of it (14-32 s) and the next one failed at once.
      emu.setFaults({ errorRate: 1, errorStatus: 503 });
      const failing = await readFor(20_000, 20);
      console.log(`max-stale, Google failing: ${failing.failed.length} reads failed, slowest read ${failing.slowestMs} ms`);
      assert.ok(failing.failed.length >= 20, `reads failed once the copy was too stale (${failing.failed.length})`);
      // Retry-After: when the keeper tries the range again (its backoff, under the 2 s TTL), or 5 s
      // while a refresh is retrying and that is not known.
      for (const f of failing.failed) assert.deepEqual({ ...f, retryAfter: ['1', '2', '5'].includes(String(f.retryAfter)) }, { status: 503, error: 'sheets_unavailable', retryAfter: true }, String(f.retryAfter));
      // Waiting for them took 14-32 s; a prompt answer takes milliseconds, plus whatever stall a
      // loaded box adds (this file runs beside the browser tests), which 2.5 s left little room for.
      assert.ok(failing.slowestMs < 6000, `no read waited for Google's retries (slowest ${failing.slowestMs} ms)`);
      emu.setFaults({ errorRate: 0 });
      await recovered();
      // Hanging: each attempt is cut at SHEETS_TIMEOUT (3 s), one refresh takes about 30 s. A read
      // waits for one attempt at most.
      emu.setFaults({ hangRate: 1 });
      const hanging = await readFor(15_000, 10);
      console.log(`max-stale, Google hanging: ${hanging.failed.length} reads failed, slowest read ${hanging.slowestMs} ms`);
      assert.ok(hanging.failed.length >= 10, `reads failed once the copy was too stale (${hanging.failed.length})`);
      for (const f of hanging.failed) assert.deepEqual({ ...f, retryAfter: ['1', '2', '5'].includes(String(f.retryAfter)) }, { status: 503, error: 'sheets_unavailable', retryAfter: true }, String(f.retryAfter));
      assert.ok(hanging.slowestMs < 3000 + 2500, `no read waited longer than one attempt (slowest ${hanging.slowestMs} ms)`);
      emu.setFaults({ hangRate: 0 });
      await recovered();
    } finally {
      await c.stop();
      await emu.close();
    }
  });

  it('one upstream read per range however it is spelled: 40 clients on 2 workers reading Players, \'Players\', Players!a:e and \'Players\'!A:E make 2 calls', async () => {
    const emu = await startEmulator({ faults: { latencyMs: 300 } });
    const c = await startWithEmulator(emu, 2, { SHEET_CACHE_TTL: '600' });
    try {
      const spellings = ['Players', "'Players'", 'Players!a:e', "'Players'!A:E", 'Players!A:E'];
      const before = emu.counters().calls['values.get'];
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => http(`${c.url}/read?range=${encodeURIComponent(spellings[i % spellings.length] ?? '')}`, { timeoutMs: 30_000 })),
      );
      assert.deepEqual(answers.map((a) => a.status), Array(40).fill(200));
      // Every answer says the range as the client asked for it, with the sheet's rows.
      answers.forEach((a, i) => {
        const read = a.json<{ range: string; values: string[][] }>();
        assert.equal(read.range, spellings[i % spellings.length]);
        assert.deepEqual(read.values[0], ['name', 'code', 'team', 'role', 'joined']);
      });
      // The tab, and its columns A to E: two ranges, one call each for all 40 clients.
      assert.equal(emu.counters().calls['values.get'] - before, 2);
      assert.equal((await keeperFigures(c)).rangesCached, 2);
    } finally {
      await c.stop();
      await emu.close();
    }
  });

  it("a worker's reads of a range it holds reach the keeper while its first fills of other ranges wait for a slow Google", async () => {
    const emu = await startEmulator();
    const c = await startWithEmulator(emu, 1, { SHEET_CACHE_TTL: '2', SHEET_CACHE_MAX_STALE: '600', SHEETS_TIMEOUT: '30' });
    try {
      await waitFor(async () => (await http(`${c.url}/read?range=Players`)).status === 200, 30_000, 'the first fill');
      // Google slow, and ten reads of ranges nobody read (an admin's exports) on the one worker.
      emu.setFaults({ latencyMs: 8000 });
      const missesBefore = (await keeperFigures(c)).cacheMisses ?? 0;
      const exports = Array.from({ length: 10 }, (_, i) =>
        http(`${c.url}/read?range=${encodeURIComponent(`Players!A1:B${i + 2}`)}`, { timeoutMs: 60_000 }).then(
          (r) => r.status,
          (err: Error) => err.message,
        ),
      );
      await waitFor(async () => ((await keeperFigures(c)).cacheMisses ?? 0) >= missesBefore + 8, 10_000, 'the first fills waiting at the keeper');
      // Reads of Players past its TTL: before, each waited for one of the 8 connections the first
      // fills held, and was served the worker's old copy after a second.
      const staleHitsBefore = (await keeperFigures(c)).cacheStaleHits ?? 0;
      for (const end = Date.now() + 4000; Date.now() < end; await delay(200)) assert.equal((await http(`${c.url}/read?range=Players`)).status, 200);
      const worker = (await http(`${c.url}/figures`)).json<Record<string, number>>();
      assert.equal(worker.l1StaleFallbacks, 0, "no read was served the worker's copy for want of a connection to the keeper");
      assert.ok(((await keeperFigures(c)).cacheStaleHits ?? 0) > staleHitsBefore, 'the reads reached the keeper, which answered from its cache');
      assert.deepEqual(c.events('sheets.keeper_read_fallback'), []);
      assert.deepEqual(await Promise.all(exports), Array(10).fill(200));
    } finally {
      await c.stop();
      await emu.close();
    }
  });
  it("a refresh of a range that did not change leaves every worker's copy as it was (l1UnchangedRefreshes), and a change made in the sheet shows after the TTL", async () => {
    const emu = await startEmulator();
    const c = await startWithEmulator(emu, 2, { SHEET_CACHE_TTL: '2', SHEET_CACHE_MAX_STALE: '600' });
    // Each request on a connection of its own, so that they reach both workers (a kept-alive
    // connection stays with the worker it was handed to).
    const once = async (path: string) => {
      const agent = new Agent();
      try {
        return await http(`${c.url}${path}`, { dispatcher: agent });
      } finally {
        await agent.close();
      }
    };
    const players = async () => (await once('/read?range=Players')).json<ReadAnswer>();
    try {
      await waitFor(async () => (await http(`${c.url}/read?range=Players`)).status === 200, 30_000, 'the first fill');
      const first = await players();
      const getsBefore = emu.counters().calls['values.get'];
      // Both workers read Players through several TTLs: each refresh finds the tab as it was.
      const unchanged = new Map<number, number>();
      await waitFor(
        async () => {
          await players();
          const f = (await once('/figures')).json<Record<string, number>>();
          unchanged.set(f.worker ?? 0, f.l1UnchangedRefreshes ?? 0);
          return unchanged.size === 2 && [...unchanged.values()].every((n) => n >= 2);
        },
        30_000,
        "both workers' copies kept across refreshes",
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify([...unchanged])}`);
      });
      const kf = await keeperFigures(c);
      assert.ok((kf.unchangedAnswers ?? 0) >= 4, `the keeper answered refreshes without rows (${kf.unchangedAnswers})`);
      assert.ok(emu.counters().calls['values.get'] - getsBefore >= 2, 'the keeper did fetch the range again from the sheet');
      const again = await players();
      assert.deepEqual(again.values, first.values);
      assert.ok(again.fetchedAt > first.fetchedAt, 'the times of the copy moved on');
      // A change made in the sheet: it shows once the copy held passes its TTL.
      const rows = emu.getSheet(emu.spreadsheetId, 'Players') ?? [];
      const added = ['Zed Newcomer', 'P999', 'Green', 'player', '2024-05-01'];
      emu.setSheet(emu.spreadsheetId, 'Players', [...rows, added]);
      const changedAt = Date.now();
      const showing = new Set<number>();
      await waitFor(
        async () => {
          const r = await players();
          if (r.values.some((row) => row[0] === added[0])) showing.add(r.worker);
          return showing.size === 2;
        },
        20_000,
        "the new row in both workers' copies",
      );
      const tookMs = Date.now() - changedAt;
      console.log(`unchanged refreshes: keeper answered ${kf.unchangedAnswers} without rows; a change in the sheet showed after ${tookMs} ms (TTL 2 s)`);
      assert.ok(tookMs < 8000, `the change showed within the TTL and a refresh (${tookMs} ms)`);
    } finally {
      await c.stop();
      await emu.close();
    }
  });
});
