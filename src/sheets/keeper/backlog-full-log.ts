// Appends refused because the journal's backlog reached SHEETS_JOURNAL_MAX_MB (journal.ts), as log
// lines: `journal.backlog_full` (error) at the first refusal, then at most once a minute with how
// many were refused since, and `journal.backlog_accepting` once an append is journaled again. Every
// append is refused while the sheet takes nothing, so one line per refusal would bury the log.

import type { JournalFullError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { FAILURE_REPEAT_MS, RepeatedFailure } from '../../log/repeated-failure.js';

const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

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

  /** `rowsNow` counts the backlog's rows (a walk of every entry): called only when a line is due. */
  refusedAt(err: JournalFullError, rowsNow: () => number): void {
    this.refusedTotal++;
    this.failure.failed((refused, total) => {
      const backlogRows = rowsNow();
      this.logger.error(
        {
          event: 'journal.backlog_full',
          code: err.code,
          path: err.path,
          backlog_bytes: err.backlogBytes,
          backlog_rows: backlogRows,
          max_bytes: err.maxBytes,
          refused,
          refused_total: total,
        },
        `keeper: the journal ${err.path} holds ${mib(err.backlogBytes)} MiB (${backlogRows} rows) not yet in the sheet, at SHEETS_JOURNAL_MAX_MB=${mib(err.maxBytes)}: ` +
          `new appends are refused, not acknowledged (503 not_saved), until the sheet takes rows again; ${refused} refused since the last such line. ` +
          'Fix why Google does not take them (sheets.append_failed says); raise SHEETS_JOURNAL_MAX_MB only with the keeper\'s heap (NODE_OPTIONS=--max-old-space-size) and CORRAL_TIMEOUT in mind',
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
