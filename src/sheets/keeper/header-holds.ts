// Journaled rows the tab's header row cannot take (a column they have values for gone, another
// first column: header-mapping.ts), held in the journal until it can, while the range's other rows
// go on. Which entries are held, so that a drain does not wait for them (its header copy cannot
// change) and a batch Google refuses is halved without them; and the log lines:
// `sheets.rows_held` (error, CORRAL_ERR_APPEND_HEADER) at the first hold of a range, then at most
// once a minute, and `sheets.rows_released` once none of the range's rows is held any more.

import type { Logger } from '../../log/logger.js';
import { RepeatedFailures } from '../../log/repeated-failure.js';

export interface HeldDetail {
  readonly range: string;
  readonly rows: number;
  /** The header row found, and the one the first held rows were built under. */
  readonly header: readonly string[];
  readonly builtUnder: readonly string[];
  readonly problem: string;
  /** What to do about it, when it is not "give the header row those columns again". */
  readonly fix?: string;
}

export class HeaderHolds {
  /** Held entry id → its range. */
  private readonly held = new Map<string, string>();
  private readonly lines: RepeatedFailures;

  constructor(
    private readonly logger: Logger,
    now: () => number,
  ) {
    this.lines = new RepeatedFailures(now);
  }

  isHeld(entryId: string): boolean {
    return this.held.has(entryId);
  }

  /** These entries of `range` could not go under the header found. */
  hold(entryIds: readonly string[], d: HeldDetail): void {
    for (const id of entryIds) this.held.set(id, d.range);
    this.lines.failed(d.range, (holds) =>
      this.logger.error(
        { event: 'sheets.rows_held', code: 'CORRAL_ERR_APPEND_HEADER', range: d.range, rows: d.rows, header: d.header, builtUnder: d.builtUnder, holds },
        `sheets: ${d.rows} journaled row${d.rows === 1 ? '' : 's'} for ${d.range} cannot be written under the tab's header row as it is now: ${d.problem} ` +
          `(found: ${d.header.length > 0 ? d.header.join(', ') : 'nothing'}; the rows were built under: ${d.builtUnder.join(', ')}). Nothing of them was written; they stay in the journal, ` +
          `and the tab's other rows go on. Fix: ${d.fix ?? 'give the header row those columns again (in any order, the first one first); the rows are sent once it does'}` +
          (holds > 1 ? ` (${holds} checks held rows of this range since the last such line)` : ''),
      ),
    );
  }

  /** These entries went under the header found (or left the journal another way). */
  released(entryIds: readonly string[]): void {
    const ranges = new Set<string>();
    for (const id of entryIds) {
      const range = this.held.get(id);
      if (range === undefined) continue;
      this.held.delete(id);
      ranges.add(range);
    }
    for (const range of ranges) {
      if ([...this.held.values()].includes(range)) continue;
      this.lines.ended(range, (holds) =>
        this.logger.info({ event: 'sheets.rows_released', range, holds }, `sheets: every row held for ${range}'s header row is written again (${holds} checks held rows meanwhile)`),
      );
    }
  }
}
