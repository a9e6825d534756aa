// What names one copy of a range as the keeper answers it (WireRead.copy), so that a worker that
// refreshes a copy it holds can be told "unchanged" and keep its rows: parsing a tab of 300k rows
// again, and rebuilding what the app built from it, stalled every worker's loop for seconds at
// each SHEET_CACHE_TTL although the tab had not changed (audit).
//
// An answer's rows are made of three things: the range asked for, the read tier's value of the
// range it fetches (fetchRangeFor), and the journaled rows merged into it (merge.ts, rowsFor).
// Two answers with the same three have the same rows, byte for byte. So a copy is named by:
//   - this keeper's epoch: another keeper's numbers are not these (its restart ends every name);
//   - the number of the tier's value bytes: the tier keeps the bytes (the same Buffer) when a
//     refresh finds the same ones (read-tier.ts), and each new Buffer gets a new number, never
//     reused; a value evicted and fetched again gets a new one even when equal (a full answer
//     once, never a wrong "unchanged");
//   - a digest of the journaled rows the read may show, when there are any (a block its fetched
//     rows fill, the header row `Events!1:1`, shows none, so the journal is no part of its name):
//     an append, or a row leaving the merge once a copy fetched after it landed holds it, changes it. A row marked done
//     leaves it as it was (it is still merged until a copy from after it is fetched), and so
//     does the answer.
// The range is the worker's own key: it only ever sends back the name of its copy of that range.

import { createHash } from 'node:crypto';
import type { PendingRow } from './merge.js';

export class CopyIdentities {
  private readonly numbers = new WeakMap<Buffer, number>();
  private next = 0;

  constructor(private readonly epoch: string) {}

  /** The name of an answer made of the tier's value bytes `base` and the journaled rows `pending`. */
  of(base: Buffer, pending: readonly PendingRow[]): string {
    let n = this.numbers.get(base);
    if (n === undefined) {
      n = ++this.next;
      this.numbers.set(base, n);
    }
    if (pending.length === 0) return `${this.epoch}.${n}`;
    const digest = createHash('sha256').update(JSON.stringify(pending)).digest('base64url').slice(0, 22);
    return `${this.epoch}.${n}.${digest}`;
  }
}
