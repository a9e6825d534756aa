// `journal.held_for_other_sheet`: the journal holds rows acknowledged for another sheet than the
// one this keeper appends to (journal-entries.ts). Said at every start while it lasts, at error
// level: users were told those rows were saved, and no keeper sends them until the settings point
// at their sheet again.

import type { Logger } from '../../log/logger.js';
import type { HeldForOtherSheet } from './journal.js';

export function logHeldForOtherSheet(logger: Logger, journalPath: string, held: HeldForOtherSheet, destination: string, now: number): void {
  const rows = `${held.rows} row${held.rows === 1 ? '' : 's'}`;
  logger.error(
    {
      event: 'journal.held_for_other_sheet',
      code: 'CORRAL_ERR_JOURNAL_OTHER_SHEET',
      journal: journalPath,
      held_for: held.destination,
      destination,
      rows: held.rows,
      entries: held.entries,
      oldest_age_s: Math.max(0, Math.round((now - held.oldestAt) / 1000)),
    },
    `keeper: the write journal holds ${rows} acknowledged for ${held.destination}, not for ${destination} (SHEET_ID or SHEETS_API_URL changed while they waited); ` +
      'they are kept and not sent here: to deliver them, set SHEET_ID and SHEETS_API_URL back to that sheet and reload, wait until journal_backlog is 0 (corral status), then change them again',
  );
}
