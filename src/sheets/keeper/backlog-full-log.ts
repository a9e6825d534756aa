// Appends refused because the journal's backlog reached SHEETS_JOURNAL_MAX_MB (journal.ts), as log
// lines: `journal.backlog_full` (error) at the first refusal, then at most once a minute with how
// many were refused since, and `journal.backlog_accepting` once an append is journaled again. Every
// append is refused while the sheet takes nothing, so one line per refusal would bury the log.

import type { JournalFullError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { FAILURE_REPEAT_MS, RepeatedFailure } from '../../log/repeated-failure.js';
import type { HeldForOtherSheet } from './journal-entries.js';

const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;
const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The rows the backlog's bytes are: for this sheet, and held for others (journal-entries.ts). */
export interface BacklogRows {
  /** Rows for this sheet that Google has not taken yet. */
  readonly waiting: number;
  /** Rows acknowledged for other sheets (SHEET_ID changed while they waited), per sheet: never sent here, counted in the cap all the same. */
  readonly held: readonly HeldForOtherSheet[];
}

function rowsText(waiting: number, held: readonly HeldForOtherSheet[]): string {
  if (held.length === 0) return plural(waiting, 'row');
  const heldRows = held.reduce((n, h) => n + h.rows, 0);
  return `${plural(waiting, 'row')} for this sheet, and ${plural(heldRows, 'row')} held for ${held.map((h) => h.destination).join(', ')}`;
}

function untilWhat(waiting: number, heldRows: number): string {
  if (heldRows === 0) return 'the sheet takes rows again';
  return waiting === 0 ? 'the held rows are delivered' : 'the held rows are delivered or the sheet takes rows again';
}

/**
 * What lets appends in again. Held rows are no outage of Google: the sheet takes this keeper's
 * rows, and "fix why Google does not take them" sent the operator looking for a failure that was
 * not there while the held rows alone filled the cap (0 rows not yet in the sheet).
 */
function whatToDo(waiting: number, held: readonly HeldForOtherSheet[]): string {
  const google = 'fix why Google does not take them (sheets.append_failed says)';
  if (held.length === 0) return google.charAt(0).toUpperCase() + google.slice(1);
  const deliver =
    `The held rows are never sent to this sheet (SHEET_ID or SHEETS_API_URL changed while they waited; journal.held_for_other_sheet at each start): ` +
    'to deliver them, set SHEET_ID and SHEETS_API_URL back to their sheet and reload, wait until journal_backlog is 0 (corral status), then change them again';
  return waiting > 0 ? `${deliver}; for the rows of this sheet, ${google}` : deliver;
}

export class BacklogFullLog {
  private readonly failure: RepeatedFailure;
  /** Appends refused at the cap since the keeper started (journalAppendsRefusedFull). */
  private refusedTotal = 0;

  constructor(
    private readonly logger: Logger,
    now: () => number,
  ) {
    this.failure = new RepeatedFailure(now, FAILURE_REPEAT_MS);
  }

  /** Whether the last append was refused at the cap. */
  get full(): boolean {
    return this.failure.failing;
  }

  get refused(): number {
    return this.refusedTotal;
  }

  /**
   * `rowsNow` counts the backlog's rows (a walk of every entry) and those held for other sheets:
   * called only when a line is due.
   */
  refusedAt(err: JournalFullError, rowsNow: () => BacklogRows): void {
    this.refusedTotal++;
    this.failure.failed((refused, total) => {
      const { waiting, held } = rowsNow();
      const heldRows = held.reduce((n, h) => n + h.rows, 0);
      this.logger.error(
        {
          event: 'journal.backlog_full',
          code: err.code,
          path: err.path,
          backlog_bytes: err.backlogBytes,
          backlog_rows: waiting,
          held_rows: heldRows,
          held_for: held.map((h) => h.destination),
          max_bytes: err.maxBytes,
          refused,
          refused_total: total,
        },
        `keeper: the journal ${err.path} holds ${mib(err.backlogBytes)} MiB (${rowsText(waiting, held)}) not yet in ${heldRows > 0 ? 'a' : 'the'} sheet, at SHEETS_JOURNAL_MAX_MB=${mib(err.maxBytes)}: ` +
          `new appends are refused, not acknowledged (503 not_saved), until ${untilWhat(waiting, heldRows)}; ${refused} refused since the last such line. ` +
          `${whatToDo(waiting, held)}; raise SHEETS_JOURNAL_MAX_MB only with the keeper's heap (NODE_OPTIONS=--max-old-space-size) and CORRAL_TIMEOUT in mind`,
      );
    });
  }

  accepted(backlogBytes: number, maxBytes: number): void {
    this.failure.ended((refused) =>
      this.logger.info(
        { event: 'journal.backlog_accepting', backlog_bytes: backlogBytes, max_bytes: maxBytes, refused },
        `keeper: the journal's backlog is under SHEETS_JOURNAL_MAX_MB again (${mib(backlogBytes)} of ${mib(maxBytes)} MiB): appends are journaled again; ${refused} were refused meanwhile`,
      ),
    );
  }
}
