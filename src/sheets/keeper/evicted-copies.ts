// What the keeper remembers of a range's copy that the cache budget pushed out: its bytes' length
// and digest, and the number its name carried (copy-identity.ts). Filled again with the very same
// bytes, the range keeps that name and tells no worker of a change: each worker holding the copy
// is answered "unchanged" and keeps its rows. Without it, two ranges each over half the budget
// (a big roster and an export of a big events tab) pushed each other out at every refresh, and
// every refill of bytes that had not changed made every worker download and parse the whole tab
// again (seconds of its loop at 100k rows). A digest, not the bytes: holding those would undo the
// eviction.

import { createHash } from 'node:crypto';

/** Ranges remembered at most; forgotten all at once past it, as range-memory.ts does. */
const MAX_REMEMBERED = 10_000;

interface EvictedCopy {
  readonly length: number;
  readonly digest: string;
  readonly number: number;
}

const digestOf = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('base64url');

export class EvictedCopies {
  private readonly held = new Map<string, EvictedCopy>();

  /** The copy of `range` made of `bytes`, named with `number`, was pushed out of the cache. */
  remember(range: string, bytes: Buffer, number: number): void {
    if (this.held.size >= MAX_REMEMBERED && !this.held.has(range)) this.held.clear();
    this.held.set(range, { length: bytes.length, digest: digestOf(bytes), number });
  }

  /**
   * The number the evicted copy of `range` was named with, when `bytes` are its bytes; undefined
   * otherwise. Either way the range is forgotten: it is filled now.
   */
  take(range: string, bytes: Buffer): number | undefined {
    const copy = this.held.get(range);
    if (copy === undefined) return undefined;
    this.held.delete(range);
    return copy.length === bytes.length && copy.digest === digestOf(bytes) ? copy.number : undefined;
  }
}
