// The flusher's timed passes under continuous writes: appends spaced by the write quota's pace
// (QuotaBucket.msUntilPaced), a second apart at 60 a minute, each with every row due. Taken as
// soon as a token was free, the minute's tokens went in a burst (an append per pass: 60 in 30 s at
// a pass every 500 ms, in 6 s at 100 ms), then none until the first grant left the window, 30 to
// 55 s later, with every row acknowledged meanwhile waiting; and a stop that came then had no token
// to send them with before its deadline, leaving them in the journal until the next start.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, it } from 'node:test';
import type { SheetsBackend } from '../../src/sheets/backend.js';
import type { Clock } from '../../src/sheets/keeper/clock.js';
import { Flusher } from '../../src/sheets/keeper/flusher.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { QUOTA_MINUTE_MS, QUOTA_WINDOW_MS, QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock, settle } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { closeFlusherParts, EVENTS_HEADER, eventRow } from '../fixtures/test-flusher.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** One event this often, all the time. */
const EVENT_EVERY_MS = 200;
const WRITES_PER_MINUTE = 60;

/**
 * The flusher's and the quota buckets' clock: a FakeClock whose timers they set are watched, so
 * that the clock moves only once they wait on it, to the moment they wait for. Moved while they
 * wrote the journal's records, their grants slipped by the time it moved.
 */
class WatchedTimers implements Clock {
  private readonly due = new Map<unknown, number>();

  constructor(private readonly clock: FakeClock) {}

  now(): number {
    return this.clock.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const handle: unknown = this.clock.setTimeout(() => {
      this.due.delete(handle);
      fn();
    }, ms);
    this.due.set(handle, this.clock.now() + Math.max(0, ms));
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle);
    this.clock.clearTimeout(handle);
  }

  /** When the first timer set falls due (Infinity: none). */
  next(): number {
    return Math.min(...this.due.values());
  }

  /** Lets the callbacks run until `done` or a timer is set. */
  async waitedOn(done: () => boolean): Promise<void> {
    for (let i = 0; i < 100_000 && !done() && this.due.size === 0; i++) await settle();
  }
}

/**
 * A flusher on a FakeClock whose write bucket allows 60 a minute, each append paying its token as
 * the keeper's backend does (pacing.ts), with a pass every `intervalMs` as its timer runs them
 * (none while one is running), and an event every EVENT_EVERY_MS.
 */
