// The copies in a cache handoff file a starting keeper leaves in place until it serves
// (cache-handoff.ts), as its journal's retention sees them. The journal keeps a tab's done entries
// while a copy of it from before them may be served (journal-entries.ts trimDone, asked through
// copyOlderThan); the keeper's read tier answers that for the copies it holds, and this for every
// copy in the file, those the tier did not take too: too old under this keeper's
// SHEET_CACHE_MAX_STALE, pushed out by a smaller cache budget, fetched after now by its clock. A
// keeper that fails before it serves leaves the file to the next one, whose settings may serve
// them: its journal's open (a trim, then a rewrite of the file without what it let go) must have
// kept their done entries, or reads of those copies lack rows the sheet took after they were
// fetched.

import type { HandedCopy } from './cache-handoff.js';
import { sheetOfRange } from './journal-rows.js';

export class HandedCopies {
  /** Per tab, the earliest fetch start of a copy of it in the file. */
  private readonly oldestStart = new Map<string, number>();

  constructor(copies: readonly HandedCopy[]) {
    for (const c of copies) {
      const sheet = sheetOfRange(c.range);
      this.oldestStart.set(sheet, Math.min(this.oldestStart.get(sheet) ?? Infinity, c.fetchStartedAt));
    }
  }

  /** Whether a copy of `sheet` in the file was fetched (begun) at or before `t` (ReadTier.hasValueFetchedBy's bound). */
  fetchedBy(sheet: string, t: number): boolean {
    const start = this.oldestStart.get(sheet);
    return start !== undefined && start <= t;
  }
}
