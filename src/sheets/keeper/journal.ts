// The durable write journal. `add()` resolves only once the rows are in the journal file and
// fsynced; the flusher then moves each entry pending → sending → done (or back to pending / unsure).
//
// Record kinds and replay: journal-replay.ts; opening: journal-open.ts; the entries in memory and
// their retention: journal-entries.ts; rewrites: journal-compaction.ts; the file: journal-file.ts.
// An append, up to its acknowledgement: journal-append.ts.
//
// Row identity: the journal relies on the first cell of every appended row being an id unique in
// its tab (the app's event_id). It is what the read-back matches on, and what makes a client
// retrying an identical append harmless (the rows are recognised and not journaled twice).
//
// Request identity: an append may carry an idempotency key (idempotency-keys.ts), kept in its add
// record and for its retention after the rows are gone; a retry with that key gets the first
// answer back and journals nothing.

import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from './clock.js';
import { IdempotencyKeys } from './idempotency-keys.js';
import { JournalAppender, writeFailed } from './journal-append.js';
import { JournalCompaction, snapshotRecords } from './journal-compaction.js';
import { JournalEntries, type HeldForOtherSheet } from './journal-entries.js';
import type { JournalFile } from './journal-file.js';
import { openJournalRecords, type QuarantinedDamage } from './journal-open.js';
import type { JournalEntry } from './journal-replay.js';
import type { JournalOptions, Receipt } from './journal-types.js';
import type { PendingRow } from './merge.js';
import { tabKey, tabNameOf } from '../tab-key.js';

export type { EntryState, JournalEntry } from './journal-replay.js';
export type { QuarantinedDamage } from './journal-open.js';
export type { HeldForOtherSheet } from './journal-entries.js';
export type { JournalOptions, Receipt } from './journal-types.js';
export { sheetKey, validateRows } from './journal-rows.js';

export class Journal {
  /** The entries in memory (journal-entries.ts); this class writes their records. */
  private readonly table: JournalEntries;
  private readonly keys: IdempotencyKeys;
  private readonly clock: Clock;
  private readonly compaction: JournalCompaction;
  /** Appends, up to their acknowledgement (journal-append.ts). */
  private readonly appender: JournalAppender;
  private readonly unsureDelayMs: number;
  private readonly maxBacklogBytes: number;
  private listeners: Array<(name: string) => void> = [];

  private constructor(
    private readonly file: JournalFile,
    options: JournalOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.table = new JournalEntries({
      retainDoneMs: options.retainDoneMs ?? 10 * 60_000,
      retainDoneRows: options.retainDoneRows ?? 20_000,
      copyOlderThan: options.copyOlderThan,
    });
    this.unsureDelayMs = options.unsureDelayMs ?? 3000;
    this.maxBacklogBytes = options.maxBacklogBytes ?? Infinity;
    this.keys = new IdempotencyKeys({
      ttlMs: options.idempotencyTtlMs ?? 24 * 3600_000,
      max: options.idempotencyKeysMax ?? 100_000,
      ...(options.idempotencyKeysPerOwner !== undefined ? { maxPerOwner: options.idempotencyKeysPerOwner } : {}),
    });
    this.appender = new JournalAppender({
      file,
      table: this.table,
      keys: this.keys,
      clock: this.clock,
      destination: options.destination,
      maxBacklogBytes: this.maxBacklogBytes,
      emit: (range) => this.emit(tabNameOf(range)),
    });
    const snapshot = () => snapshotRecords(this.keys, [...this.table.values(), ...this.table.held()], this.clock.now());
    this.compaction = new JournalCompaction(file, snapshot, {
      baseBytes: options.compactBytes ?? 4 * 1024 * 1024,
      ...(options.onCompactionFailed ? { onFailed: options.onCompactionFailed } : {}),
    });
    // What a compaction writes is every record the file must hold: it puts a deleted file back.
    file.recoverReplacementWith({
      snapshot,
      told: (what, expectedBytes, foundBytes) => options.onFileReplaced?.(what, { expectedBytes, foundBytes, rowsNotInSheet: this.backlogRows() + this.heldRows() }),
    });
    if (options.onSlowSync) file.onSlowSync(options.onSlowSync);
    if (options.onSyncStuck) file.onSyncStuck(options.onSyncStuck);
  }

  static async open(
    options: JournalOptions,
  ): Promise<{
    journal: Journal;
    replayed: { pending: number; unsure: number; truncatedBytes: number; skippedLines: number; skippedBytes: number };
    quarantined: QuarantinedDamage | undefined;
    heldForOtherSheets: HeldForOtherSheet[];
  }> {
    // The file's times are the wall clock's, read onto the journal's clock (journal-wall-time.ts).
    const clock = options.clock ?? systemClock;
    const { file, records, entries, truncatedBytes, skippedLines, skippedBytes, quarantined } = await openJournalRecords(options.dir, options.destination, clock, options.onOpenProgress, options.file);
    const journal = new Journal(file, options);
    // An append the previous process sent may still be landing at Google: give it a moment from
    // its send before the read-back decides whether to resend (journal-entries.ts restore).
    await journal.table.restore(entries, journal.clock.now(), journal.clock.now() + journal.unsureDelayMs, options.destination);
    journal.keys.restore(records, journal.clock.now());
    const live = [...journal.table.values()];
    // Start clean: the replayed state in as few records as possible. Not at any price: a data disk
    // with room for appends but not for a second copy of the journal (nearly full) must not keep
    // the keeper down; the file as it is holds every record, and is appended to as it is.
    await journal.compaction.orReport();
    return {
      journal,
      replayed: {
        pending: live.filter((e) => e.state === 'pending').length,
        unsure: live.filter((e) => e.state === 'unsure').length,
        truncatedBytes,
        skippedLines,
        skippedBytes,
      },
      quarantined,
      heldForOtherSheets: journal.table.heldForOtherSheets(),
    };
  }

