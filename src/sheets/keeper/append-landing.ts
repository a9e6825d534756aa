// Whether Google put appended rows where the range says (the flusher checks every answered append).

import type { Logger } from '../../log/logger.js';
import { startColumnOf } from '../a1.js';

export class LandingCheck {
  /** Ranges whose misplaced appends were already reported. */
  private readonly said = new Set<string>();

  constructor(private readonly logger: Logger) {}

  /**
   * Google starts appended rows at the first column of the table it found, which is not the
   * range's own when the range starts inside a wider table (SHEET_EVENTS_RANGE=Log!B:C over data
   * in column A): the rows are in the sheet, but a read-back looks for their ids in the range's
   * first column and would not find them (an unsure append would be resent), and reads show them
   * shifted. Said once per range, as an error: only the operator can fix the range.
   */
  check(range: string, updatedRange: string): void {
    let landed: number;
    try {
      landed = startColumnOf(updatedRange);
    } catch {
      return;
    }
    const expected = startColumnOf(range);
    if (landed === expected || this.said.has(range)) return;
    this.said.add(range);
    this.logger.error(
      { event: 'sheets.append_misplaced', code: 'CORRAL_ERR_SHEETS_BAD_RANGE', range, updatedRange },
      `sheets: Google appended the rows for ${range} at ${updatedRange}, not from the range's first column: the range starts inside a wider table. Set the range to start at the table's first column (its ids' column)`,
    );
  }
}
