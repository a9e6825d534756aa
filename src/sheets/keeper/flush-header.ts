// The header row a batch is sent under, for the flusher (flusher.ts): the tab's header read before
// an append whose rows were journaled with theirs, each entry's rows mapped under it
// (header-mapping.ts) or the entry held (header-holds.ts), and, once the copy the rows went under
// expires, one more read that says whether it had changed under them (header-changes.ts). A file of
// its own: the flusher only asks what of a batch goes now, and as which rows; reading the header,
// and what a header that cannot take some rows does to them, are decided here.

import { codeOf, describeError } from '../../errors.js';
import type { AppendFailureLog } from './append-failure-log.js';
import type { FlushRetries } from './flush-retry.js';
import type { HeaderChanges } from './header-changes.js';
import type { HeaderHolds } from './header-holds.js';
import { remapRows } from './header-mapping.js';
import type { Journal, JournalEntry } from './journal.js';

/** A range's header row as the keeper holds it, and when that copy was fetched (the keeper's clock). */
export interface HeaderCopy {
  readonly header: readonly string[];
  readonly fetchedAt: number;
  /**
   * For a range that starts right of column A (`Events!C:G`): the header row's cell in the column
   * just left of it (`B`), '' when empty. Absent: the range starts at A, or the copy cannot say.
   */
  readonly leftOfRange?: { readonly column: string; readonly cell: string };
}

/**
 * Why no row can be appended to `range` now, when its header row reaches left of the range: Google
 * appends "starting with the first column of the table" it finds, and a table holding the header
 * row grows into a column beside it that holds a cell there. Sent anyway, every row landed one
 * column or more to the left (the id under the organiser's column, each value under the next
 * header: sheets.append_misplaced said so once), and an unsure append's read-back, which looks for
 * the ids in the range's first column, found none and sent the rows a second time.
 */
function leftOfRangeProblem(range: string, copy: HeaderCopy): string | undefined {
  const left = copy.leftOfRange;
  if (!left || left.cell.trim() === '') return undefined;
  return (
    `column ${left.column}, just left of the range ${range}, holds ${JSON.stringify(left.cell.trim())} in the header row, so Google would take it for the ` +
    `events table's first column and append the rows from there, each value under the wrong header`
  );
}

/** The tab's header row as it is now (FlusherOptions.headerOf). */
export type HeaderOf = (range: string, opts: { wait: boolean }) => Promise<HeaderCopy | undefined>;

/** What one append sends: the entries and their rows, mapped under the tab's header when `underHeader`. */
export interface Prepared {
  readonly entries: readonly JournalEntry[];
  readonly rows: readonly (readonly string[])[];
  readonly underHeader: boolean;
}

function rowsIn(entries: readonly JournalEntry[]): number {
  return entries.reduce((n, e) => n + e.rows.length, 0);
}

/** A batch under the header `current`: the entries it takes with their rows, and those it cannot take with the first one's problem. */
interface Mapped {
  readonly entries: JournalEntry[];
  readonly rows: (readonly string[])[];
  readonly held: JournalEntry[];
  readonly problem: { text: string; builtUnder: readonly string[] } | undefined;
}

function mapBatch(batch: readonly JournalEntry[], current: readonly string[]): Mapped {
  const entries: JournalEntry[] = [];
  const rows: (readonly string[])[] = [];
  const held: JournalEntry[] = [];
  let problem: { text: string; builtUnder: readonly string[] } | undefined;
  for (const e of batch) {
    if (!e.header) {
      entries.push(e);
      rows.push(...e.rows);
      continue;
    }
    const mapped = remapRows(e.rows, e.header, current);
    if (mapped.ok) {
      entries.push(e);
      rows.push(...mapped.rows);
    } else {
      held.push(e);
      problem ??= { text: mapped.problem, builtUnder: e.header };
    }
  }
  return { entries, rows, held, problem };
}

export interface FlushHeaderOptions {
  /** Absent: rows go as built. */
  readonly headerOf: HeaderOf | undefined;
  readonly changes: HeaderChanges;
  readonly holds: HeaderHolds;
  /** The flusher's close: a header read it cancelled is no failure. */
  readonly signal: AbortSignal;
  readonly journal: Pick<Journal, 'postpone'>;
  readonly retries: FlushRetries;
  readonly appendFailures: AppendFailureLog;
}

