// Opening the journal: the file (JournalFile.open, whose read, cut of a torn tail and quarantine of
// damaged bytes are journal-file-open.ts's), its records replayed into entries (journal-replay.ts),
// and what open found damaged, as the keeper reports it.

import { join } from 'node:path';
import { DataDirWriteError } from '../../errors.js';
import { makeDirs } from '../../make-dirs.js';
import { PRIVATE_DIR_MODE } from '../../private-modes.js';
import type { Clock } from './clock.js';
import { JournalFile, type JournalFileOptions, type JournalRecord } from './journal-file.js';
import { replayable, replayRecords, type JournalEntry } from './journal-replay.js';
import { isCutWrite } from './journal-scan.js';

/** The journal's file name in the data dir. */
export const JOURNAL_FILE = 'sheets.journal';

/** Where open() copied damaged bytes before dropping them (journal-quarantine.ts). */
export interface QuarantinedDamage {
  readonly path: string;
  /** Each piece's place in the journal, without its bytes (they are in the file). */
  readonly pieces: ReadonlyArray<{ readonly kind: 'skipped' | 'tail'; readonly offset: number; readonly bytes: number; readonly lines: number }>;
  /**
   * False when the only damage is a tail without a newline: the last write, cut short by a crash
   * before its fsync, so never acknowledged. True when a damaged line may have held rows a user
   * was told were saved, or the send record of rows Google has: every pending entry was then made
   * unsure (read back before it is sent).
   */
  readonly mayHoldAcknowledged: boolean;
  /**
   * The first cell (the event's id) of each row whose add record a write cut short began: never
   * acknowledged when a crash cut the write, as is usual; possibly acknowledged when something
   * else cut the file (a truncation, a restore of an older copy), which looks the same.
   */
  readonly cutRows: readonly string[];
}

export interface OpenedRecords {
  readonly file: JournalFile;
  readonly records: readonly JournalRecord[];
  readonly entries: Map<string, JournalEntry>;
  readonly truncatedBytes: number;
  readonly skippedLines: number;
  readonly skippedBytes: number;
  readonly quarantined: QuarantinedDamage | undefined;
}

/**
 * Opens (creating) `dir`/sheets.journal and replays its records, their times on `clock` (the
 * keeper's: the file holds the wall clock's, JournalFileOptions.clock); `onProgress`:
 * JournalFileOptions.onProgress; `fileOptions`: what tests replace of the file's I/O.
 */
export async function openJournalRecords(
  dir: string,
  destination: string,
  clock: Pick<Clock, 'wallOffset'>,
  onProgress?: (readBytes: number, totalBytes: number) => void,
  fileOptions: Pick<JournalFileOptions, 'wrapHandle' | 'syncClock'> = {},
): Promise<OpenedRecords> {
  await makeDirs(dir, PRIVATE_DIR_MODE).catch((err: unknown) => {
    throw new DataDirWriteError('the data dir (CORRAL_DATA_DIR)', dir, err);
  });
  const path = join(dir, JOURNAL_FILE);
  const { file, records, truncatedBytes, skippedLines, skippedBytes, damaged, quarantine } = await JournalFile.open(path, { ...fileOptions, clock, accepts: replayable, ...(onProgress ? { onProgress } : {}) });
  const entries = await replayRecords(records, destination);
  // The rule: any damaged WHOLE line, skipped (valid records follow it) or in the tail, may have
  // been the send record of an entry that replays as pending, so Google may have its rows: every
  // pending entry becomes unsure and is read back before it is sent (a resend without one could
  // duplicate rows). Whether that line was the last one does not matter: a `send` cut off with the
  // tail duplicated rows just as one skipped in the middle would.
  // A write cut short (a tail without a newline, isCutWrite) is the one exception: its group was
  // never fsynced whole, and the flusher calls Google only once a batch's send record is durable
  // (Flusher.send awaits markSending), so no append left for a send record in it, and no add in it
  // was acknowledged. So are the whole records of an unfinished last group (journal-scan.ts), cut
  // with it: a write that failed part-way (its appends refused, the batches of its send records
  // never sent) and could not be cut, or one a crash cut after whole records; a send record cut
  // with them leaves its entries as they were before it, and no call followed it. Their entries
  // stay pending and go out at once: that is every crash mid-write,
  // too common to pay SHEETS_UNSURE_DELAY and a read-back for. It must still be cut
  // (journal-file-open.ts: a record appended behind it would share its line) and copied to the
  // quarantine first. Damage that took the last newline with it (a zeroed last block) looks the
  // same and is treated the same: only a whole line is evidence that an fsynced record was lost.
  const mayHoldAcknowledged = damaged.some((p) => !isCutWrite(p));
  if (mayHoldAcknowledged) for (const e of entries.values()) if (e.state === 'pending') e.state = 'unsure';
  return {
    file,
    records,
    entries,
    truncatedBytes,
    skippedLines,
    skippedBytes,
    quarantined: quarantine
      ? {
          path: quarantine,
          pieces: damaged.map((p) => ({ kind: p.kind, offset: p.offset, bytes: p.bytes.length, lines: p.lines })),
          mayHoldAcknowledged,
          cutRows: damaged.filter(isCutWrite).flatMap((p) => rowsBegunIn(p.bytes)),
        }
      : undefined,
  };
}

/**
 * The first cells of the rows of the add records begun in `bytes` (a cut write: its last record is
 * incomplete JSON; an unfinished group: whole records before it). One line at a time: a line is
 * one record, so the rows of a later record (a split's) are never taken for an add's.
 */
export function rowsBegunIn(bytes: Buffer): string[] {
  const ids: string[] = [];
  for (const record of bytes.toString('utf8').split('\n').flatMap((line) => line.split('{"k":"add"').slice(1))) {
    const at = record.indexOf('"rows":[');
    if (at < 0) continue;
    // Each row opens the list or follows the row before it: `[["a",...],["b",...]]`. Inside a
    // JSON string `],["` cannot occur, its quote being escaped.
    for (const row of record.slice(at + '"rows":['.length).matchAll(/(?:^|\],)\["((?:[^"\\]|\\.)*)"/g)) {
      try {
        ids.push(JSON.parse(`"${row[1]}"`) as string);
      } catch {
        // An escape cut in half: not a whole id.
      }
    }
  }
  return ids;
}
