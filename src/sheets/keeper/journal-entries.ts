// The journal's entries in memory: every entry not yet in Google and, for a while, the done ones
// (retention: a client's retry of an append whose answer was lost is recognised by their row ids,
// and reads of a copy fetched before they reached Google still show them), indexed by row id
// (row-index.ts). Also what the rest of the keeper asks of them: which are due for a flush, which
// rows a read shows, how large the backlog is. No file here: journal.ts writes each change's
// record, then calls in.
//
// The flusher asks which entries are due, how many rows wait and since when, at every pass (every
// SHEETS_FLUSH_INTERVAL_MS). Each of those was a walk over every entry: during an outage, with a
// backlog of 400k entries, about 185 ms of the keeper's loop per pass (over a second for 1.5M),
// the loop that serves every worker's cached reads, for passes that sent nothing since the tab was
// held on its backoff, and as much again for each retry, which sends one batch. So the entries not
// yet in Google are indexed by target range, a range's unsure ones too: a held range is skipped
// without a look at its entries, a pass walks a range's entries only as far as it sends them
// (duePending), and the rows waiting and the oldest of them are kept as entries come and go, the
// oldest looked for again only once it has left.
//
// A target range is every spelling of one range (rangeKeyOf: `Events!A:E`, `events!A:E` and
// `'Events'!A:E` are the same cells, Google finding tabs whatever the case of their names), named
// to the flusher by the spelling of the entry that began its backlog, kept while it has entries
// not in Google. Keyed by the range as written, two spellings were two targets: sent as two
// appends, each with its own backoff, so that rows acknowledged for `Events` after those for
// `events` could land above them (and a range setting changed in case while rows waited did so
// at every start).
//
// The done entries too were found by a walk over every entry, at each done record (trimDone: every
// batch sent) and each read's merge (rowsFor): catching up a backlog cost the whole backlog per
// batch. They are kept per tab in the order they reached Google (done-queue.ts): retention forgets
// from the front, a read takes the run done since its copy's fetch from the back, and the rows not
// yet in Google from the ranges of its tab (the index above).
//
// Entries journaled for another sheet than the one the keeper opens (SHEET_ID or SHEETS_API_URL
// changed while rows waited) are held: never sent, never shown in reads, kept through every
// rewrite. Rows acknowledged for one sheet appended to another would be wrong in both; the
// keeper says so (journal.held_for_other_sheet), and pointing the settings back at that sheet
// delivers them, as a keeper of that sheet then finds them its own.

import { DoneQueue } from './done-queue.js';
import type { JournalEntry } from './journal-replay.js';
import { entryBytes, rangeKeyOf } from './journal-rows.js';
import type { PendingRow } from './merge.js';
import { RowIndex } from './row-index.js';