  get path(): string {
    return this.file.path;
  }

  /**
   * Called with the tab's name, as the rows' range writes it ('' for the first tab), whenever rows
   * become visible to reads (add) or settle (done); listeners compare it by tabKey (tab-key.ts).
   */
  onChange(fn: (name: string) => void): void {
    this.listeners.push(fn);
  }

  /** Journals rows for `range`; resolves once they are fsynced (journal-append.ts). */
  add(range: string, rawRows: unknown, rawClaim?: unknown, rawHeader?: unknown): Promise<Receipt> {
    return this.appender.add(range, rawRows, rawClaim, rawHeader);
  }

  /** Writes state records (send, done, nack, split); a failure names the journal and the errno. */
  private async record(records: Parameters<JournalFile['append']>[0]): Promise<void> {
    try {
      await this.file.append(records);
    } catch (err) {
      throw writeFailed(this.file.path, err);
    }
  }

  private emit(name: string): void {
    for (const fn of this.listeners) fn(name);
  }

  /** Durably notes that these entries are about to be sent; only then may the append leave. */
  async markSending(entries: readonly JournalEntry[]): Promise<void> {
    const now = this.clock.now();
    for (const e of entries) {
      e.state = 'sending';
      e.attempts++;
      e.sentAt = now;
    }
    await this.record([{ k: 'send', ids: entries.map((e) => e.id), at: now }]);
  }

  /** Google has these rows (answered, or found by read-back). */
  async markDone(entries: readonly JournalEntry[], how: 'sent' | 'found', updatedRange?: string): Promise<void> {
    const now = this.clock.now();
    for (const e of entries) this.table.settle(e, now);
    // Memory first: if this write fails, the file still says "sent, unsure", which only costs a read-back.
    await this.record([{ k: 'done', ids: entries.map((e) => e.id), at: now, how, ...(updatedRange ? { u: updatedRange } : {}) }]);
    this.table.trimDone(now);
    const names = new Set<string>();
    for (const range of new Set(entries.map((e) => e.range))) names.add(tabNameOf(range));
    for (const name of names) this.emit(name);
    await this.compaction.ifGrown();
  }

  /** The append failed. 'no': it certainly did not apply; 'maybe': read back before resending. */
  async markFailed(entries: readonly JournalEntry[], applied: 'no' | 'maybe', retryAt: number): Promise<void> {
    for (const e of entries) {
      this.table.setState(e, applied === 'no' ? 'pending' : 'unsure');
      e.nextAttemptAt = retryAt;
    }
    if (applied === 'no') await this.record([{ k: 'nack', ids: entries.map((e) => e.id), at: this.clock.now() }]);
    // While Google refuses every append (a sheet not shared), each retry adds a send and a nack
    // record and no done record ever compacts them: the file grew without bound.
    await this.compaction.ifGrown();
  }

  /** A read-back found these unsure entries absent from the sheet: safe to send again. */
  async markAbsent(entries: readonly JournalEntry[]): Promise<void> {
    for (const e of entries) this.table.setState(e, 'pending');
    await this.record([{ k: 'nack', ids: entries.map((e) => e.id), at: this.clock.now() }]);
    await this.compaction.ifGrown();
  }

  /**
   * A read-back found only some rows of an unsure entry (Google's append is atomic, so this means
   * someone edited the sheet): the entry is done and its missing rows become a new pending entry,
   * in ONE record so no crash can keep one half without the other.
   */
  async split(entry: JournalEntry, missing: readonly (readonly string[])[]): Promise<void> {
    const now = this.clock.now();
    const next: JournalEntry = { ...entry, id: randomUUID(), rows: missing, state: 'pending', doneAt: undefined, attempts: 0, nextAttemptAt: 0 };
    await this.record([{ k: 'split', id: entry.id, nid: next.id, rows: missing, at: now }]);
    this.table.settle(entry, now);
    this.table.add(next);
  }

  /** Puts entries back for a later attempt without a record (nothing was sent). */
  postpone(entries: readonly JournalEntry[], retryAt: number): void {
    for (const e of entries) e.nextAttemptAt = retryAt;
  }

  /** Entries ready for a flush attempt, grouped by target range (one values:append each). */
  due(now: number = this.clock.now()): Map<string, JournalEntry[]> {
    return this.table.due(now);
  }

