// The durable write journal. `add()` resolves only once the rows are in the journal file and
// fsynced; the flusher then moves each entry pending → sending → done (or back to pending / unsure).
//
// Record kinds and replay: journal-replay.ts.
//
// Row identity: the journal relies on the first cell of every appended row being an id unique in
// its tab (the app's event_id). It is what the read-back matches on, and what makes a client
// retrying an identical append harmless (the rows are recognised and not journaled twice).
//
// Request identity: an append may carry an idempotency key (idempotency-keys.ts), kept in its add
// record and for its retention after the rows are gone; a retry with that key gets the first
// answer back and journals nothing.

import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DataDirWriteError } from '../../errors.js';
import { systemClock, type Clock } from './clock.js';
import { JournalFile, type JournalRecord } from './journal-file.js';
import { isCutWrite } from './journal-scan.js';
import { IdempotencyKeys, validateClaim, type IdempotencyClaim } from './idempotency-keys.js';
import { replayRecords, type JournalEntry } from './journal-replay.js';
import { appendInvalid, sheetKey, validateRows } from './journal-rows.js';
import type { PendingRow } from './merge.js';
import { RowIndex } from './row-index.js';

export type { EntryState, JournalEntry } from './journal-replay.js';
export { sheetKey, validateRows } from './journal-rows.js';

export interface JournalOptions {
  readonly dir: string;
  readonly clock?: Clock;
  /** Compact (rewrite with only live entries) when the file passes this many bytes. */
  readonly compactBytes?: number;
  /** Done entries kept in memory for read-your-writes and duplicate detection. */
  readonly retainDoneMs?: number;
  readonly retainDoneRows?: number;
  /** Wait before reading back entries found unsure at replay. */
  readonly unsureDelayMs?: number;
  /**
   * Whether a cached copy of `sheet` fetched no later than `doneAt` is still being served. A done entry
   * past its retention is kept while one is: reads of that copy show its rows from the journal,
   * and forgetting it would make acknowledged rows vanish until the copy is refreshed.
   */
  readonly copyOlderThan?: (sheet: string, doneAt: number) => boolean;
  /** How long an idempotency key is remembered after its request (default 24 h). */
  readonly idempotencyTtlMs?: number;
  /** Most idempotency keys remembered; beyond it the oldest are forgotten early (default 100,000). */
  readonly idempotencyKeysMax?: number;
  /**
   * Told when a compaction (at open, or after a state change) failed (disk full, data dir not writable), with
   * the file's size. The journal goes on appending to the file as it is, and tries again once the
   * file has grown by another `compactBytes`.
   */
  readonly onCompactionFailed?: (err: Error, bytes: number) => void;
}

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

export class Journal {
  private entries = new Map<string, JournalEntry>();
  private readonly rowIds = new RowIndex();
  private readonly keys: IdempotencyKeys;
  private readonly clock: Clock;
  private compactAt: number;
  private readonly baseCompactBytes: number;
  private compacting: Promise<void> | undefined;
  private readonly retainDoneMs: number;
  private readonly retainDoneRows: number;
  private retainedRows = 0;
  private readonly unsureDelayMs: number;
  private readonly copyOlderThan: JournalOptions['copyOlderThan'];
  private readonly onCompactionFailed: JournalOptions['onCompactionFailed'];
  private listeners: Array<(sheet: string) => void> = [];

  private constructor(
    private readonly file: JournalFile,
    options: JournalOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.baseCompactBytes = options.compactBytes ?? 4 * 1024 * 1024;
    this.compactAt = this.baseCompactBytes;
    this.retainDoneMs = options.retainDoneMs ?? 10 * 60_000;
    this.retainDoneRows = options.retainDoneRows ?? 20_000;
    this.unsureDelayMs = options.unsureDelayMs ?? 3000;
    this.copyOlderThan = options.copyOlderThan;
    this.onCompactionFailed = options.onCompactionFailed;
    this.keys = new IdempotencyKeys({ ttlMs: options.idempotencyTtlMs ?? 24 * 3600_000, max: options.idempotencyKeysMax ?? 100_000 });
  }