export interface Retention {
  /** Done entries are kept this long after they reached Google... */
  readonly retainDoneMs: number;
  /** ...and, those that reached Google first first, while they hold more rows than this... */
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

/** Adds `e` to its target range's set. */
function indexIn(index: Map<string, Set<JournalEntry>>, e: JournalEntry): void {
  let set = index.get(e.rangeKey);
  if (!set) index.set(e.rangeKey, (set = new Set()));
  set.add(e);
}

/** Takes `e` out of its target range's set (the set too once empty); false when it was not in it. */
function indexOut(index: Map<string, Set<JournalEntry>>, e: JournalEntry): boolean {
  const set = index.get(e.rangeKey);
  if (!set?.delete(e)) return false;
  if (set.size === 0) index.delete(e.rangeKey);
  return true;
}

/** The key of a target range the flusher names (rangeKeyOf; a range that does not parse is its own). */
function keyOfTarget(range: string): string {
  try {
    return rangeKeyOf(range);
  } catch {
    return range;
  }
}

/** Whether a live entry may be tried at `now` (its add record written, its backoff passed). */
function isDue(e: JournalEntry, now: number): boolean {
  return e.durable && e.nextAttemptAt <= now;
}

/** A read's journaled row as rowsFor hands it to the merge. */
function pendingRows(e: JournalEntry, out: PendingRow[]): void {
  for (const cells of e.rows) out.push(e.header ? { range: e.range, cells, header: e.header } : { range: e.range, cells });
}

export class JournalEntries {
  private entries = new Map<string, JournalEntry>();
  /** The entries of `entries` not done (being written included), per target range (its key), in journal order. */
  private liveByRange = new Map<string, Set<JournalEntry>>();
  /** The spelling each target range of liveByRange is named by: the range of the entry that began it. */
  private targets = new Map<string, string>();
  /** Those of them unsure (setState), per target range: what a read-back settles. */
  private unsureByRange = new Map<string, Set<JournalEntry>>();
  /** The target ranges (keys) of liveByRange, per tab (its key): what a read of the tab shows (rowsFor). */
  private liveRangesBySheet = new Map<string, Set<string>>();
  /**
   * Each entry's place in journal order (the order of `entries`), counted as it joins: a pass
   * sends the entries it found, not those journaled while it sends; a read shows its rows in it.
   */
  private readonly joined = new WeakMap<JournalEntry, number>();
  private joins = 0;
  /** The done entries of `entries`, per tab, in the order they reached Google (trimDone, rowsFor). */
  private readonly done = new DoneQueue((e) => this.joined.get(e) ?? 0);
  /** Rows of the durable entries of liveByRange: backlogRows(). */
  private liveRows = 0;
  /** When the oldest durable entry of liveByRange was journaled, if known: unknown once it has left (oldestBacklogAt). */
  private oldest: { known: boolean; at: number | undefined } = { known: true, at: undefined };
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
   * Takes the entries replayed at open; unsure ones are read back SHEETS_UNSURE_DELAY (`verifyAt`
   * less `now`) after their send, and no later than `verifyAt` (a send that seems to come after
   * the start, the wall clock stepped back since, waits no longer than from the start). Timed from
   * each start, the read-back was pushed back at every restart: keepers that each ran less than the
   * delay after a master killed mid-stop never read back its 350 rows, all in the sheet. Those
   * of another sheet than `destination` are held, or dropped when done (their retention serves
   * reads and retries of that sheet only).
   */
  async restore(entries: Map<string, JournalEntry>, now: number, verifyAt: number, destination: string): Promise<void> {
    this.entries = new Map();
    this.liveByRange = new Map();
    this.targets = new Map();
    this.unsureByRange = new Map();
    this.liveRangesBySheet = new Map();
    this.done.clear();
    this.liveRows = 0;
    this.oldest = { known: true, at: undefined };
    this.heldEntries = [];
    this.retainedRows = 0;
    this.backlog = 0;
    let sinceYield = 0;
    const done: JournalEntry[] = [];
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
      this.joined.set(e, this.joins++);
      this.addLive(e);
      // Only this sheet's rows are indexed, and counted as retained. Another sheet's ids were
      // indexed too, for the keeper's life (nothing removes the ids of an entry not in `entries`):
      // an append to this sheet of a row with such an id and the same content was answered 201 as
      // a duplicate of the other sheet's entry and never journaled nor sent here (audit, after a
      // SHEET_ID change), and with other content refused 400 "already journaled". And done rows
      // counted here but never forgotten (forget subtracts) made trimDone drop this sheet's done
      // entries early, and with them the recognition of a retry.
      this.rowIds.add(e);
      if (e.state === 'done') {
        this.retainedRows += e.rows.length;
        done.push(e);
      }
    }
    // In the order they reached Google, once: added one by one in journal order, each could walk
    // back over the others.
    done.sort((a, b) => (a.doneAt ?? 0) - (b.doneAt ?? 0) || (this.joined.get(a) ?? 0) - (this.joined.get(b) ?? 0));
    for (const e of done) this.done.add(e);
    this.forgottenBeforeStart = now - this.retention.retainDoneMs;
    // Done entries from before the restart stay a while (trimDone): a worker retrying an append
    // whose answer the crash swallowed is then recognised instead of journaled twice.
    this.trimDone(now);
    const delay = verifyAt - now;
    for (const e of this.entries.values()) if (e.state === 'unsure') e.nextAttemptAt = e.sentAt === undefined ? verifyAt : Math.min(verifyAt, Math.max(now, e.sentAt + delay));
  }

  add(e: JournalEntry): void {
    this.entries.set(e.id, e);
    this.joined.set(e, this.joins++);
    this.addLive(e);
    if (e.state === 'done') this.done.add(e);
    this.rowIds.add(e);
    if (e.state !== 'done') this.backlog += entryBytes(e.rows, e.header);
  }

