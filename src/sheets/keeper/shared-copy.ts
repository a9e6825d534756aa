// Whether this host may take the copy of a range another host left in Redis (REDIS_URL), and as
// what: its times are the other host's clock's, read a little earlier than they say, and capped
// at this host's now. The read tier (read-tier.ts) asks, installs what it is given, and counts it.

import type { Logger } from '../../log/logger.js';
import { cachedValue, type CachedValue } from './cached-value.js';
import { RangeMemory } from './range-memory.js';
import type { SharedValue } from './shared-ranges.js';

/**
 * Another host's times are read as this many ms earlier than they say: hosts' clocks differ a
 * little (NTP), and a copy taken as older than it is only keeps journaled rows shown longer (they
 * are told apart by id), where one taken as newer could hide an acknowledged row.
 */
export const SHARED_CLOCK_ALLOWANCE_MS = 5000;

export interface SharedCopyOptions {
  readonly ttlMs: number;
  readonly maxStaleMs: number;
  readonly logger: Logger;
  /**
   * Whether a value another host fetched, begun at `fetchStartedAt`, may be served: not when the
   * journal already forgot rows that reached Google after it (they would vanish from reads).
   */
  readonly acceptShared?: (range: string, fetchStartedAt: number) => boolean;
}

/** What this host holds of the range: its value, and the stamp of the copy it took last. */
export interface HeldCopy {
  readonly value: CachedValue | undefined;
  readonly adoptedStamp: string | undefined;
}

export class SharedCopies {
  /** Ranges whose shared copy was said to be stamped ahead of this host's clock (once each). */
  private readonly warnedAhead = new RangeMemory();

  constructor(private readonly o: SharedCopyOptions) {}

  /**
   * The value to install from `found` and its stamp (remembered, so that it is not taken twice),
   * or undefined when it is no newer than `held`, past SHEET_CACHE_MAX_STALE, refused by
   * acceptShared, or stamped too far ahead to be timed.
   */
  take(range: string, found: SharedValue, now: number, held: HeldCopy): { readonly value: CachedValue; readonly stamp: string } | undefined {
    // Stamped further ahead than hosts' clocks differ: how old it is cannot be told (nor which
    // journaled rows it holds). Taken as fetched now, it was served as fresh at every expiry and
    // Google never read; treated as expired, this host reads Google and its copy replaces it.
    if (found.fetchedAt - now > SHARED_CLOCK_ALLOWANCE_MS) {
      this.warnAhead(range, found.fetchedAt - now);
      return undefined;
    }
    // The copy this host took last, still in Redis: a copy stamped a little ahead is capped at
    // this host's clock, so at its expiry it looked newer than itself and was fresh again.
    const stamp = `${found.fetchStartedAt}:${found.fetchedAt}`;
    if (held.adoptedStamp === stamp) return undefined;
    const fetchedAt = Math.min(found.fetchedAt, now);
    const fetchStartedAt = Math.min(found.fetchStartedAt, fetchedAt) - SHARED_CLOCK_ALLOWANCE_MS;
    if (now - (fetchedAt + this.o.ttlMs) > this.o.maxStaleMs) return undefined;
    if (held.value && held.value.fetchedAt >= fetchedAt) return undefined;
    if (this.o.acceptShared && !this.o.acceptShared(range, fetchStartedAt)) return undefined;
    return { value: cachedValue(range, found.values, fetchStartedAt, fetchedAt, this.o.ttlMs), stamp };
  }

  private warnAhead(range: string, aheadMs: number): void {
    if (!this.warnedAhead.add(range)) return;
    this.o.logger.warn(
      { event: 'sheets.shared_range_ahead', range, ahead_ms: Math.round(aheadMs), allowance_ms: SHARED_CLOCK_ALLOWANCE_MS },
      `sheets: the copy of range ${range} in Redis is stamped ${Math.round(aheadMs / 1000)} s ahead of this host's clock (another host's clock is ahead: check NTP on the sheet's hosts); not taken, this host reads Google itself`,
    );
  }
}