  static async open(
    options: JournalOptions,
  ): Promise<{
    journal: Journal;
    replayed: { pending: number; unsure: number; truncatedBytes: number; skippedLines: number; skippedBytes: number };
    quarantined: QuarantinedDamage | undefined;
  }> {
    await mkdir(options.dir, { recursive: true });
    const path = join(options.dir, 'sheets.journal');
    const { file, records, truncatedBytes, skippedLines, skippedBytes, damaged, quarantine } = await JournalFile.open(path);
    const journal = new Journal(file, options);
    const entries = replayRecords(records);
    // A damaged line may have been the send record of an entry that replays as pending: Google may
    // have its rows. Every pending entry is read back before it is sent (a resend without one
    // could duplicate rows).
    if (skippedLines > 0) for (const e of entries.values()) if (e.state === 'pending') e.state = 'unsure';
    journal.restore(entries);
    journal.keys.restore(records, journal.clock.now());
    const live = [...journal.entries.values()];
    // Start clean: the replayed state in as few records as possible. Not at any price: a data disk
    // with room for appends but not for a second copy of the journal (nearly full) must not keep
    // the keeper down; the file as it is holds every record, and is appended to as it is.
    await journal.compactOrReport();
    return {
      journal,
      replayed: {
        pending: live.filter((e) => e.state === 'pending').length,
        unsure: live.filter((e) => e.state === 'unsure').length,
        truncatedBytes,
        skippedLines,
        skippedBytes,
      },
      quarantined: quarantine
        ? {
            path: quarantine,
            pieces: damaged.map((p) => ({ kind: p.kind, offset: p.offset, bytes: p.bytes.length, lines: p.lines })),
            mayHoldAcknowledged: damaged.some((p) => !isCutWrite(p)),
          }
        : undefined,
    };
  }

  get path(): string {
    return this.file.path;
  }

  /** Called with the tab name whenever rows become visible to reads (add) or settle (done). */
  onChange(fn: (sheet: string) => void): void {
    this.listeners.push(fn);
  }

  private restore(entries: Map<string, JournalEntry>): void {
    this.entries = entries;
    for (const e of entries.values()) {
      this.rowIds.add(e);
      if (e.state === 'done') this.retainedRows += e.rows.length;
    }
    // Done entries from before the restart stay a while (trimDone): a worker retrying an append
    // whose answer the crash swallowed is then recognised instead of journaled twice.
    this.trimDone(this.clock.now());
    // An append the previous process sent may still be landing at Google: give it a moment before
    // the read-back decides whether to resend.
    const verifyAt = this.clock.now() + this.unsureDelayMs;
    for (const e of this.entries.values()) if (e.state === 'unsure') e.nextAttemptAt = verifyAt;
  }

  private forget(e: JournalEntry): void {
    this.entries.delete(e.id);
    this.rowIds.remove(e);
    if (e.state === 'done') this.retainedRows -= e.rows.length;
  }

  /**
   * Journals rows for `range`; resolves once they are fsynced. Rows whose id is already journaled
   * with identical content (a retried request) are acknowledged without a second copy; an id
   * journaled with different content is refused. With an idempotency claim whose key is held, the
   * append is answered from the key (or refused: another request's key, or one still in flight).
   */
  async add(range: string, rawRows: unknown, rawClaim?: unknown): Promise<Receipt> {
    let sheet: string;
    try {
      sheet = sheetKey(range);
    } catch (err) {
      throw appendInvalid(`bad range ${JSON.stringify(range)}: ${(err as Error).message}`, err);
    }
    const rows = validateRows(rawRows);
    const claim = validateClaim(rawClaim);
    const now = this.clock.now();
    if (claim) {
      const replayed = this.keys.lookup(claim, now);
      if (replayed !== undefined) return { id: '', rows: rows.length, duplicates: rows.length, replayed };
    }
    const { fresh, firstKnown, inFlight } = this.rowIds.match(sheet, rows);
    if (fresh.length === 0) {
      if (claim) await this.writeKey(claim, now, inFlight);
      else await this.awaitSynced(inFlight);
      return { id: firstKnown ?? '', rows: rows.length, duplicates: rows.length };
    }
    const entry: JournalEntry = {
      id: randomUUID(),
      range,
      sheet,
      rows: fresh,
      at: now,
      state: 'pending',
      durable: false,
      attempts: 0,
      nextAttemptAt: 0,
      doneAt: undefined,
    };
    // Registered before the write so concurrent identical retries are caught; invisible until durable.
    this.entries.set(entry.id, entry);
    this.rowIds.add(entry);
    if (claim) this.keys.reserve(claim, now);
    // The key rides in the add record itself: no crash can keep the row and lose its key.
    const record = { k: 'add', id: entry.id, r: range, rows: fresh, at: now, ...(claim ? { ik: IdempotencyKeys.field(claim) } : {}) };
    const write = this.file.append([record], () => {
      entry.durable = true;
      this.rowIds.written(entry.id);
      if (claim) this.keys.settle(claim.key);
    });
    this.rowIds.writing(entry.id, write);
    try {
      await write;
    } catch (err) {
      this.forget(entry);
      if (claim) this.keys.release(claim.key);
      throw this.writeFailed(err);
    }
    this.emit(sheet);
    // Rows of this append that an earlier, still unsynced append holds are only promised once that
    // one is durable too.
    await this.awaitSynced(inFlight);
    return { id: entry.id, rows: rows.length, duplicates: rows.length - fresh.length };
  }