  /** The entry's add record is written: from now on it is counted in the backlog and may be sent. */
  madeDurable(e: JournalEntry): void {
    if (e.durable) return;
    e.durable = true;
    if (this.liveByRange.get(e.rangeKey)?.has(e)) this.countIn(e);
  }

  /**
   * A live entry's append failed: 'unsure' (it may have been applied: read back before it is sent
   * again) or 'pending'; or a read-back found an unsure one absent: 'pending'. Every change to or
   * from 'unsure' comes here (or settle()): a read-back looks only at the range's unsure entries.
   */
  setState(e: JournalEntry, state: 'pending' | 'unsure'): void {
    e.state = state;
    if (state === 'unsure') {
      if (this.liveByRange.get(e.rangeKey)?.has(e)) indexIn(this.unsureByRange, e);
    } else {
      indexOut(this.unsureByRange, e);
    }
  }

  private addLive(e: JournalEntry): void {
    if (e.state === 'done') return;
    if (!this.liveByRange.has(e.rangeKey)) this.targets.set(e.rangeKey, e.range);
    indexIn(this.liveByRange, e);
    let ranges = this.liveRangesBySheet.get(e.sheet);
    if (!ranges) this.liveRangesBySheet.set(e.sheet, (ranges = new Set()));
    ranges.add(e.rangeKey);
    if (e.state === 'unsure') indexIn(this.unsureByRange, e);
    if (e.durable) this.countIn(e);
  }

  private countIn(e: JournalEntry): void {
    this.liveRows += e.rows.length;
    if (this.oldest.known && (this.oldest.at === undefined || e.at < this.oldest.at)) this.oldest.at = e.at;
  }

  /** Takes a live entry out of the index and the counts (before its state changes: they go by it). */
  private removeLive(e: JournalEntry): void {
    if (!indexOut(this.liveByRange, e)) return;
    if (!this.liveByRange.has(e.rangeKey)) {
      this.targets.delete(e.rangeKey);
      const ranges = this.liveRangesBySheet.get(e.sheet);
      ranges?.delete(e.rangeKey);
      if (ranges?.size === 0) this.liveRangesBySheet.delete(e.sheet);
    }
    indexOut(this.unsureByRange, e);
    if (!e.durable) return;
    this.liveRows -= e.rows.length;
    if (e.at === this.oldest.at) this.oldest = { known: false, at: undefined };
  }

  forget(e: JournalEntry): void {
    const known = this.entries.delete(e.id);
    this.rowIds.remove(e);
    if (e.state !== 'done') {
      this.removeLive(e);
      if (known) this.backlog -= entryBytes(e.rows, e.header);
      return;
    }
    if (known) this.done.remove(e);
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
    this.removeLive(e);
    e.state = 'done';
    e.doneAt = now;
    this.retainedRows += e.rows.length;
    this.backlog -= entryBytes(e.rows, e.header);
    // One the table no longer holds (forgotten meanwhile) is not retained: nothing would forget it.
    if (this.entries.get(e.id) === e) this.done.add(e);
  }

