// The write journal as the keeper's start (keeper.ts) opens it: its size checked against
// SHEETS_JOURNAL_MAX_MB, opened with the keeper's settings and the lines it says while it runs (a
// file replaced under it, slow syncs, a write that hangs, a rewrite that failed), then what the
// open found, said once: damaged bytes removed (`journal.damaged`), a write cut short (`journal.torn_tail`), rows held
// for another sheet, entries replayed. A file of its own: these are the journal's words to the
// operator, and the keeper's start only orders the steps (the journal opens under the lock, after
// the cache handoff is taken, before the flusher and the server).

import { join } from 'node:path';
import { describeError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { Clock } from './clock.js';
import { logHeldForOtherSheet } from './held-rows-log.js';
import { Journal } from './journal.js';
import { JOURNAL_FILE } from './journal-open.js';
import { reportOversizedJournal } from './journal-size-check.js';
import type { KeeperOptions } from './keeper-options.js';
import { JournalSlowSyncLog } from './slow-sync-log.js';
import { JournalSyncStuckLog } from './sync-stuck-log.js';

/** What the keeper was started with that its journal is opened with. */
export type JournalStartOptions = Pick<KeeperOptions, 'settings' | 'logger' | 'clock' | 'unsureDelayMs' | 'onJournalProgress' | 'journalFile'>;

/** What the keeper's start brings to the journal's open. */
export interface JournalStartParts {
  readonly dataDir: string;
  /** The sheet the backend appends to (SheetsBackend.destination). */
  readonly destination: string;
  /** The keeper's clock (its own, or systemClock): the time of slow syncs' lines. */
  readonly clock: Clock;
  /** JournalOptions.copyOlderThan: whether the read tier still serves a copy from before `doneAt`. */
  readonly copyOlderThan: (sheet: string, doneAt: number) => boolean;
}

export type OpenedJournal = Awaited<ReturnType<typeof Journal.open>>;

/** Opens the data dir's journal with the keeper's settings; what the open found is said by reportJournalOpened. */
export async function openKeeperJournal(o: JournalStartOptions, k: JournalStartParts): Promise<OpenedJournal> {
  const s = o.settings;
  const dataDir = k.dataDir;
  const journalPath = join(dataDir, JOURNAL_FILE);
  await reportOversizedJournal(o.logger, journalPath, s.SHEETS_JOURNAL_MAX_MB * 1024 * 1024);
  const slowSyncs = new JournalSlowSyncLog(o.logger, journalPath, () => k.clock.now());
  return Journal.open({
    dir: dataDir,
    destination: k.destination,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.unsureDelayMs !== undefined ? { unsureDelayMs: o.unsureDelayMs } : {}),
    idempotencyTtlMs: s.CORRAL_IDEMPOTENCY_TTL * 1000,
    idempotencyKeysMax: s.CORRAL_IDEMPOTENCY_KEYS,
    maxBacklogBytes: s.SHEETS_JOURNAL_MAX_MB * 1024 * 1024,
    ...(o.onJournalProgress ? { onOpenProgress: o.onJournalProgress } : {}),
    idempotencyKeysPerOwner: s.CORRAL_IDEMPOTENCY_KEYS_PER_PLAYER,
    copyOlderThan: k.copyOlderThan,
    onFileReplaced: (what, d) =>
      o.logger.error(
        { event: 'journal.replaced', code: 'CORRAL_ERR_KEEPER_FILES_REMOVED', journal: journalPath, what, expectedBytes: d.expectedBytes, foundBytes: d.foundBytes ?? null, rowsNotInSheet: d.rowsNotInSheet },
        `keeper: the write journal ${journalPath} was ${what} while the keeper ran, by something other than corral (${d.rowsNotInSheet} acknowledged rows not yet in the sheet were only in its memory); writing it again from memory before the next append: find what removes or edits files in ${dataDir}`,
      ),
    onSlowSync: (ms, bytes) => slowSyncs.said(ms, bytes),
    onSyncStuck: new JournalSyncStuckLog(o.logger, journalPath),
    ...(o.journalFile ? { file: o.journalFile } : {}),
    onCompactionFailed: (err, bytes) =>
      o.logger.warn(
        { event: 'journal.compact_failed', dataDir, bytes, err: describeError(err) },
        `keeper: cannot rewrite the write journal in ${dataDir} (${err.message}); it is appended to as it is and grows until the rewrite succeeds: free space there or make it writable`,
      ),
  });
}

/** What the journal's open found, said once: damaged or cut bytes, rows held for another sheet, entries replayed. */
export function reportJournalOpened(logger: Logger, opened: OpenedJournal, destination: string, clock: Clock): void {
  const { journal, replayed, quarantined, heldForOtherSheets } = opened;
  if (quarantined?.mayHoldAcknowledged) {
    const { skippedLines, skippedBytes, truncatedBytes } = replayed;
    logger.warn(
      { event: 'journal.damaged', journal: journal.path, quarantine: quarantined.path, skippedLines, skippedBytes, truncatedBytes, pieces: quarantined.pieces },
      `keeper: damaged bytes were removed from the write journal after a copy to ${quarantined.path}: inspect it; a row in it that a user was told was saved ` +
        'and that the sheet lacks is lost to corral and can be re-entered by hand; then delete the file (the valid records are kept; a damaged line may have been the send record of rows ' +
        'Google has, so every pending entry is read back before it is sent)',
    );
  } else if (quarantined) {
    // A write cut short by a crash is expected and was never acknowledged: its bytes are kept
    // all the same (they cost a few bytes). A file cut by something else (a truncation, a
    // restore of an older copy) looks the same and may have taken acknowledged rows: when
    // the cut bytes began rows, they are named, at warn, so that the sheet can be checked.
    const rows = quarantined.cutRows;
    const fields = { event: 'journal.torn_tail', journal: journal.path, quarantine: quarantined.path, truncatedBytes: replayed.truncatedBytes, rows };
    // An unfinished group's whole records are such a write too (journal-scan.ts): one that failed
    // part-way and could not be cut before the keeper stopped, its appends refused.
    const said = `keeper: the write journal ended in a write cut short, as a crash cuts one, or that failed part-way (never acknowledged); truncated, its bytes copied to ${quarantined.path}`;
    if (rows.length === 0) logger.info(fields, said);
    else {
      logger.warn(
        fields,
        `${said}. It began ${rows.length} row${rows.length === 1 ? '' : 's'} (${rows.slice(0, 10).join(', ')}${rows.length > 10 ? ', ...' : ''}): ` +
          'after a crash their clients were told nothing, after a failed write that nothing was saved, and retry; if something other than a crash cut the file (a truncation, an older copy put back), they may have been acknowledged: check the sheet for them before deleting that file',
      );
    }
  }
  for (const held of heldForOtherSheets) logHeldForOtherSheet(logger, journal.path, held, destination, clock.now());
  if (replayed.pending + replayed.unsure > 0 || replayed.truncatedBytes > 0 || replayed.skippedLines > 0) {
    logger.info({ event: 'journal.replayed', journal: journal.path, ...replayed }, 'keeper: replaying the write journal (unsure entries are read back before any resend)');
  }
}
