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
  readonly ms: number;
  readonly journalPath: string;
  readonly dataDir: string;
  /** The master is stopping (or a signal stopped the keeper): no keeper of this master follows. */
  readonly leaving: boolean;
}

export function logDrained(logger: Logger, d: DrainedInfo): void {
  const fields = { event: 'keeper.drained', reason: d.reason, rowsLeftInJournal: d.left, ms: d.ms, journal: d.journalPath, dataDir: d.dataDir, leaving: d.leaving };
  if (d.left === 0) {
    logger.info(fields, 'keeper drained; journal flushed');
    return;
  }
  const rows = d.left < 0 ? 'the rows its journal holds (the drain failed before counting them)' : `${d.left} acknowledged row${d.left === 1 ? '' : 's'} not yet in the sheet`;
  const sentBy = `only a corral started with CORRAL_DATA_DIR=${d.dataDir} sends them`;
  if (d.leaving) {
    logger.warn(fields, `keeper stopped with ${rows}: they stay in ${d.journalPath}, and ${sentBy}; a corral started on another data dir does not (wait for journal_backlog 0 before moving or removing ${d.dataDir})`);
    return;
  }
  logger.info(fields, `keeper drained with ${rows}: they stay in ${d.journalPath} for the keeper the master starts next, on the same data dir (${sentBy})`);
}