  /**
   * Forgets the done entries past their retention, those that reached Google first first. A tab
   * whose oldest one a copy from before it still needs (copyOlderThan) keeps every later one too:
   * the same copy is older than them. The first due entry of the others not past its retention
   * ends it: the rows retained are within the cap, and every later one is younger.
   */
  trimDone(now: number): void {
    const r = this.retention;
    const kept = new Set<string>();
    for (;;) {
      const e = this.done.oldest(kept);
      if (!e) return;
      const doneAt = e.doneAt ?? 0;
      if (this.retainedRows <= r.retainDoneRows && doneAt >= now - r.retainDoneMs) return;
      if (r.copyOlderThan?.(e.sheet, doneAt)) kept.add(e.sheet);
      else this.forget(e);
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

  /**
   * Entries ready for a flush attempt, grouped by target range (one values:append each, named as
   * backlogRanges() names it), in journal order.
   */
  due(now: number): Map<string, JournalEntry[]> {
    const out = new Map<string, JournalEntry[]>();
    for (const [key, live] of this.liveByRange) {
      const list: JournalEntry[] = [];
      for (const e of live) if (isDue(e, now) && (e.state === 'pending' || e.state === 'unsure')) list.push(e);
      if (list.length > 0) out.set(this.targets.get(key) ?? key, list);
    }
    return out;
  }

  /** The target ranges with entries not yet in Google, each by one spelling (see the top). */
  backlogRanges(): string[] {
    return [...this.liveByRange.keys()].map((key) => this.targets.get(key) ?? key);
  }

  /**
   * The spelling the target range of `e` is named by while it has entries not in Google (the
   * flusher's holds and batches go by it); the entry's own range once it has none.
   */
  targetOf(e: JournalEntry): string {
    return this.targets.get(e.rangeKey) ?? e.range;
  }

  /** The unsure entries of `range` (any spelling of it) due for their read-back at `now`, in journal order. */
  dueUnsure(range: string, now: number): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (const e of this.unsureByRange.get(keyOfTarget(range)) ?? []) if (e.state === 'unsure' && isDue(e, now)) out.push(e);
    return out;
  }

  /**
   * The pending entries of `range` (any spelling of it) due at `now`, in journal order, each looked
   * at only when the caller asks for the next (it stops at a failed batch): of the entries
   * journaled for it by now, not those journaled while the caller goes on (a pass that sent those
   * too could send for as long as rows come in).
   */
  *duePending(range: string, now: number): Generator<JournalEntry, void, undefined> {
    const live = this.liveByRange.get(keyOfTarget(range));
    if (!live) return;
    const before = this.joins;
    // A Set's iterator goes on past entries deleted meanwhile (sent) and to those added.
    for (const e of live) {
      if ((this.joined.get(e) ?? 0) >= before) return;
      if (e.state === 'pending' && isDue(e, now)) yield e;
    }
  }

  /**
   * Rows a read of the tab keyed `sheet` (sheetKey) must show on top of an upstream value fetched
   * from `fetchStartedAt`: entries not yet in Google, and entries that reached Google after that
   * fetch began. Each row comes with the range it was appended to, which decides the columns it
   * lands in.
   */
  rowsFor(sheet: string, fetchStartedAt: number): PendingRow[] {
    // In journal order: each range's entries not yet in Google are in it, the done ones since the
    // fetch (few: retention's) are put in it, and the lists are merged by their heads.
    const place = (e: JournalEntry): number => this.joined.get(e) ?? 0;
    const lists: Array<Iterator<JournalEntry>> = [];
    for (const key of this.liveRangesBySheet.get(sheet) ?? []) lists.push(this.liveByRange.get(key)!.values());
    const done = this.done.since(sheet, fetchStartedAt);
    if (done.length > 0) lists.push(done.sort((a, b) => place(a) - place(b)).values());
    const heads: Array<{ e: JournalEntry; rest: Iterator<JournalEntry> }> = [];
    for (const rest of lists) {
      const first = rest.next();
      if (!first.done) heads.push({ e: first.value, rest });
    }
    const out: PendingRow[] = [];
    while (heads.length > 0) {
      let k = 0;
      for (let i = 1; i < heads.length; i++) if (place(heads[i]!.e) < place(heads[k]!.e)) k = i;
      const h = heads[k]!;
      if (h.e.durable && h.e.sheet === sheet) pendingRows(h.e, out);
      const next = h.rest.next();
      if (next.done) heads.splice(k, 1);
      else h.e = next.value;
    }
    return out;
  }

  /** About how many journal bytes the rows not yet in the sheet take, held ones included (entryBytes). */
  backlogBytes(): number {
    return this.backlog;
  }

  /** Rows not yet confirmed in Google. */
  backlogRows(): number {
    return this.liveRows;
  }

  /**
   * Of backlogRows(), the rows of unsure entries: sent, the answer lost, awaiting their read-back.
   * Counted when asked (a drain's last line), not kept: nothing per append pays for it.
   */
  unsureRows(): number {
    let rows = 0;
    for (const set of this.unsureByRange.values()) for (const e of set) if (e.state === 'unsure') rows += e.rows.length;
    return rows;
  }

  /** When the oldest row not yet confirmed in Google was journaled; undefined when there is none. */
  oldestBacklogAt(): number | undefined {
    if (!this.oldest.known) {
      // Looked for again once the oldest has left (sent): nothing else can make it older.
      let at: number | undefined;
      for (const live of this.liveByRange.values()) for (const e of live) if (e.durable && (at === undefined || e.at < at)) at = e.at;
      this.oldest = { known: true, at };
    }
    return this.oldest.at;
  }

  /** Live entries (not done), for tests and the drain loop. */
  live(): JournalEntry[] {
    return [...this.entries.values()].filter((e) => e.durable && e.state !== 'done');
  }
}
