// Writes the server acknowledged but could not yet put in the Google Sheet, said after the run.
//
// corral answers POST /api/events 201 once the row is in its journal, and sends it to Google in
// batches: while Google refuses or fails, every write still says 201 and the run counts no error,
// though nothing reaches the sheet (an audit: Google down, 50 writes, "0 errors", the server's
// journal 50 rows behind and growing). The run's own figures cannot see that; the admin API can.

import type { ServerSample } from './sampler.js';

/**
 * How old the oldest journaled row may be at the end of a run before it is worth a note: corral
 * sends the journal every second or so, and a busy minute's batches wait on the write quota.
 */
export const JOURNAL_NOTE_AGE_S = 30;

/** A note when the last sample shows rows acknowledged long ago and not in the sheet; else undefined. */
export function journalNote(samples: readonly ServerSample[]): string | undefined {
  let last: ServerSample | undefined;
  for (const s of samples) if (s.journalBacklog !== undefined) last = s;
  if (!last || !last.journalBacklog || (last.journalOldestS ?? 0) < JOURNAL_NOTE_AGE_S) return undefined;
  const rows = `${last.journalBacklog} row${last.journalBacklog === 1 ? '' : 's'}`;
  return (
    `at the end of the run the server's write journal held ${rows} not yet in the Google Sheet, the oldest ${last.journalOldestS} s old: ` +
    'writes answered 201 are safe in the journal but Google is not taking them (the server log says why: sheets.append_failed, journal.backlog_stalled); they reach the sheet once it does'
  );
}