  /**
   * A key whose rows were all journaled already (a retry of rows that came without it), written
   * once those rows are durable. Reserved at once, before any wait: a concurrent request with the
   * same key must find it in flight.
   */
  private async writeKey(claim: IdempotencyClaim, now: number, rowsInFlight: ReadonlySet<Promise<void>>): Promise<void> {
    this.keys.reserve(claim, now);
    try {
      await this.awaitSynced(rowsInFlight);
      await this.file.append([{ k: 'key', ...IdempotencyKeys.field(claim), at: now }], () => this.keys.settle(claim.key));
    } catch (err) {
      this.keys.release(claim.key);
      throw this.writeFailed(err);
    }
  }

  /**
   * The append was not acknowledged because the journal could not be written: the disk's fault, not
   * Google's, and said so (its own code, with the path and the errno).
   */
  private writeFailed(err: unknown): DataDirWriteError {
    if (err instanceof DataDirWriteError) return err;
    return new DataDirWriteError('the journal', this.file.path, err);
  }

  /** Waits for other appends' add records; their failure fails this append too (not acknowledged). */
  private async awaitSynced(writes: ReadonlySet<Promise<void>>): Promise<void> {
    if (writes.size === 0) return;
    try {
      await Promise.all(writes);
    } catch (err) {
      throw this.writeFailed(err);
    }
  }

  private emit(sheet: string): void {
    for (const fn of this.listeners) fn(sheet);
  }

  /** Entries ready for a flush attempt, grouped by target range (one values:append each). */
  due(now: number = this.clock.now()): Map<string, JournalEntry[]> {
    const out = new Map<string, JournalEntry[]>();
    for (const e of this.entries.values()) {
      if (!e.durable || (e.state !== 'pending' && e.state !== 'unsure') || e.nextAttemptAt > now) continue;
      let list = out.get(e.range);
      if (!list) out.set(e.range, (list = []));
      list.push(e);
    }
    return out;
  }

  /** Durably notes that these entries are about to be sent; only then may the append leave. */
  async markSending(entries: readonly JournalEntry[]): Promise<void> {
    for (const e of entries) {
      e.state = 'sending';
      e.attempts++;
    }
    await this.file.append([{ k: 'send', ids: entries.map((e) => e.id), at: this.clock.now() }]);
  }

  /** Google has these rows (answered, or found by read-back). */
  async markDone(entries: readonly JournalEntry[], how: 'sent' | 'found', updatedRange?: string): Promise<void> {
    const now = this.clock.now();
    for (const e of entries) {
      if (e.state === 'done') continue;
      e.state = 'done';
      e.doneAt = now;
      this.retainedRows += e.rows.length;
    }
    // Memory first: if this write fails, the file still says "sent, unsure", which only costs a read-back.
    await this.file.append([{ k: 'done', ids: entries.map((e) => e.id), at: now, how, ...(updatedRange ? { u: updatedRange } : {}) }]);
    this.trimDone(now);
    for (const sheet of new Set(entries.map((e) => e.sheet))) this.emit(sheet);
    await this.maybeCompact();
  }

  /** The append failed. 'no': it certainly did not apply; 'maybe': read back before resending. */
  async markFailed(entries: readonly JournalEntry[], applied: 'no' | 'maybe', retryAt: number): Promise<void> {
    for (const e of entries) {
      e.state = applied === 'no' ? 'pending' : 'unsure';
      e.nextAttemptAt = retryAt;
    }
    if (applied === 'no') await this.file.append([{ k: 'nack', ids: entries.map((e) => e.id), at: this.clock.now() }]);
    // While Google refuses every append (a sheet not shared), each retry adds a send and a nack
    // record and no done record ever compacts them: the file grew without bound.
    await this.maybeCompact();
  }

