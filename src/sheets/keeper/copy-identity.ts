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
//     reused; but a value the cache budget evicted and that is fetched again with the very same
//     bytes (their digest, evicted-copies.ts) carries the number it had, and nothing else does;
//   - a digest of the journaled rows the read may show, when there are any (a block its fetched
//     rows fill, the header row `Events!1:1`, shows none, so the journal is no part of its name):
//     an append, or a row leaving the merge once a copy fetched after it landed holds it, changes it. A row marked done
//     leaves it as it was (it is still merged until a copy from after it is fetched), and so
//     does the answer.
// The range is the worker's own key: it only ever sends back the name of its copy of that range.

import { createHash } from 'node:crypto';
import type { PendingRow } from './merge.js';

/** The numbers of the tier's value bytes: the read tier's, which carries one over an eviction. */
export class CopyNumbers {
  private readonly numbers = new WeakMap<Buffer, number>();
  private next = 0;

  /** The number of `base`: a new one the first time these bytes (this Buffer) are named. */
  of(base: Buffer): number {
    let n = this.numbers.get(base);
    if (n === undefined) {
      n = ++this.next;
      this.numbers.set(base, n);
    }
    return n;
  }

  /** `base` holds the very bytes the number `n` named (an evicted copy filled again). */
  carry(base: Buffer, n: number): void {
    this.numbers.set(base, n);
  }
}

export class CopyIdentities {
  constructor(
    private readonly epoch: string,
    private readonly numbers: CopyNumbers = new CopyNumbers(),
  ) {}

  /** The name of an answer made of the tier's value bytes `base` and the journaled rows `pending`. */
  of(base: Buffer, pending: readonly PendingRow[]): string {
    const n = this.numbers.of(base);
    if (pending.length === 0) return `${this.epoch}.${n}`;
    const digest = createHash('sha256').update(JSON.stringify(pending)).digest('base64url').slice(0, 22);
    return `${this.epoch}.${n}.${digest}`;
  }
}
