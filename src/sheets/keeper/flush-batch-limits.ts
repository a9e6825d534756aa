// How large a tab's next batches may be, for the flusher (flush-batch.ts takes them). Google's
// limits on a request (MAX_BATCH_ROWS, MAX_BATCH_BYTES) are not the only bound: SHEETS_TIMEOUT
// bounds a whole request, upload included, and over a slow uplink a batch near 8 MiB is still
// being sent when it passes (8 MiB in 10 s takes 6.7 Mbit/s). Such an append ends unsure, the
// read-back SHEETS_UNSURE_DELAY later finds its rows absent, and the same batch was built again and
// timed out again, for good: every later row of the tab behind it, the journal growing until
// SHEETS_JOURNAL_MAX_MB refused appends.
//
// So once a read-back finds the rows of a tab's unsure append absent (Google never applied it),
// the tab's batches are made half as large as the largest of the appends it found absent, in rows
// and in bytes (each entry keeps the size of the append it last ended unsure in: the appends read
// back are not always those that ended unsure last, and one Google applied late, found, says
// nothing of the size, nor does it unsay the size of another read back later), and halved again at each such read-back, down to one entry (an entry is one
// acknowledged append, never split). Not for an append of less than SIZE_MATTERS_BYTES: any link
// carries that within SHEETS_TIMEOUT, so its size was not what failed, and halving it (down to one
// row per append after a 5xx on a batch of two) would have spent a write token per row. They grow back, doubling with each append that goes through,
// once SMALLER_FOR_MS has passed since the last halving: doubling at once sent a size that had
// just timed out again, and every other append of a slow link waited out SHEETS_TIMEOUT, the
// read-back's delay and the read-back before its rows were sent.
//
// Only the size changes: batches are still taken from the front of the tab's rows, in journal
// order, and an unsure row is still sent again only after its read-back found it absent.

import type { Logger } from '../../log/logger.js';
import { FULL_BATCH, type BatchLimit } from './flush-batch.js';
import type { JournalEntry } from './journal.js';

/** An unsure append smaller than this makes no batch smaller (see the top of this file). */
export const SIZE_MATTERS_BYTES = 64 * 1024;

/** How long after its last halving a tab's batches stay that small before they grow back. */
export const SMALLER_FOR_MS = 10 * 60_000;

export class BatchLimits {
  /** Tabs (ranges) whose batches are smaller than FULL_BATCH, and when they were last halved. */
  private readonly smaller = new Map<string, { limit: BatchLimit; halvedAt: number }>();
  /**
   * Per entry, the size (rows, bytes) of the append it last ended unsure in: what a read-back that
   * finds it absent halves. Per range it was the largest since the range's last read-back, cleared
   * by any read-back: one that found an append Google applied late (its answer lost) cleared the
   * size of another that had ended unsure meanwhile, which its own read-back then found absent
   * with nothing to halve (sent whole again, to time out again); and one that found a large append
   * applied late and a small one (a 503) absent halved by the large one's size.
   */
  private readonly unsure = new WeakMap<JournalEntry, BatchLimit>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** The limits of `range`'s next batch. */
  of(range: string): BatchLimit {
    return this.smaller.get(range)?.limit ?? FULL_BATCH;
  }

  /** An append of `entries`, `rows` rows and `bytes` bytes, ended unsure (it may have been applied). */
  endedUnsure(entries: readonly JournalEntry[], rows: number, bytes: number): void {
    const size = { rows, bytes };
    for (const e of entries) this.unsure.set(e, size);
  }

  /**
   * A read-back of `range` found `absent`, unsure entries not in the sheet (never applied): the
   * next batches are halved, by the largest append they ended unsure in. Those it found are none
   * of this: a late answer, not a size the link cannot carry.
   */
  readBack(range: string, absent: readonly JournalEntry[]): void {
    let failed: BatchLimit | undefined;
    for (const e of absent) {
      const size = this.unsure.get(e);
      if (size === undefined) continue;
      this.unsure.delete(e);
      failed = { rows: Math.max(size.rows, failed?.rows ?? 0), bytes: Math.max(size.bytes, failed?.bytes ?? 0) };
    }
    // Unsure appends of an earlier keeper: their size is not known, and the resend says it if too large.
    if (failed === undefined || failed.bytes < SIZE_MATTERS_BYTES) return;
    const was = this.of(range);
    const limit = { rows: Math.max(1, Math.min(was.rows, Math.floor(failed.rows / 2))), bytes: Math.max(1, Math.min(was.bytes, Math.floor(failed.bytes / 2))) };
    this.smaller.set(range, { limit, halvedAt: this.now() });
    if (was !== FULL_BATCH) return;
    this.logger.warn(
      { event: 'sheets.batch_smaller', range, rows: failed.rows, bytes: failed.bytes, maxRows: limit.rows, maxBytes: limit.bytes },
      `sheets: an append whose outcome was unknown (a timeout, a 5xx) was not in the sheet when read back; sending this range's rows in smaller batches (up to ${limit.rows} rows, ${limit.bytes} bytes) until they go through`,
    );
  }

  /** An append to `range` went through: its batches grow back once SMALLER_FOR_MS has passed since the last halving. */
  succeeded(range: string): void {
    const s = this.smaller.get(range);
    if (!s || this.now() - s.halvedAt < SMALLER_FOR_MS) return;
    const limit = { rows: Math.min(FULL_BATCH.rows, s.limit.rows * 2), bytes: Math.min(FULL_BATCH.bytes, s.limit.bytes * 2) };
    if (limit.rows === FULL_BATCH.rows && limit.bytes === FULL_BATCH.bytes) this.smaller.delete(range);
    else s.limit = limit;
  }
}