async function writingKeeper(intervalMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-flusher-pace-'));
  const clock = new FakeClock();
  const timers = new WatchedTimers(clock);
  const fake = new FakeBackend({ Events: [EVENTS_HEADER] });
  const log = await captureLogger();
  const journal = (await Journal.open({ dir, destination: 'fake sheet', clock, unsureDelayMs: 1000 })).journal;
  const writeQuota = new QuotaBucket({ name: 'writes', perMinute: WRITES_PER_MINUTE, maxQueue: 16, clock: timers });
  const readQuota = new QuotaBucket({ name: 'reads', perMinute: 10_000, maxQueue: 16, clock: timers });
  const appendsAt: number[] = [];
  const landedAt = new Map<string, number>();
  const addedAt = new Map<string, number>();
  const pacedBackend = paced(fake, async (info, signal) => {
    await (info.kind === 'write' ? writeQuota : readQuota).acquire(signal);
    if (info.kind === 'write') appendsAt.push(clock.now());
  });
  const backend: SheetsBackend = {
    ...pacedBackend,
    appendValues: async (range, rows, signal) => {
      const r = await pacedBackend.appendValues(range, rows, signal);
      for (const row of rows) landedAt.set(row[0] ?? '', clock.now());
      return r;
    },
  };
  const flusher = new Flusher({ journal, backend, writeQuota, readQuota, logger: log.logger, intervalMs, unsureDelayMs: 1000, clock: timers, random: () => 0 });
  const passFailures: unknown[] = [];
  cleanups.push(() => closeFlusherParts({ flusher, journal, log, dir }));
  const startedAt = clock.now();
  let seq = 0;
  let pass: Promise<unknown> | undefined;
  let nextEventAt = startedAt;
  let nextTickAt = startedAt;
  /** Until the pass is over or waits on the clock (what it does between is the journal's files and the backend). */
  const passWaits = (): Promise<void> => timers.waitedOn(() => pass === undefined);
  return {
    clock,
    passWaits,
    journal,
    flusher,
    writeQuota,
    appendsAt,
    landedAt,
    addedAt,
    passFailures,
    startedAt,
    /** Writes all the time, with the flusher's timed passes, for `ms`. */
    async write(ms: number): Promise<void> {
      for (const end = clock.now() + ms; clock.now() < end; ) {
        if (clock.now() >= nextEventAt) {
          const id = `e${seq++}`;
          addedAt.set(id, clock.now());
          await journal.add('Events', [eventRow(id)]);
          nextEventAt += EVENT_EVERY_MS;
        }
        // As Flusher.start's timer: a pass when none is running.
        if (clock.now() >= nextTickAt) {
          if (pass === undefined) {
            pass = flusher.flushOnce({ wait: true }).then(
              () => (pass = undefined),
              (err) => {
                passFailures.push(err);
                pass = undefined;
              },
            );
          }
          nextTickAt += intervalMs;
        }
        await passWaits();
        // To the next event, pass, or the moment the pass waits for, whichever comes first.
        await clock.advance(Math.min(nextEventAt, nextTickAt, end, timers.next()) - clock.now());
      }
      await passWaits();
    },
    /**
     * As a keeper's stop: no more timed passes, then a drain until `ms` from now, cut there if it
     * still waits (the keeper closes the flusher then). The rows left in the journal.
     */
    async drain(ms: number): Promise<number> {
      flusher.stop();
      let left: number | undefined;
      const drained = flusher.drain(clock.now() + ms).then((n) => (left = n));
      for (const deadline = clock.now() + ms; clock.now() < deadline; ) {
        await timers.waitedOn(() => left !== undefined);
        if (left !== undefined) break;
        await clock.advance(Math.min(deadline, timers.next()) - clock.now());
      }
      if (left !== undefined) return left;
      flusher.close();
      await drained;
      return journal.backlogRows();
    },
  };
}

/** The longest gap between appends after the first minute, and how long each row waited for the sheet (the longest). */
function figures(k: Awaited<ReturnType<typeof writingKeeper>>, from: number) {
  const after = k.appendsAt.filter((t) => t >= from);
  let maxGap = 0;
  let minGap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < after.length; i++) {
    maxGap = Math.max(maxGap, after[i]! - after[i - 1]!);
    minGap = Math.min(minGap, after[i]! - after[i - 1]!);
  }
  let maxWait = 0;
  for (const [id, at] of k.addedAt) if (at >= from) maxWait = Math.max(maxWait, (k.landedAt.get(id) ?? k.clock.now()) - at);
  return { appends: after.length, maxGap, minGap, maxWait };
}

for (const intervalMs of [500, 100]) {
  it(`under continuous writes the appends go a pace apart, and no row waits for the sheet more than a pace and a pass (a pass every ${intervalMs} ms)`, async () => {
    const k = await writingKeeper(intervalMs);
    const minutes = 2;
    await k.write(minutes * QUOTA_MINUTE_MS);

    assert.deepEqual(k.passFailures, []);
    // The window's tokens spread over it: about a second at 60 a minute.
    const pace = QUOTA_WINDOW_MS / WRITES_PER_MINUTE;
    const all = figures(k, k.startedAt);
    // A row waits for the pace, and for the next pass to take it (a pass waits for the pace before it takes its batch).
    assert.ok(all.maxWait <= pace + intervalMs + 1, `no row waited more than a pace and a pass (longest ${all.maxWait} ms)`);
    assert.ok(all.minGap >= pace - 1e-6, `no append within a pace of the one before (${all.minGap} ms)`);
    assert.ok(all.maxGap <= pace + 1, `a token back about every second (longest gap ${all.maxGap} ms)`);
    // The quota's bound is unchanged, and paced appends spend it: about 60 in every 61 s.
    for (const t of k.appendsAt) assert.ok(k.appendsAt.filter((u) => u >= t && u < t + QUOTA_WINDOW_MS).length <= WRITES_PER_MINUTE, 'no window holds more than the quota');
    assert.ok(all.appends >= minutes * WRITES_PER_MINUTE * (QUOTA_MINUTE_MS / QUOTA_WINDOW_MS) - 3, `the quota is spent as it comes back (${all.appends} appends in ${minutes} min)`);
  });
}

