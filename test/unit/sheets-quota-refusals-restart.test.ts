// What Google's 429s taught a keeper outlives it (a reload that restarts it, a crash): the quota
// ledger keeps the ceiling, the pause and the calls Google accepted beside the grants, and the next
// keeper adopts what still bears on Google's minute. Forgotten, a keeper held to 20 a minute was
// followed by one that spent its 39 tokens left in a minute Google had already spent, then was
// held to 1 call a minute by its first 429 (it counted no call Google had accepted).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Logger } from '../../src/log/logger.js';
import { SheetsError } from '../../src/sheets/errors.js';
import type { Clock } from '../../src/sheets/keeper/clock.js';
import { QuotaBucket, QUOTA_WINDOW_MS } from '../../src/sheets/keeper/quota.js';
import { QUOTA_LEDGER_FILE, QuotaLedger, readLedger } from '../../src/sheets/keeper/quota-ledger.js';
import { QuotaRefusals } from '../../src/sheets/keeper/quota-refusals.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock, SteppedClock } from '../fixtures/fake-clock.js';

function quota429(retryAfterMs?: number): SheetsError {
  return new SheetsError('CORRAL_ERR_SHEETS_QUOTA', "Google's Sheets quota is exhausted", { status: 429, reason: 'RESOURCE_EXHAUSTED', applied: 'no', retryable: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
}

/** A keeper's quota as it starts: its buckets at 60 a minute, the ledger in `dir`, and its answer to 429s with what its predecessor left. */
function startKeeper(dir: string, clock: Clock, logger: Logger) {
  const reads = new QuotaBucket({ name: 'sheets reads', perMinute: 60, maxQueue: 100, clock });
  const writes = new QuotaBucket({ name: 'sheets writes', perMinute: 60, maxQueue: 16, clock });
  const refusals = new QuotaRefusals({ read: reads, write: writes }, logger, clock, () => 0);
  const ledger = QuotaLedger.open(dir, { reads, writes }, logger, clock);
  refusals.adopt(ledger.learnedLeft(), ledger.learnedRecorder());
  return { reads, writes, refusals, ledger };
}

type Keeper = ReturnType<typeof startKeeper>;

/** `n` reads Google accepts, a second apart. */
async function accepted(k: Keeper, clock: FakeClock, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    assert.ok(k.reads.tryAcquire(), `read ${i}`);
    k.refusals.attempted('read', undefined);
    await clock.advance(1000);
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-quota-learned-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("what Google's 429s taught outlives the keeper", () => {
  it('a keeper restarted within a minute of a 429 is held to the same ceiling and waits out the same pause; when the hold climbs back to the setting, that is said', async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const t0 = clock.now();
        const first = startKeeper(dir, clock, log.logger);
        // Google's real quota is 20 a minute: the 21st read is refused, with a Retry-After of 50 s.
        await accepted(first, clock, 20);
        assert.ok(first.reads.tryAcquire());
        first.refusals.attempted('read', quota429(50_000));
        assert.equal(first.reads.limit(), 20);
        // The keeper is restarted 5 s later (a crash: nothing is closed).
        await clock.advance(5000);
        const second = startKeeper(dir, clock, log.logger);
        assert.equal(second.reads.limit(), 20, 'held to what Google accepted, not the setting of 60');
        assert.equal(second.writes.limit(), 60, 'the writes were never refused');
        // Its 21 grants of the window alone would free a slot 38 s from now (the second, at the end
        // of its second, 61 s after): the pause is later.
        assert.equal(second.reads.msUntilFree(), t0 + 20_000 + 50_000 - clock.now(), "Google's Retry-After still holds");
        const said = log.lines().filter((l) => l.event === 'sheets.quota_hold_restored');
        assert.equal(said.length, 1);
        assert.equal(said[0]?.kind, 'read');
        assert.equal(said[0]?.heldTo, 20);
        assert.equal(said[0]?.accepted, 20);
        assert.equal(said[0]?.pauseMs, 45_000);
        // The pause over, the reads go at 20 a minute; a minute after the predecessor's 429 (not
        // after the restart), a success a second lifts the hold by one, back to the setting.
        await clock.advance(45_000);
        for (let i = 0; i < 11; i++) {
          assert.ok(second.reads.tryAcquire());
          second.refusals.attempted('read', undefined);
          await clock.advance(1000);
        }
        assert.equal(second.reads.limit(), 20, 'not lifted within the minute after the 429');
        for (let i = 0; second.reads.limit() < 60 && i < 60; i++) {
          assert.ok(second.reads.tryAcquire());
          second.refusals.attempted('read', undefined);
          await clock.advance(1000);
        }
        assert.equal(second.reads.limit(), 60);
        const ended = log.lines().filter((l) => l.event === 'sheets.quota_refusals_ended');
        assert.equal(ended.length, 1, 'the end of the hold it took over is said');
        assert.equal(ended[0]?.refusals, 0);
        assert.match(String(ended[0]?.msg), /the hold the previous keeper left is over/);
      } finally {
        log.close();
      }
    });
  });

  it("a restarted keeper's first 429 holds it to the calls Google accepted from its predecessor in the window, not to 1 call a minute", async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const first = startKeeper(dir, clock, log.logger);
        // 20 reads accepted, no 429: the predecessor spent Google's minute without knowing it.
        await accepted(first, clock, 20);
        first.ledger.close();
        const second = startKeeper(dir, clock, log.logger);
        assert.equal(second.reads.limit(), 60, 'nothing held: no 429 was seen');
        assert.equal(log.lines().filter((l) => l.event === 'sheets.quota_hold_restored').length, 0);
        assert.ok(second.reads.tryAcquire());
        second.refusals.attempted('read', quota429());
        assert.equal(second.reads.limit(), 20, 'the 20 its predecessor got through in the window');
        // Then for the restart after that one, still within the minute: held to 20 at once.
        await clock.advance(1000);
        const third = startKeeper(dir, clock, log.logger);
        assert.equal(third.reads.limit(), 20);
      } finally {
        log.close();
      }
    });
  });

  it('a quota.json written before these were kept (grants only): the grants of the window count as the calls Google accepted', async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const second = Math.floor(clock.now() / 1000);
        writeFileSync(join(dir, QUOTA_LEDGER_FILE), JSON.stringify({ v: 1, reads: [[second - 30, 12], [second - 10, 8]], writes: [[second - 5, 3]] }));
        const k = startKeeper(dir, clock, log.logger);
        assert.equal(k.reads.limit(), 60);
        assert.equal(k.reads.tokensLeft(), 40, "the predecessor's grants still count");
        assert.ok(k.reads.tryAcquire());
        k.refusals.attempted('read', quota429());
        assert.equal(k.reads.limit(), 20);
        assert.ok(k.writes.tryAcquire());
        k.refusals.attempted('write', quota429());
        assert.equal(k.writes.limit(), 3);
      } finally {
        log.close();
      }
    });
  });

  it('what is older than the window is dropped: the ceiling, the calls Google accepted and the backoff in a row; within it, the backoff grows on', async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const path = join(dir, QUOTA_LEDGER_FILE);
        const lastPause = () => log.lines().filter((l) => l.event === 'sheets.quota_refused').at(-1)?.pauseMs;
        const first = startKeeper(dir, clock, log.logger);
        await accepted(first, clock, 20);
        // Two 429s in a row (the second of a call granted before the first): a backoff of 1 s, then 2 s.
        assert.ok(first.reads.tryAcquire());
        first.refusals.attempted('read', quota429());
        await clock.advance(1000);
        first.refusals.attempted('read', quota429());
        assert.equal(first.reads.limit(), 20);
        const learned = readLedger(path).contents.learned?.reads;
        assert.equal(learned?.heldTo?.ceiling, 20);
        assert.equal(learned?.pause?.inARow, 2);
        first.ledger.close();
        const left = readFileSync(path, 'utf8');
        // Restarted within the window, the next 429 backs off 4 s, the third in a row.
        await clock.advance(1000);
        const soon = startKeeper(dir, clock, log.logger);
        soon.refusals.attempted('read', quota429());
        assert.equal(lastPause(), 4000);
        soon.ledger.close();
        // Restarted a window after the last pause ended (and the last call Google accepted).
        writeFileSync(path, left);
        await clock.advance(QUOTA_WINDOW_MS + 1000);
        const hellos = log.lines().filter((l) => l.event === 'sheets.quota_hold_restored').length;
        const late = startKeeper(dir, clock, log.logger);
        assert.equal(late.reads.limit(), 60, 'a ceiling no 429 nor accepted call of the window bears out is learned again');
        assert.equal(late.reads.tokensLeft(), 60);
        assert.equal(log.lines().filter((l) => l.event === 'sheets.quota_hold_restored').length, hellos, 'nothing said restored');
        assert.equal(readLedger(path).contents.learned, undefined, 'nor handed on to the keeper after it');
        assert.ok(late.reads.tryAcquire());
        late.refusals.attempted('read', quota429());
        assert.equal(lastPause(), 1000, 'the first 429 in a row again');
        assert.equal(late.reads.limit(), 1, 'Google accepted none of its calls in the window, as at a first start');
      } finally {
        log.close();
      }
    });
  });

  it('times are handed over on the wall clock: a keeper whose clock drifted leaves its pause at its wall-clock time, and a pause dated ahead (the wall clock stepped back between the keepers) lasts no longer than it was set for', async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const t = 1_700_000_000_000;
        // The first keeper's clock is 2 minutes behind the wall clock (a step of it since its start).
        const before = new SteppedClock(t, 120_000);
        const first = startKeeper(dir, before, log.logger);
        for (let i = 0; i < 10; i++) {
          assert.ok(first.reads.tryAcquire());
          first.refusals.attempted('read', undefined);
        }
        assert.ok(first.reads.tryAcquire());
        first.refusals.attempted('read', quota429(30_000));
        // Restarted 10 s later: its clock starts at the wall clock.
        const after = new SteppedClock(t + 120_000 + 10_000, 0);
        const second = startKeeper(dir, after, log.logger);
        assert.equal(second.reads.limit(), 10);
        const restored = () => log.lines().filter((l) => l.event === 'sheets.quota_hold_restored').at(-1);
        assert.equal(restored()?.pauseMs, 20_000, 'the 30 s pause, 10 s of it gone');
        assert.equal(restored()?.accepted, 10);
        // The wall clock stepped an hour back before a third keeper started: every time reads as
        // an hour ahead. The pause lasts what it was set for, not an hour and 20 s.
        const stepped = new SteppedClock(t + 120_000 + 10_000 - 3_600_000, 0);
        const third = startKeeper(dir, stepped, log.logger);
        assert.equal(third.reads.limit(), 10);
        assert.equal(restored()?.pauseMs, 30_000);
        assert.equal(restored()?.accepted, 10, 'the calls Google accepted, dated ahead, count as now');
      } finally {
        log.close();
      }
    });
  });

  it('the calls Google accepted are written at most once a second: with the next write, by a timer, or at close; a malformed part of the file is left out', async () => {
    await withDir(async (dir) => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const path = join(dir, QUOTA_LEDGER_FILE);
        const k = startKeeper(dir, clock, log.logger);
        const acceptedInFile = () => (readLedger(path).contents.learned?.reads?.successes ?? []).reduce((n, [, c]) => n + c, 0);
        // Each grant is written before its call leaves; the answers come right after.
        for (let i = 0; i < 3; i++) {
          assert.ok(k.reads.tryAcquire());
          k.refusals.attempted('read', undefined);
        }
        assert.equal(acceptedInFile(), 2, 'the first two with the grants after them');
        await clock.advance(1000);
        assert.equal(acceptedInFile(), 3, 'the last by the timer, a second after the last write');
        await clock.advance(500);
        assert.ok(k.reads.tryAcquire());
        k.refusals.attempted('read', undefined);
        assert.equal(acceptedInFile(), 3);
        k.ledger.close();
        assert.equal(acceptedInFile(), 4, 'written at close');
        assert.equal(clock.pending(), 0, 'and its timer dropped');
        // Malformed parts are left out, the rest is read.
        const second = Math.floor(clock.now() / 1000);
        writeFileSync(path, JSON.stringify({ v: 1, reads: [], writes: [], learned: { reads: { heldTo: [0, 5], pause: [10, 5, 1], successes: [[second, 2], 'x'] }, writes: { heldTo: [7, clock.now()], pause: ['a'] } } }));
        const learned = readLedger(path).contents.learned;
        assert.deepEqual(learned?.reads, { successes: [[second, 2]] });
        assert.deepEqual(learned?.writes, { heldTo: { ceiling: 7, refusedAt: clock.now() }, successes: [] });
      } finally {
        log.close();
      }
    });
  });
});
