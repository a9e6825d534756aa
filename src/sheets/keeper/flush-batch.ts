// What goes into one values:append: the entries due for a range, taken from the front (oldest
// first) up to a number of rows and a number of bytes, so that no request passes Google's limits.

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

const entryBytes = new WeakMap<JournalEntry, number>();

function bytesOf(e: JournalEntry): number {
  let n = entryBytes.get(e);
  if (n === undefined) {
    n = Buffer.byteLength(JSON.stringify(e.rows));
    entryBytes.set(e, n);
  }
  return n;
}

/** Takes the next batch off the front of `pending`: at least one entry, then up to both limits. */
export function takeBatch(pending: JournalEntry[]): JournalEntry[] {
  const batch: JournalEntry[] = [];
  let rows = 0;
  let bytes = 0;
  for (let next = pending[0]; next !== undefined; next = pending[0]) {
    const fits = rows + next.rows.length <= MAX_BATCH_ROWS && bytes + bytesOf(next) <= MAX_BATCH_BYTES;
    if (batch.length > 0 && !fits) break;
    batch.push(next);
    pending.shift();
    rows += next.rows.length;
    bytes += bytesOf(next);
  }
  return batch;
}
