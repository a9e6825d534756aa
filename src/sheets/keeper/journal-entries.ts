// The journal's entries in memory: every entry not yet in Google and, for a while, the done ones
// (retention: a client's retry of an append whose answer was lost is recognised by their row ids,
// and reads of a copy fetched before they reached Google still show them), indexed by row id
// (row-index.ts). Also what the rest of the keeper asks of them: which are due for a flush, which
// rows a read shows, how large the backlog is. No file here: journal.ts writes each change's
// record, then calls in.
//
// Entries journaled for another sheet than the one the keeper opens (SHEET_ID or SHEETS_API_URL
// changed while rows waited) are held: never sent, never shown in reads, kept through every
// rewrite. Rows acknowledged for one sheet appended to another would be wrong in both; the
// keeper says so (journal.held_for_other_sheet), and pointing the settings back at that sheet
// delivers them, as a keeper of that sheet then finds them its own.

import type { JournalEntry } from './journal-replay.js';
import { entryBytes } from './journal-rows.js';
import type { PendingRow } from './merge.js';
import { RowIndex } from './row-index.js';

export interface Retention {
  /** Done entries are kept this long after they reached Google... */
  readonly retainDoneMs: number;
  /** ...and, oldest first, while they hold more rows than this... */
  readonly retainDoneRows: number;
  /** ...and past both while a cached copy of their tab from before `doneAt` is served (journal.ts). */
  readonly copyOlderThan: ((sheet: string, doneAt: number) => boolean) | undefined;
}

/** What the journal holds for one other sheet. */
export interface HeldForOtherSheet {
  readonly destination: string;
  readonly entries: number;
  readonly rows: number;
  /** When the oldest of them was journaled. */
  readonly oldestAt: number;
}

/** Rows restore() indexes between two turns of the event loop (a few tens of ms). */
const RESTORE_SLICE_ROWS = 20_000;

export class JournalEntries {
  private entries = new Map<string, JournalEntry>();
  /** Live entries of other sheets: kept, untouched (see the top of this file). */
  private heldEntries: JournalEntry[] = [];
  readonly rowIds = new RowIndex();
  /** Rows of the done entries kept. */
  private retainedRows = 0;
  /** Journal bytes of the entries not done, held ones included (entryBytes): SHEETS_JOURNAL_MAX_MB's measure. */
  private backlog = 0;
  /** Per tab, when the latest done entry forgotten had reached Google. */
  private readonly forgottenDoneAt = new Map<string, number>();
  /**
   * The same for entries a previous keeper forgot, which this one cannot know: it takes the
   * retention's age at restore (entries forgotten by the row cap may be newer; see forgotAfter).
   */
  private forgottenBeforeStart = -Infinity;

  constructor(private readonly retention: Retention) {}

  /**
   * Takes the entries replayed at open; unsure ones are read back no sooner than `verifyAt`. Those
   * of another sheet than `destination` are held, or dropped when done (their retention serves
   * reads and retries of that sheet only).
   */
  async restore(entries: Map<string, JournalEntry>, now: number, verifyAt: number, destination: string): Promise<void> {
    this.entries = new Map();
    this.heldEntries = [];
    this.retainedRows = 0;
    this.backlog = 0;
    let sinceYield = 0;
    for (const e of entries.values()) {
      // Indexing every row of a large journal took 17 s of the keeper's loop on a loaded 2-core
      // box for 256 MiB (2.9 M rows), its heartbeats with it: the loop turns between slices, so a
      // restart replaying a large journal still beats (audit F3).
      sinceYield += e.rows.length;
      if (sinceYield >= RESTORE_SLICE_ROWS) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // Held entries count too: they are replayed at every start and held in memory all the same.
      if (e.state !== 'done') this.backlog += entryBytes(e.rows, e.header);
      if (e.destination !== destination) {
        if (e.state !== 'done') this.heldEntries.push(e);
        continue;
      }
      this.entries.set(e.id, e);
      // Only this sheet's rows are indexed, and counted as retained. Another sheet's ids were
      // indexed too, for the keeper's life (nothing removes the ids of an entry not in `entries`):
      // an append to this sheet of a row with such an id and the same content was answered 201 as
      // a duplicate of the other sheet's entry and never journaled nor sent here (audit, after a
      // SHEET_ID change), and with other content refused 400 "already journaled". And done rows
      // counted here but never forgotten (forget subtracts) made trimDone drop this sheet's done
      // entries early, and with them the recognition of a retry.
      this.rowIds.add(e);
      if (e.state === 'done') this.retainedRows += e.rows.length;
    }
    this.forgottenBeforeStart = now - this.retention.retainDoneMs;
    // Done entries from before the restart stay a while (trimDone): a worker retrying an append
    // whose answer the crash swallowed is then recognised instead of journaled twice.
    this.trimDone(now);
    for (const e of this.entries.values()) if (e.state === 'unsure') e.nextAttemptAt = verifyAt;
  }

