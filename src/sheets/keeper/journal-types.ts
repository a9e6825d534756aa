// What the journal is opened with (JournalOptions) and what an append answers (Receipt).

import type { Clock } from './clock.js';
import type { JournalFileOptions, SyncStuckListener } from './journal-file.js';
import type { FileReplacement } from './journal-file-replacement.js';

export interface JournalOptions {
  readonly dir: string;
  /**
   * The sheet the keeper appends to (SheetsBackend.destination): new entries are for it, and
   * entries journaled for another are held, not sent (journal-entries.ts).
   */
  readonly destination: string;
  /**
   * The keeper's clock (default systemClock): entries' and keys' times in memory are on it; the
   * file holds them on the wall clock, for the next keeper (journal-wall-time.ts).
   */
  readonly clock?: Clock;
  /**
   * Refuse appends of new rows (JournalFullError, CORRAL_ERR_JOURNAL_FULL) while the rows not yet
   * in the sheet take this many journal bytes or more (SHEETS_JOURNAL_MAX_MB); default: no cap.
   */
  readonly maxBacklogBytes?: number;
  /** Told as open() reads the file, chunk by chunk: the bytes read and the file's size. */
  readonly onOpenProgress?: (readBytes: number, totalBytes: number) => void;
  /** Compact (rewrite with only live entries) when the file passes this many bytes. */
  readonly compactBytes?: number;
  /** Done entries kept in memory for read-your-writes and duplicate detection. */
  readonly retainDoneMs?: number;
  readonly retainDoneRows?: number;
  /** Wait before reading back entries found unsure at replay. */
  readonly unsureDelayMs?: number;
  /**
   * Whether a cached copy of the tab keyed `sheet` (sheetKey: a copy of `events!A:Z` is one of the
   * tab Events) fetched no later than `doneAt` is still being served. A done entry
   * past its retention is kept while one is: reads of that copy show its rows from the journal,
   * and forgetting it would make acknowledged rows vanish until the copy is refreshed.
   */
  readonly copyOlderThan?: (sheet: string, doneAt: number) => boolean;
  /** How long an idempotency key is remembered after its request (default 24 h). */
  readonly idempotencyTtlMs?: number;
  /** Most idempotency keys remembered; beyond it the oldest are forgotten early (default 100,000). */
  readonly idempotencyKeysMax?: number;
  /** Most idempotency keys one owner (player) holds; beyond it its own oldest are forgotten (default: no share). */
  readonly idempotencyKeysPerOwner?: number;
  /**
   * Told when a compaction (at open, or after a state change) failed (disk full, data dir not writable), with
   * the file's size. The journal goes on appending to the file as it is, and tries again once the
   * file has grown by another `compactBytes`.
   */
  readonly onCompactionFailed?: (err: Error, bytes: number) => void;
  /**
   * Told when the journal's file was found deleted, replaced or resized by something other than
   * corral (journal-file.ts), before the journal's memory is written back to it: with the rows of
   * the entries not yet in the sheet, which a restart would otherwise have lost.
   */
  readonly onFileReplaced?: (what: FileReplacement, detail: { expectedBytes: number; foundBytes: number | undefined; rowsNotInSheet: number }) => void;
  /**
   * Told when a group's write and fsync took SLOW_SYNC_MS or longer (journal-file.ts), with how
   * long and the bytes written: every append of the group waited as long for its acknowledgement.
   */
  readonly onSlowSync?: (ms: number, bytes: number) => void;
  /**
   * Told when a write of the journal has been in flight SYNC_STUCK_MS (a hung disk), once, and
   * when it returns (journal-sync-watch.ts); new appends are refused meanwhile.
   */
  readonly onSyncStuck?: SyncStuckListener;
  /** What tests replace of the file's I/O: its handles (failures, a hung fsync) and the clock its writes are watched by. */
  readonly file?: Pick<JournalFileOptions, 'wrapHandle' | 'syncClock'>;
}

export interface Receipt {
  readonly id: string;
  readonly rows: number;
  /** Rows recognised as already journaled (identical retry) and not added again. */
  readonly duplicates: number;
  /**
   * The answer stored with the append's idempotency key when that key was already held: this
   * append is a retry, and nothing was journaled for it.
   */
  readonly replayed?: string;
}
