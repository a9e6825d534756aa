// The journal's backlog as an alert. Each failed append logs why it failed, a few lines a minute
// for as long as it lasts; none of them says that rows have now waited an hour. This says it once
// the oldest row not yet in Google has waited BACKLOG_STALLED_AFTER_MS (an outage, a deleted tab, a
// sheet no longer shared, a quota exhausted by another app of the project), again every hour while
// it lasts, and once more when the backlog is back under that age.

import type { Logger } from '../../log/logger.js';

/** Age of the oldest row not yet in Google from which the backlog counts as stalled. */
export const BACKLOG_STALLED_AFTER_MS = 5 * 60_000;
/** While it stays stalled, the alert is repeated this often (with the backlog's new size). */
const REPEAT_MS = 60 * 60_000;

export class BacklogAlert {
  private firedAt: number | undefined;

  constructor(private readonly logger: Logger) {}

  /** Called after each flush pass with the time, the oldest backlog row's journaling time, and the backlog's rows. */
  observe(now: number, oldestAt: number | undefined, rows: number): void {
    const ageMs = oldestAt === undefined ? 0 : now - oldestAt;
    if (ageMs < BACKLOG_STALLED_AFTER_MS) {
      if (this.firedAt !== undefined) {
        this.firedAt = undefined;
        this.logger.info({ event: 'journal.backlog_cleared', rows }, 'keeper: the journaled rows that were stalled have reached Google');
      }
      return;
    }
    if (this.firedAt !== undefined && now - this.firedAt < REPEAT_MS) return;
    this.firedAt = now;
    const minutes = Math.floor(ageMs / 60_000);
    this.logger.error(
      { event: 'journal.backlog_stalled', code: 'CORRAL_ERR_JOURNAL_BACKLOG', rows, oldestSeconds: Math.floor(ageMs / 1000) },
      `keeper: ${rows} journaled rows have not reached Google, the oldest for ${minutes} minutes; the append errors logged before this say why. They are kept in the journal and sent once Google takes them`,
    );
  }
}