export class FlushHeaders {
  /** Ranges whose header confirm() is reading. */
  private readonly confirming = new Set<string>();

  constructor(private readonly o: FlushHeaderOptions) {}

  /**
   * Rows were sent under a copy of `range`'s header: once that copy expires, one more read (the
   * one the workers' reads make while events come) says whether the header had changed under them
   * (`sheets.header_changed`), even when no row follows. Beside the pass, one at a time per range.
   */
  confirm(range: string): void {
    const headerOf = this.o.headerOf;
    if (!headerOf || this.confirming.has(range)) return;
    this.confirming.add(range);
    headerOf(range, { wait: true }).then(
      (copy) => {
        this.confirming.delete(range);
        if (copy && !this.o.signal.aborted) this.o.changes.seen(range, copy.header, copy.fetchedAt);
      },
      // Tried again after the next pass.
      () => this.confirming.delete(range),
    );
  }

  /**
   * What of the batch goes now, and its rows as they go to Google: those journaled with the header
   * they were built under, under the tab's header now (header-mapping.ts). An entry that header
   * cannot take (a column it has values for is gone, the id column is no longer first) waits on its
   * own backoff while the others go: nothing is written misplaced. When the header cannot be read,
   * the batch waits on the range's backoff, as after a failed append; a drain's pass (`wait`
   * false) sends rows with a header only under a copy held fresh, and skips them otherwise.
   */
  async prepare(range: string, batch: readonly JournalEntry[], wait: boolean): Promise<Prepared | 'failed' | 'quota'> {
    const headerOf = this.o.headerOf;
    if (!headerOf || !batch.some((e) => e.header)) return { entries: batch, rows: batch.flatMap((e) => e.rows), underHeader: false };
    let current: readonly string[];
    let copy: HeaderCopy | undefined;
    try {
      copy = await headerOf(range, { wait });
      if (!copy) return 'quota';
      current = copy.header;
      this.o.changes.seen(range, copy.header, copy.fetchedAt);
    } catch (err) {
      // Our own close() cancelled the read: nothing was sent, the rows are as they were.
      if (this.o.signal.aborted) return 'failed';
      // Error when retrying cannot help until the sheet is fixed (a deleted tab), as for an append.
      const level = (err as { retryable?: unknown }).retryable === false ? 'error' : 'warn';
      this.o.appendFailures.failed(
        range,
        level,
        { rows: rowsIn(batch), code: codeOf(err, 'CORRAL_ERR_SHEETS_UPSTREAM'), err: describeError(err) },
        'sheets: the header row the rows are written under could not be read; they stay in the journal and are sent once it is',
      );
      this.o.journal.postpone(batch, this.o.retries.failed(range, batch, 'no', err));
      return 'failed';
    }
    const beside = leftOfRangeProblem(range, copy);
    if (beside !== undefined) {
      // Nothing of the batch goes: each row would be shifted left (flush-header.ts leftOfRangeProblem).
      this.o.holds.hold(
        batch.map((e) => e.id),
        {
          range,
          rows: rowsIn(batch),
          header: current,
          builtUnder: batch.find((e) => e.header)?.header ?? [],
          problem: beside,
          fix: `empty column ${copy.leftOfRange?.column ?? ''} (keep a blank column between the events and other data), or make ${range} start at the table's first column; the rows are sent once it does`,
        },
      );
      for (const e of batch) e.attempts++;
      this.o.journal.postpone(batch, this.o.retries.retryAt(range, batch, 'no'));
      return 'failed';
    }
    const { entries, rows, held, problem } = mapBatch(batch, current);
    this.o.holds.released(entries.map((e) => e.id));
    if (problem) {
      this.o.holds.hold(
        held.map((e) => e.id),
        { range, rows: rowsIn(held), header: current, builtUnder: problem.builtUnder, problem: problem.text },
      );
      // Checked again on a backoff that grows while the header stays as it is (each check may
      // read the header anew once its copy expires).
      for (const e of held) e.attempts++;
      this.o.journal.postpone(held, this.o.retries.retryAt(range, held, 'no'));
    }
    if (entries.length === 0) return 'failed';
    return { entries, rows, underHeader: true };
  }
}