  /**
   * The target ranges with rows not yet in Google: what a flush pass goes over. Every spelling of
   * one range (`Events`, `events`) is one target, named by one of them (journal-entries.ts).
   */
  backlogRanges(): string[] {
    return this.table.backlogRanges();
  }

  /** The target range `e` is sent with, as backlogRanges() names it. */
  targetOf(e: JournalEntry): string {
    return this.table.targetOf(e);
  }

  /** The unsure entries of `range` due for their read-back (journal-entries.ts). */
  dueUnsure(range: string, now: number): JournalEntry[] {
    return this.table.dueUnsure(range, now);
  }

  /** The pending entries of `range` due at `now`, oldest first, each looked at only when asked for (journal-entries.ts). */
  duePending(range: string, now: number): Iterator<JournalEntry> {
    return this.table.duePending(range, now);
  }

  /**
   * Whether rows of the tab named `sheet`, in any case, that reached Google after `t` may have been
   * forgotten (journal-entries.ts).
   */
  forgotAfter(sheet: string, t: number): boolean {
    return this.table.forgotAfter(tabKey(sheet), t);
  }

  /**
   * Rows a read of the tab named `sheet`, in any case ('' the first tab), must show on top of an
   * upstream value fetched from `fetchStartedAt` (journal-entries.ts).
   */
  rowsFor(sheet: string, fetchStartedAt: number): PendingRow[] {
    return this.table.rowsFor(tabKey(sheet), fetchStartedAt);
  }

  /** Rows not yet confirmed in Google. */
  backlogRows(): number {
    return this.table.backlogRows();
  }

  /** Of backlogRows(), rows sent whose answer was lost, awaiting their read-back. */
  unsureRows(): number {
    return this.table.unsureRows();
  }

  /** About how many journal bytes the rows not yet in the sheet take (SHEETS_JOURNAL_MAX_MB's measure). */
  backlogBytes(): number {
    return this.table.backlogBytes();
  }

  /** SHEETS_JOURNAL_MAX_MB in bytes; Infinity without a cap. */
  get backlogCapBytes(): number {
    return this.maxBacklogBytes;
  }

  /** Rows journaled for other sheets, held (journal-entries.ts). */
  heldRows(): number {
    let n = 0;
    for (const e of this.table.held()) n += e.rows.length;
    return n;
  }

  /** Rows held for other sheets, per sheet, oldest sheet first (journal-entries.ts). */
  heldForOtherSheets(): HeldForOtherSheet[] {
    return this.table.heldForOtherSheets();
  }

  /** When the oldest row not yet confirmed in Google was journaled; undefined when there is none. */
  oldestBacklogAt(): number | undefined {
    return this.table.oldestBacklogAt();
  }

  /** Live entries (not done), for tests and the drain loop. */
  live(): JournalEntry[] {
    return this.table.live();
  }

  fileBytes(): number {
    return this.file.bytes();
  }

  /**
   * How long a write of the journal has been in flight, while past SYNC_STUCK_MS (a hung disk:
   * new appends are refused meanwhile); undefined otherwise.
   */
  syncStuckFor(): number | undefined {
    return this.file.writes.stuckFor();
  }

  /** Appends refused because a write of the journal hung, since the open. */
  appendsRefusedStuck(): number {
    return this.file.writes.refusedSinceOpen;
  }

  /** Rewrites the file with the live entries, the retained done ones and the keys (journal-compaction.ts). */
  compact(): Promise<void> {
    return this.compaction.now();
  }

  fsyncs(): number {
    return this.file.syncCount();
  }

  /** Idempotency keys remembered now, and forgotten early at the cap since start. */
  idempotencyFigures(): { keys: number; evicted: number; ownerEvicted: number } {
    return { keys: this.keys.count(this.clock.now()), evicted: this.keys.evicted, ownerEvicted: this.keys.ownerEvicted };
  }

  /**
   * Checks the file is still the journal's and puts it back from memory if not (journal-file.ts):
   * called on a timer and before a stop, since with no append coming a deleted file would go
   * unnoticed until a restart found it gone.
   */
  verifyFile(): Promise<void> {
    return this.file.verify();
  }

  /**
   * Asks `guard` before each write of the file (journal-file.ts): once it throws (another keeper
   * holds the data dir's lock, lock-fence.ts) nothing more is written or acknowledged.
   */
  guardWritesWith(guard: () => Promise<void>): void {
    this.file.guardWritesWith(guard);
  }

  async close(): Promise<void> {
    await this.compaction.settled();
    // A step of the system clock (or a suspend) since records were written left their wall-clock
    // times off by it (journal-wall-time.ts): written again from memory, at the wall clock's time
    // now, as the drain just wrote the cache handoff. Else the next keeper judged the done entries'
    // retention by times an hour off after a step of an hour, and read-your-writes by a copy's
    // fetch start and a done time moved by different offsets: rows done after a handed copy was
    // fetched were forgotten while it was served without them.
    if (this.file.timesMoved()) await this.compaction.orReport();
    // A file deleted since the last check would take the entries left for the next start with it.
    await this.file.verify().catch(() => undefined);
    await this.file.close();
  }
}