it('a lone event after a quiet spell goes at the next pass, without waiting for a pace', async () => {
  const k = await writingKeeper(500);
  await k.write(10_000);
  await k.clock.advance(2000);
  await k.passWaits();
  await k.flusher.flushOnce({ wait: true });
  assert.equal(k.journal.backlogRows(), 0);
  // Quiet for less than a window but more than a pace.
  await k.clock.advance(5000);
  const id = 'lone';
  k.addedAt.set(id, k.clock.now());
  await k.journal.add('Events', [eventRow(id)]);
  const appends = k.appendsAt.length;
  await k.flusher.flushOnce({ wait: true });
  assert.equal(k.appendsAt.length, appends + 1);
  assert.equal(k.landedAt.get(id), k.addedAt.get(id), 'sent at once');
});

// Moments of a minute of continuous writing at which a stop comes, spread over its phases (the
// burst and the quiet part it had without the pace), after the first minute's tokens were spent.
const STOP_AT_MS = [QUOTA_WINDOW_MS + 300, 71_500, 81_700, 91_900, 102_100, 112_300];

it('a drain at any moment of continuous writing leaves nothing in the journal', async () => {
  for (const stopAt of STOP_AT_MS) {
    const k = await writingKeeper(500);
    await k.write(stopAt);
    const waiting = k.journal.backlogRows();
    // The keeper's drain has KEEPER_RESTART_DRAIN_MS (5 s), less the handoff's reserve and the exit's margin.
    const left = await k.drain(3500);
    assert.equal(left, 0, `a stop at ${stopAt} ms, with ${waiting} rows waiting and the next token in ${k.writeQuota.msUntilFree()} ms, left ${left}`);
    for (const id of k.addedAt.keys()) assert.ok(k.landedAt.has(id), `${id} reached the sheet (stop at ${stopAt} ms)`);
    assert.deepEqual(k.passFailures, []);
    await cleanups.pop()!();
  }
});

it("the pace is the window over the bucket's limit: the one Google's 429s taught, and none past a quiet spell", async () => {
  const clock = new FakeClock();
  const bucket = new QuotaBucket({ name: 'writes', perMinute: WRITES_PER_MINUTE, maxQueue: 16, clock });
  assert.equal(bucket.msUntilPaced(), 0, 'no grant yet');
  assert.equal(await bucket.acquire(), clock.now());
  assert.equal(bucket.msUntilFree(), 0, 'a token is free');
  // Within the clock's precision: its times are milliseconds since 1970.
  const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 0.01, `${actual} ms, not ${expected}`);
  near(bucket.msUntilPaced(), QUOTA_WINDOW_MS / WRITES_PER_MINUTE);
  bucket.limitTo(20);
  near(bucket.msUntilPaced(), QUOTA_WINDOW_MS / 20);
  await clock.advance(QUOTA_WINDOW_MS / 20);
  assert.ok(bucket.msUntilPaced() <= 0, 'a pace later');
  // A pause (Google's Retry-After) holds it longer.
  bucket.pauseUntil(clock.now() + 10_000);
  near(bucket.msUntilPaced(), 10_000);
});
