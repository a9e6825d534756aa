// The host-wide cache with the real master, keeper and workers in front of the emulator: stale
// data served while "Google" fails. (The 300-client test runs alone: test/latency/.)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { waitFor } from '../helpers/corral.js';
import { load, startWithEmulator, type ReadAnswer } from '../helpers/sheets-load.js';

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
});