  add(e: JournalEntry): void {
    this.entries.set(e.id, e);
    this.rowIds.add(e);
    if (e.state !== 'done') this.backlog += entryBytes(e.rows, e.header);
  }

  forget(e: JournalEntry): void {
    const known = this.entries.delete(e.id);
    this.rowIds.remove(e);
    if (e.state !== 'done') {
      if (known) this.backlog -= entryBytes(e.rows, e.header);
      return;
    }
    this.retainedRows -= e.rows.length;
    const doneAt = e.doneAt ?? 0;
    if (doneAt > (this.forgottenDoneAt.get(e.sheet) ?? -Infinity)) this.forgottenDoneAt.set(e.sheet, doneAt);
  }

  /**
   * Whether rows of the tab that reached Google after `t` may have been forgotten: a copy of it
   * fetched at `t` would then lack them, and reads of it would not show them (the keeper refuses
   * such a copy from another host: its acceptShared, which shared-copy.ts asks).
   */
  forgotAfter(sheet: string, t: number): boolean {
    return Math.max(this.forgottenDoneAt.get(sheet) ?? -Infinity, this.forgottenBeforeStart) >= t;
  }

  /** Google has the entry's rows since `now` (nothing when it was done already). */
  settle(e: JournalEntry, now: number): void {
    if (e.state === 'done') return;
    e.state = 'done';
    e.doneAt = now;
    this.retainedRows += e.rows.length;
    this.backlog -= entryBytes(e.rows, e.header);
  }

  /** Forgets the done entries past their retention. */
  trimDone(now: number): void {
    const r = this.retention;
    for (const e of this.entries.values()) {
      if (e.state !== 'done') continue;
      // Map order is insertion order: the oldest done entries come first.
      const due = this.retainedRows > r.retainDoneRows || (e.doneAt ?? 0) < now - r.retainDoneMs;
      if (due && !r.copyOlderThan?.(e.sheet, e.doneAt ?? 0)) this.forget(e);
    }
  }

  values(): IterableIterator<JournalEntry> {
    return this.entries.values();
  }

  /** Live entries of other sheets, kept as they were replayed. */
  held(): readonly JournalEntry[] {
    return this.heldEntries;
  }

  /** The entries held for other sheets, per sheet, oldest sheet first. */
  heldForOtherSheets(): HeldForOtherSheet[] {
    const by = new Map<string, { destination: string; entries: number; rows: number; oldestAt: number }>();
    for (const e of this.heldEntries) {
      const h = by.get(e.destination) ?? { destination: e.destination, entries: 0, rows: 0, oldestAt: e.at };
      h.entries++;
      h.rows += e.rows.length;
      h.oldestAt = Math.min(h.oldestAt, e.at);
      by.set(e.destination, h);
    }
    return [...by.values()].sort((a, b) => a.oldestAt - b.oldestAt);
  }

  /** Entries ready for a flush attempt, grouped by target range (one values:append each). */
  due(now: number): Map<string, JournalEntry[]> {
    const out = new Map<string, JournalEntry[]>();
    for (const e of this.entries.values()) {
      if (!e.durable || (e.state !== 'pending' && e.state !== 'unsure') || e.nextAttemptAt > now) continue;
      let list = out.get(e.range);
      if (!list) out.set(e.range, (list = []));
      list.push(e);
    }
    return out;
  }

  /**
   * Rows a read of `sheet` must show on top of an upstream value fetched from `fetchStartedAt`:
   * entries not yet in Google, and entries that reached Google after that fetch began. Each row
   * comes with the range it was appended to, which decides the columns it lands in.
   */
  rowsFor(sheet: string, fetchStartedAt: number): PendingRow[] {
    const out: PendingRow[] = [];
    for (const e of this.entries.values()) {
      if (e.sheet !== sheet || !e.durable) continue;
      if (e.state === 'done' && (e.doneAt ?? 0) < fetchStartedAt) continue;
      for (const cells of e.rows) out.push(e.header ? { range: e.range, cells, header: e.header } : { range: e.range, cells });
    }
    return out;
  }

  /** About how many journal bytes the rows not yet in the sheet take, held ones included (entryBytes). */
  backlogBytes(): number {
    return this.backlog;
  }

  /** Rows not yet confirmed in Google. */
  backlogRows(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.durable && e.state !== 'done') n += e.rows.length;
    return n;
  }

  /** When the oldest row not yet confirmed in Google was journaled; undefined when there is none. */
  oldestBacklogAt(): number | undefined {
    let oldest: number | undefined;
    for (const e of this.entries.values()) if (e.durable && e.state !== 'done' && (oldest === undefined || e.at < oldest)) oldest = e.at;
    return oldest;
  }

  /** Live entries (not done), for tests and the drain loop. */
  live(): JournalEntry[] {
    return [...this.entries.values()].filter((e) => e.durable && e.state !== 'done');
  }
}
