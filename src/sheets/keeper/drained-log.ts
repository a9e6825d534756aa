// `keeper.drained`: the keeper stopped, and what its journal still holds. The line said "kept for
// the next start" whatever came next, and an audit found it false: a reload had moved the keeper
// to another CORRAL_DATA_DIR, the next start used that dir, and the 30 rows it named were never
// sent. A journal is sent only by a keeper on its own data dir, so the line names the file and the
// dir. A reload no longer moves the data dir (master/reload-plan.ts keptDataDir), so a keeper
// drained while the master goes on runs is followed at once by one on the same dir (info); a
// keeper stopped with the master (or by a signal) leaves its rows for whichever corral is next
// started on that dir, maybe none: warn, for the operator about to move or remove it.

import type { Logger } from '../../log/logger.js';

export interface DrainedInfo {
  readonly reason: string;
  /** Rows not yet in the sheet (journalBacklogRows); -1 when the drain failed and did not count. */
  readonly left: number;
  /**
   * Rows held for other sheets (SHEET_ID or SHEETS_API_URL changed while they waited), which no
   * drain sends: left in the journal as surely as rows the sheet did not take. Absent: none.
   */
  readonly held?: number;
  /**
   * Of `left`, rows of appends sent whose answer was lost (a stop's cancel, a timeout, a crash
   * mid-call): perhaps in the sheet already, read back before any resend. Absent: none.
   */
  readonly unsure?: number;
  readonly ms: number;
  readonly journalPath: string;
  readonly dataDir: string;
  /** The master is stopping (or a signal stopped the keeper): no keeper of this master follows. */
  readonly leaving: boolean;
}

/**
 * Rows of appends whose answer was lost are not said to be absent: a master killed mid-stop left
 * 350 such rows, all in the sheet, and every stop of the keepers after it said "350 acknowledged
 * rows not yet in the sheet" until one of them had read them back.
 */
function leftWords(left: number, unsure: number): string {
  const rows = `${left} acknowledged row${left === 1 ? '' : 's'}`;
  if (unsure <= 0) return `${rows} not yet in the sheet`;
  const which = unsure === left ? `all ${unsure}` : `${unsure} of them`;
  return `${rows} not yet known to be in the sheet (${which} sent to Google, the answer lost: maybe in the sheet already; the next keeper reads the sheet back SHEETS_UNSURE_DELAY after their send and resends only those it does not find)`;
}

export function logDrained(logger: Logger, d: DrainedInfo): void {
  const fields = { event: 'keeper.drained', reason: d.reason, rowsLeftInJournal: d.left, ...(d.unsure ? { rowsAwaitingReadBack: d.unsure } : {}), ...(d.held ? { rowsHeldForOtherSheets: d.held } : {}), ms: d.ms, journal: d.journalPath, dataDir: d.dataDir, leaving: d.leaving };
  const held = d.held ?? 0;
  if (d.left === 0 && held === 0) {
    logger.info(fields, 'keeper drained; journal flushed');
    return;
  }
  const waiting = d.left < 0 ? 'the rows its journal holds (the drain failed before counting them)' : d.left > 0 ? leftWords(d.left, d.unsure ?? 0) : '';
  // Said as rows left, not "flushed": that line is what an operator reads before moving or
  // removing the data dir, and held rows were acknowledged all the same.
  const heldWords = held > 0 ? `${held} acknowledged row${held === 1 ? '' : 's'} held for another sheet (journal.held_for_other_sheet: sent only by a keeper of that sheet)` : '';
  const rows = [waiting, heldWords].filter((w) => w !== '').join(', and ');
  const sentBy = `only a corral started with CORRAL_DATA_DIR=${d.dataDir} sends them`;
  // journal_backlog counts this sheet's rows only: with rows held it reads 0 while they are there.
  const waitFor = held > 0 ? 'journal_backlog 0 and sheets.journal_held_rows 0 (held rows go once SHEET_ID and SHEETS_API_URL name their sheet again)' : 'journal_backlog 0';
  if (d.leaving) {
    logger.warn(fields, `keeper stopped with ${rows}: they stay in ${d.journalPath}, and ${sentBy}; a corral started on another data dir does not (wait for ${waitFor} before moving or removing ${d.dataDir})`);
    return;
  }
  logger.info(fields, `keeper drained with ${rows}: they stay in ${d.journalPath} for the keeper the master starts next, on the same data dir (${sentBy})`);
}
