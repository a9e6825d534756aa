// What the read tier's ranges (read-tier.ts) count against the host cache's memory budget, and
// the warning for a range larger than half of it. A file of its own: the sizes are the LRU's
// business (lru-cache's sizeCalculation), not the reads'; the tier asks only what a state weighs.

import type { Logger } from '../../log/logger.js';
import { sizeOf, type CachedValue } from './cached-value.js';
import { RangeMemory } from './range-memory.js';

/**
 * What a range's state holds besides its value, counted against the budget: its failure's error
 * (Google's message, its fields), its log line's counts. Measured: about 1.6 KB of heap retained
 * per failed range with a short error message; Google's are longer.
 */
export const STATE_BYTES = 2048;

export interface CacheBudgetOptions {
  readonly logger: Logger;
  /**
   * Upper bound on memory held by cached values, but for a range larger than half of it: that one
   * is kept anyway (counted as half), since not caching it would send every read of it upstream.
   */
  readonly maxBytes: number;
  /** The setting that sizes maxBytes, named in the warning about a range over the budget. */
  readonly budgetSetting?: string;
}

export class CacheBudget {
  /** Ranges already reported as larger than half the budget (once each). */
  private readonly warnedLarge = new RangeMemory();

  constructor(private readonly o: CacheBudgetOptions) {}

  /** What a range's state, holding `value`, counts against the budget (the LRU's sizeCalculation). */
  sizeOf(value: CachedValue | undefined): number {
    // Capped at half the budget: lru-cache refuses (and deletes) an entry larger than maxSize, so
    // a range bigger than the budget would never stay cached and every read of it would go
    // upstream; counted as the whole budget, it and any other range would evict each other on
    // every alternate read. Half lets one huge range stay next to the small ones. Memory then
    // exceeds the budget, so warnIfLarge() says so once per range.
    // Every state is also counted at STATE_BYTES, its own memory: one with no value (a range
    // that failed, or one queued for its first fill) was counted 1 byte and so bounded by
    // nothing, and distinct ranges that failed (an export's sheet= names, an app's ranges made
    // from requests) grew the keeper without limit.
    return Math.min(this.halfBudget(), sizeOf(value) + STATE_BYTES);
  }

  /** Says, once per range, a value larger than half the budget (kept all the same). */
  warnIfLarge(value: CachedValue): void {
    const bytes = sizeOf(value);
    if (bytes <= this.halfBudget() || !this.warnedLarge.add(value.range)) return;
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    const raise = this.o.budgetSetting ? `; raise ${this.o.budgetSetting}` : '';
    this.o.logger.warn(
      { event: 'sheets.range_over_budget', range: value.range, bytes, budget_bytes: this.o.maxBytes, setting: this.o.budgetSetting ?? null },
      `sheets: range ${value.range} takes about ${mb(bytes)}, more than half the cache budget of ${mb(this.o.maxBytes)}: it stays cached (else every read of it would go upstream), so the cache holds more than its budget; but two such ranges cannot stay together: each pushes the other out, whose next read then waits for upstream${raise}`,
    );
  }

  private halfBudget(): number {
    return Math.max(1, Math.floor(this.o.maxBytes / 2));
  }
}
