// `sheets.header_changed`: rows that may have been written under a header row that had already
// changed.
//
// The flusher writes rows journaled with their header under the tab's header as the keeper last
// read it, a copy at most SHEET_CACHE_TTL old (header-mapping.ts). Reading it before every append
// would spend the read quota (60 a minute by default) on a row that rarely changes, and no read
// makes an append atomic with it anyway: the Sheets API has no conditional append. So an edit made
// while rows are being sent may reach the rows sent in the TTL after it too late, and they are
// written in the order before it. Whether they were cannot be told afterwards (an organiser who
// moves columns moves the cells already there with them), but which rows may have been can: those
// sent under a copy of the header that the next copy contradicts. They are named, with the cells
// they were written to, for the operator to check.

import type { Logger } from '../../log/logger.js';
import { headerName } from './header-mapping.js';

/** Ranges named in one line at most; the count says how many there were. */
const RANGES_SHOWN = 20;

interface CopyUsed {
  readonly header: readonly string[];
  readonly fetchedAt: number;
  /** Where the rows sent under this copy were written (Google's updatedRange of each append), the first RANGES_SHOWN. */
  readonly written: string[];
  /** Appends past those. */
  moreRanges: number;
  rows: number;
}

/**
 * Whether a value written under `before` may be under another name in `after`: a name of `before`
 * no longer at its column. Columns added right of it, or a name given to a column without one,
 * misplace nothing.
 */
function moved(before: readonly string[], after: readonly string[]): boolean {
  return before.some((c, i) => headerName(c) !== '' && headerName(c) !== headerName(after[i] ?? ''));
}

export class HeaderChanges {
  private readonly used = new Map<string, CopyUsed>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** The flusher got a copy of `range`'s header, fetched at `fetchedAt` (the keeper's clock), to send rows under. */
  seen(range: string, header: readonly string[], fetchedAt: number): void {
    const before = this.used.get(range);
    if (before && before.fetchedAt === fetchedAt) return;
    if (before && before.rows > 0 && moved(before.header, header)) {
      const seconds = Math.max(1, Math.ceil((this.now() - before.fetchedAt) / 1000));
      const shown = before.written;
      const more = before.moreRanges;
      this.logger.warn(
        { event: 'sheets.header_changed', range, header_before: before.header, header, rows: before.rows, written: shown, more_ranges: more, within_s: seconds },
        `sheets: the header row of ${range} changed in the last ${seconds} s (from ${before.header.join(', ')} to ${header.join(', ')}); ` +
          `${before.rows} row${before.rows === 1 ? ' was' : 's were'} written in that time under the one before, to ${shown.join(', ')}${more > 0 ? ` and ${more} more ranges` : ''}. ` +
          'Those written after the edit are in the order before it: check them, and move their cells under the right headers by hand. ' +
          'An edit made with no rows coming, or with corral stopped, needs no check',
      );
    }
    this.used.set(range, { header, fetchedAt, written: [], moreRanges: 0, rows: 0 });
  }

  /** Ranges rows were sent under a copy of whose header no later copy was seen yet. */
  unconfirmed(): string[] {
    return [...this.used].filter(([, copy]) => copy.rows > 0).map(([range]) => range);
  }

  /**
   * Rows sent under the copy last seen for `range`: written to `updatedRange` (Google's answer), or
   * perhaps written (`unsureIds`: the answer was lost; a read-back settles whether they landed).
   */
  written(range: string, rows: number, where: { readonly updatedRange: string | undefined } | { readonly unsureIds: readonly string[] }): void {
    const copy = this.used.get(range);
    if (!copy) return;
    copy.rows += rows;
    const shown = 'unsureIds' in where ? where.unsureIds.map((id) => `row ${id} (its append's answer was lost)`) : where.updatedRange ? [where.updatedRange] : [];
    for (const place of shown) {
      if (copy.written.length < RANGES_SHOWN) copy.written.push(place);
      else copy.moreRanges++;
    }
  }
}
