// Google's 429 holds the whole bucket the call drew from, not the one range: with the emulator's
// per-user read quota at 20 a minute and corral pacing at 60, the reads after the first 429 wait
// for a slot of the rolling minute instead of each drawing its own refusals.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '../../src/log/logger.js';
import { SheetsError } from '../../src/sheets/errors.js';
import { pacer } from '../../src/sheets/keeper/pacing.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { QuotaRefusals } from '../../src/sheets/keeper/quota-refusals.js';
import { UpstreamMeter } from '../../src/sheets/keeper/upstream-meter.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock, settle } from '../fixtures/fake-clock.js';
import { withHarness } from '../fixtures/sheets/harness.js';

function quota429(retryAfterMs?: number): SheetsError {
  return new SheetsError('CORRAL_ERR_SHEETS_QUOTA', "Google's Sheets quota is exhausted", { status: 429, reason: 'RESOURCE_EXHAUSTED', applied: 'no', retryable: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
}

/** The keeper's two buckets paced at 60 a minute, and its answer to Google's 429s. */
function buckets(clock: FakeClock, logger: Logger, alone?: () => boolean) {
  const reads = new QuotaBucket({ name: 'sheets reads', perMinute: 60, maxQueue: 100, clock });
  const writes = new QuotaBucket({ name: 'sheets writes', perMinute: 60, maxQueue: 16, clock });
  const refusals = new QuotaRefusals({ read: reads, write: writes }, logger, clock, () => 0, ...(alone ? [alone] : []));
  return { reads, writes, refusals };
}

describe("Google's 429 holds the whole bucket", () => {
  it('a real quota of 20 reads a minute under a setting of 60: after the first 429 the reads wait for the minute, and all are answered', async () => {
    const clock = new FakeClock(Date.now());
    const log = await captureLogger();
    try {
      await withHarness(
        async (h) => {
          const { reads, writes, refusals } = buckets(clock, log.logger);
          const b = h.backend({
            now: () => clock.now(),
            beforeAttempt: pacer(reads, writes, new UpstreamMeter(clock)),
            afterAttempt: (info, err) => refusals.attempted(info.kind, err),
          });
          // 48 reads of distinct ranges, 10 at a time (the audit's 20 VUs on many ranges).
          let next = 0;
          const outcomes: string[] = [];
          const worker = async () => {
            while (next < 48) {
              const i = next++;
              outcomes.push(await b.getValues(`Players!A${i + 1}`).then(() => 'ok', (err: SheetsError) => err.code));
            }
          };
          const all = Promise.all(Array.from({ length: 10 }, worker));
          // Real time for the calls (the client's backoff is FAST_RETRY, tens of ms); the quota's
          // minute is the fake clock's. Without the hold, every read was done (or given up) by now.
          const seen = () => `${h.emulator.counters().calls['values.get']}/${outcomes.length}`;
          const quiet = async () => {
            const deadline = Date.now() + 20_000;
            let last = '';
            let still = 0;
            while (still < 6 && outcomes.length < 48 && Date.now() < deadline) {
              await new Promise((r) => setTimeout(r, 50));
              await settle();
              const now = seen();
              still = now === last && h.emulator.counters().ok['values.get'] >= 20 ? still + 1 : 0;
              last = now;
            }
          };
          await quiet();
          const early = h.emulator.counters();
          assert.equal(early.ok['values.get'], 20, 'the minute Google allows');
          assert.ok(early.quotaRejections <= 10, `${early.quotaRejections} reads refused within the minute: only those already in flight at the first 429`);
          assert.equal(reads.limit(), 20, 'held to what Google accepted in the last minute');
          assert.ok(outcomes.length < 48, 'the others wait for a slot');
          const said = log.lines().filter((l) => l.event === 'sheets.quota_refused');
          assert.equal(said.length, 1, `said once for ${early.quotaRejections} refusals (then once a minute with the count)`);
          assert.match(String(said[0]?.msg), /SHEETS_READS_PER_MINUTE=60.*set SHEETS_READS_PER_MINUTE at or below the per-user quota/);
          // The minute passes: the waiting reads go, at most 20 a minute.
          for (let m = 0; m < 5 && outcomes.length < 48; m++) {
            await clock.advance(61_000);
            await quiet();
          }
          await all;
          const c = h.emulator.counters();
          // Past the minute, the hold grows back one call per success: a probe past the real quota
          // costs a refusal or two, not a burst.
          assert.ok(c.quotaRejections <= 13, `${c.quotaRejections} refused in all`);
          assert.equal(outcomes.filter((o) => o === 'ok').length, 48 - outcomes.filter((o) => o !== 'ok').length);
          assert.ok(outcomes.filter((o) => o === 'ok').length >= 40, `${outcomes.join(',')}`);
          reads.close();
          writes.close();
        },
        { now: () => clock.now(), faults: { readsPerMinutePerUser: 20 } },
      );
    } finally {
      log.close();
    }
  });

  it('a Retry-After pauses the bucket that long; writes are another bucket; a minute after the 429 each success lifts the hold by one', async () => {
    const clock = new FakeClock();
    const log = await captureLogger();
    try {
      const { reads, writes, refusals } = buckets(clock, log.logger);
      for (let i = 0; i < 30; i++) {
        assert.ok(reads.tryAcquire());
        refusals.attempted('read', undefined);
      }
      assert.ok(reads.tryAcquire());
      refusals.attempted('read', quota429(45_000));
      assert.equal(reads.tryAcquire(), false, 'paused');
      assert.ok(writes.tryAcquire(), 'the write bucket is not held by a refused read');
      await clock.advance(44_000);
      assert.equal(reads.tryAcquire(), false, "not before Google's Retry-After");
      await clock.advance(17_000);
      assert.equal(reads.limit(), 30);
      assert.ok(reads.tryAcquire(), 'a slot of the rolling minute is free once the Retry-After passed');
      refusals.attempted('read', undefined);
      assert.equal(reads.limit(), 31, 'a minute after the 429: one more call per success, at most one a second');
      for (let i = 0; i < 28; i++) {
        await clock.advance(1000);
        assert.ok(reads.tryAcquire());
        refusals.attempted('read', undefined);
      }
      assert.equal(reads.limit(), 59);
      assert.equal(log.lines().filter((l) => l.event === 'sheets.quota_refusals_ended').length, 0);
      await clock.advance(1000);
      assert.ok(reads.tryAcquire());
      refusals.attempted('read', undefined);
      assert.equal(reads.limit(), 60);
      assert.equal(log.lines().filter((l) => l.event === 'sheets.quota_refusals_ended').length, 1);
      reads.close();
      writes.close();
    } finally {
      log.close();
    }
  });
  // Calls in flight on several connections: Google accepted the 20th read before it refused the
  // 21st, but the refusal's answer came first. The ceiling was the 19 heard by then, and stayed
  // there (seen once in CI as 19 !== 20 in the test above).
  it('a call Google accepted before its 429 but answered after it counts in the ceiling: what the last minute let through', async () => {
    const clock = new FakeClock();
    const log = await captureLogger();
    try {
      const { reads, writes, refusals } = buckets(clock, log.logger);
      for (let i = 0; i < 21; i++) assert.ok(reads.tryAcquire());
      for (let i = 0; i < 19; i++) refusals.attempted('read', undefined);
      refusals.attempted('read', quota429());
      assert.equal(reads.limit(), 19, 'the successes heard at the 429');
      refusals.attempted('read', undefined);
      assert.equal(reads.limit(), 20, 'the one answered after it counts too');
      assert.equal(reads.grantsInWindow(), 21);
      // Within the minute after the 429, a success raises it only to what the minute let through.
      await clock.advance(1000);
      assert.equal(reads.tryAcquire(), false, 'paused by the backoff, and the window holds 21 grants');
      // Once the pause is over, an answer may be of a call granted after the 429: answers are
      // counted when they come, and one answered late beside one answered fast put more in a
      // minute of answers than Google's minute held. The ceiling stays what the pause counted.
      await clock.advance(1000);
      refusals.attempted('read', undefined);
      assert.equal(reads.limit(), 20, 'an answer after the pause raises no ceiling within the minute');
      await clock.advance(60_000);
      assert.ok(reads.tryAcquire());
      refusals.attempted('read', undefined);
      assert.equal(reads.limit(), 21, 'a minute after the 429: one more per success, as before');
      reads.close();
      writes.close();
    } finally {
      log.close();
    }
  });

  it("a 429 while this host spent its share alone (Redis away) is the other hosts' calls: a pause, no hold to what this host got through, and no advice to lower the setting", async () => {
    const clock = new FakeClock();
    const log = await captureLogger();
    try {
      let alone = true;
      const { reads, writes, refusals } = buckets(clock, log.logger, () => alone);
      for (let i = 0; i < 7; i++) {
        assert.ok(reads.tryAcquire());
        refusals.attempted('read', undefined);
      }
      assert.ok(reads.tryAcquire());
      refusals.attempted('read', quota429());
      assert.equal(reads.limit(), 60, 'not held to the 7 this host got through alone');
      assert.equal(reads.tryAcquire(), false, "paused for Google's backoff");
      await clock.advance(2000);
      assert.ok(reads.tryAcquire(), 'the backoff over, the share goes on');
      const said = log.lines().filter((l) => l.event === 'sheets.quota_refused');
      assert.equal(said.length, 1);
      assert.equal(said[0]?.alone, true);
      assert.equal(said[0]?.heldTo, null);
      assert.doesNotMatch(String(said[0]?.msg), /at or below/);
      assert.match(String(said[0]?.msg), /while this host spent its share alone/);
      // Sharing again: a 429 now says the quota is lower than the setting, as before.
      alone = false;
      refusals.attempted('read', undefined);
      assert.ok(reads.tryAcquire());
      refusals.attempted('read', quota429());
      assert.equal(reads.limit(), 8, 'held to what Google accepted in the last minute');
      const shared = log.lines().filter((l) => l.event === 'sheets.quota_refused').at(-1);
      assert.equal(shared?.alone, undefined);
      assert.match(String(shared?.msg), /set SHEETS_READS_PER_MINUTE at or below/);
      reads.close();
      writes.close();
    } finally {
      log.close();
    }
  });
});
