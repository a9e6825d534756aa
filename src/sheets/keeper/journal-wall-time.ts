// The journal file's times on the wall clock. Every record's `at` (rows journaled, sent, done,
// split; an idempotency key's first request) is read by the next keeper: done entries are kept for
// their retention and while a copy fetched before them is served (their `doneAt` compared with the
// handed-over copies' fetch times, cache-handoff.ts, which are wall-clock times too), keys for
// CORRAL_IDEMPOTENCY_TTL. In memory they are times of the keeper's clock (clock.ts: the wall clock
// at its start, then monotonic), and each keeper's clock starts anew: after a step of the system
// clock (NTP at boot, a `date -s`) or a suspend during a keeper's life, its reading of a moment
// differs from the next keeper's by the step. Written as such, a step of an hour forward made the
// next keeper forget done entries and idempotency keys an hour early, and judge read-your-writes by
// times of two clocks. So they are moved onto the wall clock as JournalFile encodes them and back
// onto the reading keeper's clock as it decodes them: one place for every record kind, appended or
// rewritten by a compaction (which writes in-memory times), so none can be written on the wrong one.
//
// A record is moved by the wall clock's offset when it is written. A step after that (during the
// writer's life) leaves its time off by the step: moved() says so, and the journal's close then
// rewrites the file from memory (journal.ts), at the offset the cache handoff was just written
// with, so that the next keeper compares done entries and handed copies on one clock.
//
// A file written before this held the writer's own clock: the wall clock at its start plus
// monotonic time, which is the wall clock's time but for a step during its life; read as such.

import { toWallTime, type Clock } from './clock.js';
import type { JournalRecord } from './journal-scan.js';

/**
 * A move of the wall clock from the keeper's this small is no step: Date.now() is in whole
 * milliseconds, and NTP slews the wall clock by at most 0.5 ms a second. A step (NTP at boot, a
 * `date -s`, a suspend) is seconds to hours.
 */
export const WALL_STEP_MS = 1000;

export class RecordTimes {
  /** The least and the most wall-clock offset records were written with since the open. */
  private writtenFrom = Infinity;
  private writtenTo = -Infinity;

  constructor(private readonly clock: Pick<Clock, 'wallOffset'>) {}

  /**
   * Decoded records' times moved onto the keeper's clock, in place: the records were just parsed,
   * and a copy of each would double what the open of a large journal holds.
   */
  read(records: readonly JournalRecord[]): void {
    const offset = toWallTime(this.clock, 0);
    if (offset === 0) return;
    for (const rec of records) if (typeof rec.at === 'number') (rec as Record<string, unknown>).at = rec.at - offset;
  }

  /**
   * How a write made now puts its records' times on the wall clock: by one offset for the whole
   * write (a record is copied only when it moves; the keeper's own are left as they are).
   */
  writer(): (rec: JournalRecord) => JournalRecord {
    const offset = toWallTime(this.clock, 0);
    return (rec) => {
      this.writtenFrom = Math.min(this.writtenFrom, offset);
      this.writtenTo = Math.max(this.writtenTo, offset);
      return offset !== 0 && typeof rec.at === 'number' ? { ...rec, at: rec.at + offset } : rec;
    };
  }

  /**
   * Whether the wall clock has moved from the keeper's clock, by WALL_STEP_MS or more, since a
   * record was written: that record's time is off the wall clock by as much until it is written
   * again.
   */
  moved(): boolean {
    if (this.writtenFrom > this.writtenTo) return false;
    const offset = toWallTime(this.clock, 0);
    return Math.abs(offset - this.writtenFrom) >= WALL_STEP_MS || Math.abs(offset - this.writtenTo) >= WALL_STEP_MS;
  }
}
