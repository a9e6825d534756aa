// A worker's own cache (L1), bounded by bytes (CORRAL_L1_CACHE_MB), in front of the keeper.
//
// How its staleness relates to the TTL: an entry is served from L1 until the keeper's copy
// expires (`expiresAt` = upstream fetch + SHEET_CACHE_TTL), never longer, so L1 adds no staleness
// of its own beyond the keeper's; a stale answer from the keeper (its refresh is running) is held
// only STALE_HOLD_MS. The keeper also pushes invalidations (a tab got new rows or a new upstream
// value) over the watch long-poll, which ends entries early. A refresh of an entry whose rows the
// keeper says are unchanged (WireUnchanged) stores the same rows with the new times: the entry's
// `values` stays the same array, so whatever was built from it (records, the roster, the players
// body) stays valid. L1 never calls Google itself: every
// miss goes to the keeper, whose single-flight makes the host's one upstream call per range per TTL.
// Expired entries stay (LRU-bounded) as a last resort while the keeper is unreachable, within
// SHEET_CACHE_MAX_STALE.

import { LRUCache } from 'lru-cache';
import { copyBytes } from './copy-size.js';
import type { WireRead, WireUnchanged } from './keeper/protocol.js';
import { tabKey, tabKeyOfRange } from './tab-key.js';
import type { SheetRead } from './types.js';

/** How long a stale keeper answer is reused before asking again (its refresh is in flight). */
export const STALE_HOLD_MS = 1000;

export interface L1Entry {
  readonly read: WireRead;
  /** The key of its tab (tab-key.ts): a notice for `Events` ends the hold of a copy of `events!A:E`. */
  readonly sheet: string;
  /** Served from L1 until then; 0 once invalidated. */
  holdUntil: number;
  /**
   * A write or the keeper's notice ended its hold (or it was answered to a read begun before one):
   * it may lack rows, so a read does not fall back to it while the keeper is merely slow. An entry
   * whose hold ended only because a new keeper answered (a restart: releaseAll) may.
   */
  mayLackRows: boolean;
  /**
   * ownWriteVersionOf(range) when the read behind this entry was asked for: an entry from before
   * one of this worker's own acknowledged appends to the tab (see noteOwnWrite) lacks that row.
   */
  readonly ownWriteVersion: string;
  /** The last answer built from this entry, reused while its staleness figures still hold. */
  served?: SheetRead;
}

/** The key of the tab of `range` (tab-key.ts); the range itself when it does not parse. */
function sheetOf(range: string): string {
  try {
    return tabKeyOfRange(range);
  } catch {
    return range;
  }
}

/** What an entry holds besides its rows: the entry, its read, the answer served from it. */
const ENTRY_BYTES = 512;

export class L1Cache {
  private readonly lru: LRUCache<string, L1Entry>;
  /** Bumped by every expiry of a tab (and of all tabs): a read begun before one may miss its rows. */
  private readonly sheetVersions = new Map<string, number>();
  private allVersion = 0;
  /** Counts of this worker's own acknowledged appends, by tab, and to tabs not known (noteOwnWrite). */
  private readonly ownWrites = new Map<string, number>();
  private allOwnWrites = 0;

  constructor(maxBytes: number) {
    this.lru = new LRUCache<string, L1Entry>({
      maxSize: maxBytes,
      // An entry counts what its rows take of the heap, estimated (copy-size.ts: 2-3.6 times the
      // values' JSON length for short cells, which was the count before), but never more than
      // half the budget: lru-cache refuses an entry larger than maxSize, and a range bigger than
      // the cache would then go to the keeper on every read, with no fallback copy. Half, not all:
      // counted as the whole budget it would evict, and be evicted by, any other. So the budget
      // bounds the heap only for ranges under half of it: one over it holds more than it counts
      // (a 300k-row tab of five short cells: ~65 MB counted as 16 MiB at the default 32), and
      // two such fill the count, so the next entry evicts whichever was used least recently. The
      // copies' heap is then at most CORRAL_L1_CACHE_MB plus what those (two at most) hold beyond
      // half of it. Reads of one use keep no copy (ReadOptions `keep: false`, the export).
      sizeCalculation: (e) => Math.min(Math.max(1, Math.floor(maxBytes / 2)), ENTRY_BYTES + 2 * e.read.range.length + copyBytes(e.read.values)),
    });
  }

  /** The entry, fresh or not (callers decide); undefined when absent or evicted. */
  peek(range: string): L1Entry | undefined {
    return this.lru.get(range);
  }

  /** Changes whenever the tab of `range` is expired: compare it before and after a read. */
  versionOf(range: string): string {
    return `${this.allVersion}.${this.sheetVersions.get(sheetOf(range)) ?? 0}`;
  }

