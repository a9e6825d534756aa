// The HTML report's summary: how long the run ran, said as exactly as the plan it is set against.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ranSummary } from '../../src/loadtest/report-html.js';

const run = (stoppedAtMs: number, interrupted = false) => ({ stoppedAtMs, interrupted });
const schedule = (totalMs: number, plannedMs = totalMs) => ({ totalMs, plannedMs, truncated: plannedMs !== totalMs });

describe('report summary', () => {
  it('says how long the run ran as exactly as the plan ("2.5s of 2.5s", not "3s of 2.5s")', () => {
    assert.equal(ranSummary(run(2500.28), schedule(2500)), '2.5s of 2.5s planned');
    assert.equal(ranSummary(run(1437.6, true), schedule(2500)), '1.438s of 2.5s planned — interrupted');
    assert.equal(ranSummary(run(2000.4), schedule(2000, 3000)), '2s of 2s planned (cut from 3s by --duration)');
    assert.equal(ranSummary(run(90_000.2), schedule(90_000)), '1m30s of 1m30s planned');
  });
});
