// A failing range that a read asks for during its backoff, after its background retries gave up
// (or a range Google refused as such, which is never retried unasked): the read counts it as
// failing again, so it must be retried again too, or not counted. Otherwise sheets.ranges_failing
// (and `corral status`: "failing for 1 range") stays over 0 for good, with Google answering.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { UNASKED_RETRIES } from '../../src/sheets/keeper/range-failures.js';
import { ReadTier } from '../../src/sheets/keeper/read-tier.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';

const TTL = 30_000;
const MAX_STALE = 600_000;

describe('a failing range read again during its backoff', () => {
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let tier: ReadTier;
  const failing = () => tier.figures().rangesFailing;

  beforeEach(async () => {
    clock = new FakeClock();
    backend = new FakeBackend({ Events: [['event_id', 'at']] });
    log = await captureLogger();
    tier = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 1 << 20, clock });
  });
  afterEach(() => {
    tier.close();
    log.close();
  });

  /** Advances in small steps until the range's background retries gave up on it. */
  async function untilGivenUp(range: string, calls: number): Promise<void> {
    for (let i = 0; i < 10_000 && !(backend.count('get', range) === calls && failing() === 0); i++) await clock.advance(50);
    assert.equal(backend.count('get', range), calls);
    assert.equal(failing(), 0, 'given up on');
  }

  it('a bad range (400) read twice in a row is not counted as failing for good', async () => {
    await assert.rejects(tier.get('Evnets!1:1'), { code: 'CORRAL_ERR_SHEETS_BAD_RANGE' });
    // The user's second click, within the range's backoff: the same error at once, no call.
    await assert.rejects(tier.get('Evnets!1:1'), { code: 'CORRAL_ERR_SHEETS_BAD_RANGE' });
    assert.equal(backend.count('get', 'Evnets!1:1'), 1);
    await clock.advance(100 * TTL);
    assert.equal(failing(), 0, 'a typo nobody reads again is no failing range');
  });

  it('a range with a stale copy, given up on, then read in its backoff, is retried and recovers', async () => {
    await tier.get('Events!1:1');
    await clock.advance(TTL + 1);
    backend.failReads = true;
    const stale = await tier.get('Events!1:1');
    assert.equal(stale.via, 'stale');
    await untilGivenUp('Events!1:1', 2 + UNASKED_RETRIES);
    // A read now, within the backoff of the last retry: served its copy at once.
    assert.equal((await tier.get('Events!1:1')).via, 'stale');
    assert.equal(failing(), 1, 'asked for: failing again');
    backend.failReads = false;
    await clock.advance(10 * TTL);
    assert.equal(failing(), 0, 'Google answers: the range must recover (retried) or not be counted');
  });
});