  /** A read-back found these unsure entries absent from the sheet: safe to send again. */
  async markAbsent(entries: readonly JournalEntry[]): Promise<void> {
    for (const e of entries) e.state = 'pending';
    await this.file.append([{ k: 'nack', ids: entries.map((e) => e.id), at: this.clock.now() }]);
    await this.maybeCompact();
  }

  /**
   * A read-back found only some rows of an unsure entry (Google's append is atomic, so this means
   * someone edited the sheet): the entry is done and its missing rows become a new pending entry,
   * in ONE record so no crash can keep one half without the other.
   */
  async split(entry: JournalEntry, missing: readonly (readonly string[])[]): Promise<void> {
    const now = this.clock.now();
    const next: JournalEntry = { ...entry, id: randomUUID(), rows: missing, state: 'pending', doneAt: undefined, attempts: 0, nextAttemptAt: 0 };
    await this.file.append([{ k: 'split', id: entry.id, nid: next.id, rows: missing, at: now }]);
    entry.state = 'done';
    entry.doneAt = now;
    this.retainedRows += entry.rows.length;
    this.entries.set(next.id, next);
    this.rowIds.add(next);
  }

  /** Puts entries back for a later attempt without a record (nothing was sent). */
  postpone(entries: readonly JournalEntry[], retryAt: number): void {
    for (const e of entries) e.nextAttemptAt = retryAt;
  }

  private trimDone(now: number): void {
    for (const e of this.entries.values()) {
      if (e.state !== 'done') continue;
      // Map order is insertion order: the oldest done entries come first.
      const due = this.retainedRows > this.retainDoneRows || (e.doneAt ?? 0) < now - this.retainDoneMs;
      if (due && !this.copyOlderThan?.(e.sheet, e.doneAt ?? 0)) this.forget(e);
    }
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
      for (const cells of e.rows) out.push({ range: e.range, cells });
    }
    return out;
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

  fileBytes(): number {
    return this.file.bytes();
  }

  private snapshot(): JournalRecord[] {
    // Keys first: each outlives its entry, so it is written on its own, with its first time.
    const out: JournalRecord[] = this.keys.snapshot(this.clock.now());
    for (const e of this.entries.values()) {
      if (!e.durable) continue;
      out.push({ k: 'add', id: e.id, r: e.range, rows: e.rows, at: e.at });
      // Done entries still retained (trimDone) are kept done, with their time: their row ids are
      // what recognises a client's retry of an append whose answer a crash swallowed. Left out,
      // a second restart forgot them and such a retry was appended to the sheet again.
      if (e.state === 'done') out.push({ k: 'done', ids: [e.id], at: e.doneAt ?? e.at, how: 'kept' });
      // 'sending' is written as sent: the append may be on its way, so a crash must read back.
      else if (e.state === 'unsure' || e.state === 'sending') out.push({ k: 'send', ids: [e.id], at: e.at });
    }
    return out;
  }

  /** Rewrites the file with the live entries and the retained done ones. */
  async compact(): Promise<void> {
    if (this.compacting) return this.compacting;
    this.compacting = this.file.rewrite(() => this.snapshot()).finally(() => {
      this.compacting = undefined;
    });
    await this.compacting;
    // Mostly live data: do not rewrite again until the file doubled.
    this.compactAt = Math.max(this.baseCompactBytes, this.file.bytes() * 2);
  }

  private async maybeCompact(): Promise<void> {
    if (this.file.bytes() <= this.compactAt) return;
    await this.compactOrReport();
  }

  private async compactOrReport(): Promise<void> {
    try {
      await this.compact();
    } catch (err) {
      // The state change that called this is durable already: a failed rewrite must not fail it
      // (the flusher reported an applied append's done record as lost, and a read-back left the
      // entries it found absent unsure, to be read back again). Nor may the next change try again
      // at once: each attempt writes a whole copy of the journal, which on a disk short of space
      // takes the room the appends need.
      this.compactAt = this.file.bytes() + this.baseCompactBytes;
      this.onCompactionFailed?.(err as Error, this.file.bytes());
    }
  }

  fsyncs(): number {
    return this.file.syncCount();
  }

  /** Idempotency keys remembered now, and forgotten early at the cap since start. */
  idempotencyFigures(): { keys: number; evicted: number } {
    return { keys: this.keys.size, evicted: this.keys.evicted };
  }

  async close(): Promise<void> {
    await this.compacting?.catch(() => undefined);
    await this.file.close();
  }
}