  /**
   * Stores a read. One begun before its tab was last expired (`version` is then out of date) is
   * kept as a fallback but not held: it may lack rows written since, and holding it would hide
   * them until its expiry.
   */
  set(range: string, read: WireRead, now: number, version?: string, ownWriteVersion?: string): L1Entry {
    const entry = this.entryOf(range, read, now, version, ownWriteVersion);
    this.lru.set(range, entry);
    return entry;
  }

  /**
   * The entry set() would store, not stored: the answer to a read that keeps no copy (ReadOptions
   * `keep: false`, an export), which its caller alone holds and drops.
   */
  entryOf(range: string, read: WireRead, now: number, version?: string, ownWriteVersion?: string): L1Entry {
    const current = version === undefined || version === this.versionOf(range);
    const holdUntil = !current ? 0 : read.expiresAt > now ? read.expiresAt : now + STALE_HOLD_MS;
    return { read, sheet: sheetOf(range), holdUntil, mayLackRows: !current, ownWriteVersion: ownWriteVersion ?? this.ownWriteVersionOf(range) };
  }

  /**
   * Stores the keeper's answer to a refresh of `base` that says its rows are unchanged (the same
   * `copy`): `base`'s rows, the very arrays, with the answer's times (a new fetch's expiry, or a
   * stale answer's staleness), held as set() holds any answer. Undefined when the answer is not
   * about `base`'s copy (never from a keeper that only answers the `have` it was sent).
   */
  setUnchanged(range: string, base: L1Entry, answer: WireUnchanged, now: number, version?: string, ownWriteVersion?: string): L1Entry | undefined {
    const read = this.unchangedRead(base, answer);
    return read && this.set(range, read, now, version, ownWriteVersion);
  }

  /** The read setUnchanged() stores, not stored; undefined when the answer is not about `base`'s copy. */
  unchangedRead(base: L1Entry, answer: WireUnchanged): WireRead | undefined {
    if (base.read.copy === undefined || answer.copy !== base.read.copy) return undefined;
    const { unchanged: _unchanged, ...times } = answer;
    return { ...times, values: base.read.values };
  }

  /**
   * Whether the copy held for `range` was stored by a read begun after `version` (a versionOf() of
   * before the tab's last expiry): every entry that expiry found may lack rows (mayLackRows), so
   * one that is not came later, from a read that saw the expiry, and is newer than an answer
   * to a read of `version`.
   */
  newerThan(range: string, version: string): boolean {
    return version !== this.versionOf(range) && this.lru.peek(range)?.mayLackRows === false;
  }

  /** Changes whenever this worker appended to the tab of `range` (noteOwnWrite). */
  ownWriteVersionOf(range: string): string {
    return `${this.allOwnWrites}.${this.ownWrites.get(sheetOf(range)) ?? 0}`;
  }

  /**
   * This worker's own append to the tab named `sheet`, in any case ('' the first tab; undefined: a
   * range whose tab is not known) was acknowledged: every entry of the tab from before it lacks
   * that row. Such an entry is never served again, not even as a fallback while the keeper is
   * down: the client that wrote may read next on this connection (read-your-writes).
   */
  noteOwnWrite(sheet: string | undefined): void {
    if (sheet === undefined) {
      this.allOwnWrites++;
      this.expireAll();
      return;
    }
    const key = tabKey(sheet);
    this.ownWrites.set(key, (this.ownWrites.get(key) ?? 0) + 1);
    this.expireSheet(sheet);
  }

  /** Whether `entry` was read before one of this worker's own appends to its tab. */
  lacksOwnWrite(range: string, entry: L1Entry): boolean {
    return entry.ownWriteVersion !== this.ownWriteVersionOf(range);
  }

  /**
   * Ends the hold of every entry of the tab named `sheet`, in whatever case the notice or the
   * append names it (kept as a fallback).
   */
  expireSheet(sheet: string): void {
    const key = tabKey(sheet);
    this.sheetVersions.set(key, (this.sheetVersions.get(key) ?? 0) + 1);
    for (const e of this.lru.values()) {
      if (e.sheet !== key) continue;
      e.holdUntil = 0;
      e.mayLackRows = true;
    }
  }

  expireAll(): void {
    this.allVersion++;
    for (const e of this.lru.values()) {
      e.holdUntil = 0;
      e.mayLackRows = true;
    }
  }

  /**
   * Ends every hold without saying any rows changed: a new keeper answered the long poll (it
   * restarted), so a notice of the old one's may have been missed, and every read asks the new one
   * again; a copy that only aged is still served if it is slow to answer (refilling its emptied
   * cache).
   */
  releaseAll(): void {
    for (const e of this.lru.values()) e.holdUntil = 0;
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  clear(): void {
    this.lru.clear();
  }
}
