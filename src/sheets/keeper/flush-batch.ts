// What goes into one values:append: the entries due for a range, taken from the front (oldest
// first) up to a number of rows and a number of bytes, so that no request passes Google's limits,
// nor a tab's smaller ones after appends the link could not carry in time (flush-batch-limits.ts).

import type { JournalEntry } from './journal.js';

/** Rows per values:append at most. */
const MAX_BATCH_ROWS = 5000;
/**
 * Bytes of rows per values:append at most. Google refuses a request body over 10 MiB (400
 * "Request payload size exceeds the limit: 10485760 bytes") and says so again on every retry, so a
 * batch over it would hold back every row of its range for good. Entries are counted by their
 * rows' JSON; the rest of the body is a few dozen bytes.
 */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** At most this many rows, and this many bytes of rows (bytesOf), per values:append. */
export interface BatchLimit {
  readonly rows: number;
  readonly bytes: number;
}

export const FULL_BATCH: BatchLimit = { rows: MAX_BATCH_ROWS, bytes: MAX_BATCH_BYTES };

const entryBytes = new WeakMap<JournalEntry, number>();

function bytesOf(e: JournalEntry): number {
  let n = entryBytes.get(e);
  if (n === undefined) {
    n = Buffer.byteLength(JSON.stringify(e.rows));
    entryBytes.set(e, n);
  }
  return n;
}

/** The bytes of `entries`' rows, as a batch counts them against its limit (BatchCursor). */
export function batchBytes(entries: readonly JournalEntry[]): number {
  let n = 0;
  for (const e of entries) n += bytesOf(e);
  return n;
}

/**
 * A range's pending entries, oldest first, taken batch by batch. Read from an iterator as far as
 * the batches taken go (journal-entries.ts's duePending): a pass that stops at a failed batch
 * looks at no more of a backlog an outage left (hundreds of thousands of entries,
 * SHEETS_JOURNAL_MAX_MB) than it sent. Never shift()ed off an array either: each shift was a copy
 * of the whole array, 5000 of them per batch, and the keeper's loop stopped for seconds per batch
 * while it caught up (about 5 minutes of CPU for 670k entries).
 */
export class BatchCursor {
  /** The entry read that did not fit the last batch: the first of the next. */
  private ahead: JournalEntry | undefined;

  constructor(private readonly pending: Iterator<JournalEntry>) {}

  /** The next batch: at least one entry, then up to both of `limit`; empty once none is left. */
  take(limit: BatchLimit = FULL_BATCH): JournalEntry[] {
    const batch: JournalEntry[] = [];
    let rows = 0;
    let bytes = 0;
    for (;;) {
      if (!this.ahead) {
        const r = this.pending.next();
        if (r.done) break;
        this.ahead = r.value;
      }
      const next = this.ahead;
      const fits = rows + next.rows.length <= limit.rows && bytes + bytesOf(next) <= limit.bytes;
      if (batch.length > 0 && !fits) break;
      batch.push(next);
      rows += next.rows.length;
      bytes += bytesOf(next);
      this.ahead = undefined;
    }
    return batch;
  }
}
