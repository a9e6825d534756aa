// Opening the journal: the file (journal-file.ts: torn tail cut, damaged bytes quarantined), its
// records replayed into entries (journal-replay.ts), and what open found damaged, as the keeper
// reports it.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_DIR_MODE } from '../../private-modes.js';
import { JournalFile, type JournalRecord } from './journal-file.js';
import { replayRecords, type JournalEntry } from './journal-replay.js';
import { isCutWrite } from './journal-scan.js';

/** Where open() copied damaged bytes before dropping them (journal-quarantine.ts). */
export interface QuarantinedDamage {
  readonly path: string;
  /** Each piece's place in the journal, without its bytes (they are in the file). */
  readonly pieces: ReadonlyArray<{ readonly kind: 'skipped' | 'tail'; readonly offset: number; readonly bytes: number; readonly lines: number }>;
  /**
   * False when the only damage is a tail without a newline: the last write, cut short by a crash
   * before its fsync, so never acknowledged. True when a damaged line may have held rows a user
   * was told were saved.
   */
  readonly mayHoldAcknowledged: boolean;
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

/** Opens (creating) `dir`/sheets.journal and replays its records. */
export async function openJournalRecords(dir: string): Promise<OpenedRecords> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const path = join(dir, 'sheets.journal');
  const { file, records, truncatedBytes, skippedLines, skippedBytes, damaged, quarantine } = await JournalFile.open(path);
  const entries = replayRecords(records);
  // A damaged line may have been the send record of an entry that replays as pending: Google may
  // have its rows. Every pending entry is read back before it is sent (a resend without one
  // could duplicate rows).
  if (skippedLines > 0) for (const e of entries.values()) if (e.state === 'pending') e.state = 'unsure';
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
          mayHoldAcknowledged: damaged.some((p) => !isCutWrite(p)),
        }
      : undefined,
  };
}
