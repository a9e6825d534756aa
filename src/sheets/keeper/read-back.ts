// The flusher's reads of a target range's id column (flusher.ts): the read-back that settles
// unsure appends (found → done, absent → pending, part of one → split), and the one more read,
// SHEETS_UNSURE_DELAY after rows were resent, that finds them in the sheet twice (resend-check.ts).
// A file of its own: what a read-back finds and does to the journal is decided here; the flusher
// only decides when a range is read back (its quota, its pass).

import { describeError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { idColumnOf, parseA1 } from '../a1.js';
import type { SheetsBackend } from '../backend.js';
import type { AppendFailureLog } from './append-failure-log.js';
import type { Clock } from './clock.js';
import type { FlushRetries } from './flush-retry.js';
import { headerName } from './header-mapping.js';
import type { Journal, JournalEntry } from './journal.js';
import { withReadCause } from './read-cause.js';
import { ResendCheck } from './resend-check.js';

/**
 * The cell the id column has in the header row of `range` (the range's first row, where the
 * flusher reads the header rows are written under), from that column as read from row 1.
 */
function idColumnHeader(range: string, column: readonly string[]): string {
  let row = 1;
  try {
    row = parseA1(range).area?.startRow ?? 1;
  } catch {
    // Not A1: the read itself would have failed.
  }
  return column[row - 1] ?? '';
}

export interface ReadBackOptions {
  readonly journal: Pick<Journal, 'postpone' | 'split' | 'markDone' | 'markAbsent'>;
  readonly backend: Pick<SheetsBackend, 'getValues'>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly retries: FlushRetries;
  readonly appendFailures: AppendFailureLog;
  /** The flusher's close: a read in flight is aborted with it. */
  readonly signal: AbortSignal;
  /** SHEETS_UNSURE_DELAY: how long after a resend its rows are read once more. */
  readonly unsureDelayMs: number;
}

/** What a read-back settled: rows found in the sheet, and the unsure entries found wholly absent (to resend). */
export interface ReadBackResult {
  readonly found: number;
  readonly absent: readonly JournalEntry[];
}

export class ReadBack {
  /** Rows resent after a read-back, read once more for a late first append (resend-check.ts). */
  private readonly resendCheck: ResendCheck;
  private readonly counts = { rowsFound: 0, verifications: 0 };

  constructor(private readonly o: ReadBackOptions) {
    this.resendCheck = new ResendCheck(o.logger, o.unsureDelayMs);
  }

  /** Rows a read-back found already in the sheet, for the flusher's figures. */
  get rowsFound(): number {
    return this.counts.rowsFound;
  }

  /** Read-backs of unsure appends made, for the flusher's figures. */
  get verifications(): number {
    return this.counts.verifications;
  }

  /** The first cells of `range`'s id column, row 1 first. */
  private async idsOf(range: string): Promise<string[]> {
    const vr = await withReadCause({ clientWaits: false }, () => this.o.backend.getValues(idColumnOf(range), this.o.signal));
    return (vr.values ?? []).map((row) => String(row[0] ?? ''));
  }

  /** The ranges whose resent rows are due for their check at `now`. */
  resendsDue(now: number): string[] {
    return this.resendCheck.due(now);
  }

  /** Reads the ids of `range` to find rows resent after a read-back that are in the sheet twice. */
  async checkResent(range: string): Promise<void> {
    try {
      this.resendCheck.settle(range, await this.idsOf(range));
    } catch {
      // Read again later; the read-back's own failures are said by its own lines.
      this.resendCheck.later(range, this.o.clock.now());
    }
  }

  /** Reads the target back and settles unsure entries: found → done, absent → pending. */
  async verify(range: string, unsure: JournalEntry[]): Promise<ReadBackResult | 'failed'> {
    this.counts.verifications++;
    let column: string[];
    try {
      // Appended rows put their id in the range's first column, possibly below its last row: read
      // that column over the whole tab.
      // No client waits for a read-back: reads that one waits for go first (read-cause.ts),
      // whatever started this flush.
      column = await this.idsOf(range);
    } catch (err) {
      this.o.journal.postpone(unsure, this.o.retries.failed(range, unsure, 'maybe', err));
      this.o.appendFailures.failed(range, 'warn', { err: describeError(err) }, 'sheets: read-back of unsure appends failed; retried later');
      return 'failed';
    }
    // Rows written under a header have their ids in the column that header's first name heads. A
    // column read under another name (one inserted left of the ids, the ids' column moved or
    // renamed since the append) holds none of them whether or not they landed: "absent" read there
    // resent rows that were in the sheet, twice once the header was put back. Such entries wait, as
    // the flusher holds their resend under that header anyway (header-mapping.ts: another first column).
    const headed = idColumnHeader(range, column);
    const elsewhere = unsure.filter((e) => e.header !== undefined && headerName(e.header[0] ?? '') !== headerName(headed));
    if (elsewhere.length > 0) {
      this.o.journal.postpone(elsewhere, this.o.retries.failed(range, elsewhere, 'maybe'));
      this.o.appendFailures.failed(
        range,
        'warn',
        { code: 'CORRAL_ERR_APPEND_HEADER', rows: elsewhere.reduce((n, e) => n + e.rows.length, 0), header_found: headed, header_expected: elsewhere[0]?.header?.[0] ?? '' },
        "sheets: read-back of unsure appends put off: the range's first column is no longer headed by the rows' id column (a column inserted or moved?); read back once the header names it again",
      );
      return 'failed';
    }
    const ids = new Set(column);
    const present: JournalEntry[] = [];
    const absent: JournalEntry[] = [];
    let found = 0;
    for (const e of unsure) {
      const missing = e.rows.filter((row) => !ids.has(row[0] ?? ''));
      if (missing.length === 0) {
        present.push(e);
        found += e.rows.length;
      } else if (missing.length === e.rows.length) {
        absent.push(e);
      } else {
        // Said once the split is written: one that fails is tried again at the next flush.
        await this.o.journal.split(e, missing);
        this.resendCheck.resent(range, missing.map((row) => row[0] ?? ''), this.o.clock.now());
        this.o.logger.warn(
          { event: 'sheets.read_back_partial', range, entry: e.id, missing: missing.length, rows: e.rows.length },
          'sheets: read-back found part of an append; resending the missing rows only',
        );
        found += e.rows.length - missing.length;
      }
    }
    if (present.length > 0) await this.o.journal.markDone(present, 'found');
    if (absent.length > 0) {
      await this.o.journal.markAbsent(absent);
      this.resendCheck.resent(range, absent.flatMap((e) => e.rows.map((row) => row[0] ?? '')), this.o.clock.now());
    }
    this.counts.rowsFound += found;
    const toResend = absent.reduce((n, e) => n + e.rows.length, 0);
    if (found > 0 || absent.length > 0) {
      this.o.logger.info({ event: 'sheets.read_back', range, alreadyThere: found, toResend }, 'sheets: read back unsure appends');
    }
    return { found, absent };
  }
}
