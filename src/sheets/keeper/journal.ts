// The durable write journal. `add()` resolves only once the rows are in the journal file and
// fsynced; the flusher then moves each entry pending → sending → done (or back to pending / unsure).
//
// Record kinds (one JSON object per line, see journal-file.ts):
//   add   {id, r: range, rows, at}      acknowledged rows
//   send  {ids, at}                      an append with these entries is about to leave
//   done  {ids, at, u?, how}             Google has them (how: 'sent' = answered, 'found' = read back)
//   nack  {ids, at}                      the append certainly did not apply (applied: 'no')
//   split {id, nid, rows, at}            a read-back found only some rows of entry `id`: it is
//                                        done, and the missing rows live on as pending entry `nid`
// Replay: an entry with `send` but neither `done` nor `nack` after it is UNSURE: the process died
// (or the call failed with applied: 'maybe') while Google may have applied it. Unsure entries are
// never resent blindly: the flusher reads the sheet back and looks for their row ids first.
//
// Row identity: the journal relies on the first cell of every appended row being an id unique in
// its tab (the app's event_id). It is what the read-back matches on, and what makes a client
// retrying an identical append harmless (the rows are recognised and not journaled twice).

import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CorralError } from '../../errors.js';
import { parseA1 } from '../a1.js';
import { systemClock, type Clock } from './clock.js';
import { JournalFile, type JournalRecord } from './journal-file.js';

export type EntryState = 'pending' | 'sending' | 'unsure' | 'done';

export interface JournalEntry {
  readonly id: string;
  readonly range: string;
  /** Tab title ('' = the first tab), the key rows are grouped and merged by. */
  readonly sheet: string;
  readonly rows: readonly (readonly string[])[];
  readonly at: number;
  state: EntryState;
  /** False until the add record is fsynced; such entries are invisible to the flusher and reads. */
  durable: boolean;
  attempts: number;
  nextAttemptAt: number;
  doneAt: number | undefined;
}

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
}

export interface Receipt {
  readonly id: string;
  readonly rows: number;
  /** Rows recognised as already journaled (identical retry) and not added again. */
  readonly duplicates: number;
}

/** The tab a range writes to or reads from; '' for ranges that name no tab (the first tab). */
export function sheetKey(range: string): string {
  return parseA1(range).sheet ?? '';
}

function invalid(message: string): CorralError {
  return new CorralError('CORRAL_ERR_APPEND_INVALID', message);
}

/** Checks the wire shape of rows and that each has a non-empty, distinct id in its first cell. */
export function validateRows(rows: unknown): string[][] {
  if (!Array.isArray(rows) || rows.length === 0) throw invalid('rows must be a non-empty list of rows');
  const seen = new Set<string>();
  return rows.map((row, i) => {
    if (!Array.isArray(row) || row.length === 0) throw invalid(`row ${i} must be a non-empty list of cells`);
    const cells = row.map((c, j) => {
      if (typeof c !== 'string') throw invalid(`row ${i} cell ${j} must be a string`);
      return c;
    });
    const id = cells[0] ?? '';
    if (id.trim() === '') throw invalid(`row ${i} has no id in its first cell (the journal de-duplicates by it)`);
    if (seen.has(id)) throw invalid(`row id ${JSON.stringify(id)} appears twice in one append`);
    seen.add(id);
    return cells;
  });
}

export class Journal {
  private readonly entries = new Map<string, JournalEntry>();
  /** sheet → row id → [entry id, row as JSON], for live and retained done entries. */
  private readonly ids = new Map<string, Map<string, [string, string]>>();
  /**
   * entry id → the fsync of its add record, while that is still running. A concurrent identical
   * retry finds the rows in `ids` before they are durable and must wait on (and fail with) this
   * write: acknowledging it earlier would promise rows a crash can still lose.
   */
  private readonly syncing = new Map<string, Promise<void>>();
  private readonly clock: Clock;
  private compactAt: number;
  private readonly baseCompactBytes: number;
  private compacting: Promise<void> | undefined;
  private readonly retainDoneMs: number;
  private readonly retainDoneRows: number;
  private retainedRows = 0;
  private readonly unsureDelayMs: number;
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
  }

  static async open(options: JournalOptions): Promise<{ journal: Journal; replayed: { pending: number; unsure: number; truncatedBytes: number } }> {
    await mkdir(options.dir, { recursive: true });
    const path = join(options.dir, 'sheets.journal');
    const { file, records, truncatedBytes } = await JournalFile.open(path);
    const journal = new Journal(file, options);
    journal.replay(records);
    const live = [...journal.entries.values()];
    // Start clean: the replayed state in as few records as possible.
    await journal.compact();
    return {
      journal,
      replayed: {
        pending: live.filter((e) => e.state === 'pending').length,
        unsure: live.filter((e) => e.state === 'unsure').length,
        truncatedBytes,
      },
    };
  }

  get path(): string {
    return this.file.path;
  }

  /** Called with the tab name whenever rows become visible to reads (add) or settle (done). */
  onChange(fn: (sheet: string) => void): void {
    this.listeners.push(fn);
  }

  private replay(records: readonly JournalRecord[]): void {
    for (const rec of records) {
      const ids = Array.isArray(rec.ids) ? (rec.ids as string[]) : [];
      switch (rec.k) {
        case 'add': {
          const id = String(rec.id);
          if (this.entries.has(id)) break;
          const range = String(rec.r);
          const entry: JournalEntry = {
            id,
            range,
            sheet: sheetKey(range),
            rows: rec.rows as string[][],
            at: Number(rec.at),
            state: 'pending',
            durable: true,
            attempts: 0,
            nextAttemptAt: 0,
            doneAt: undefined,
          };
          this.entries.set(id, entry);
          this.index(entry);
          break;
        }
        case 'send':
          for (const id of ids) {
            const e = this.entries.get(id);
            if (e && e.state !== 'done') e.state = 'unsure';
          }
          break;
        case 'nack':
          for (const id of ids) {
            const e = this.entries.get(id);
            if (e && e.state !== 'done') e.state = 'pending';
          }
          break;
        case 'split': {
          const old = this.entries.get(String(rec.id));
          if (!old) break;
          if (old.state !== 'done') {
            old.state = 'done';
            old.doneAt = Number(rec.at);
            this.retainedRows += old.rows.length;
          }
          const entry: JournalEntry = { ...old, id: String(rec.nid), rows: rec.rows as string[][], state: 'pending', doneAt: undefined, attempts: 0 };
          this.entries.set(entry.id, entry);
          this.index(entry);
          break;
        }
        case 'done':
          for (const id of ids) {
            const e = this.entries.get(id);
            if (e && e.state !== 'done') {
              e.state = 'done';
              e.doneAt = Number(rec.at);
              this.retainedRows += e.rows.length;
            }
          }
          break;
        default:
          break;
      }
    }
    // Done entries from before the restart stay a while (trimDone): a worker retrying an append
    // whose answer the crash swallowed is then recognised instead of journaled twice.
    this.trimDone(this.clock.now());
    // An append the previous process sent may still be landing at Google: give it a moment before
    // the read-back decides whether to resend.
    const verifyAt = this.clock.now() + this.unsureDelayMs;
    for (const e of this.entries.values()) if (e.state === 'unsure') e.nextAttemptAt = verifyAt;
  }

  private index(e: JournalEntry): void {
    let m = this.ids.get(e.sheet);
    if (!m) this.ids.set(e.sheet, (m = new Map()));
    for (const row of e.rows) m.set(row[0] ?? '', [e.id, JSON.stringify(row)]);
  }

  private forget(e: JournalEntry): void {
    this.entries.delete(e.id);
    const m = this.ids.get(e.sheet);
    if (m) for (const row of e.rows) if (m.get(row[0] ?? '')?.[0] === e.id) m.delete(row[0] ?? '');
    if (e.state === 'done') this.retainedRows -= e.rows.length;
  }

  /**
   * Journals rows for `range`; resolves once they are fsynced. Rows whose id is already journaled
   * with identical content (a retried request) are acknowledged without a second copy; an id
   * journaled with different content is refused.
   */
  async add(range: string, rawRows: unknown): Promise<Receipt> {
    let sheet: string;
    try {
      sheet = sheetKey(range);
    } catch (err) {
      throw new CorralError('CORRAL_ERR_APPEND_INVALID', `bad range ${JSON.stringify(range)}: ${(err as Error).message}`, { cause: err });
    }
    const rows = validateRows(rawRows);
    const known = this.ids.get(sheet);
    const fresh: string[][] = [];
    let firstKnown: string | undefined;
    const inFlight = new Set<Promise<void>>();
    for (const row of rows) {
      const hit = known?.get(row[0] ?? '');
      if (!hit) {
        fresh.push(row);
        continue;
      }
      if (hit[1] !== JSON.stringify(row)) {
        throw invalid(`row id ${JSON.stringify(row[0])} is already journaled for ${JSON.stringify(sheet)} with different content`);
      }
      firstKnown ??= hit[0];
      const sync = this.syncing.get(hit[0]);
      if (sync) inFlight.add(sync);
    }
    if (fresh.length === 0) {
      await this.awaitSynced(inFlight);
      return { id: firstKnown ?? '', rows: rows.length, duplicates: rows.length };
    }
    const now = this.clock.now();
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
    this.index(entry);
    const write = this.file.append([{ k: 'add', id: entry.id, r: range, rows: fresh, at: now }], () => {
      entry.durable = true;
      this.syncing.delete(entry.id);
    });
    this.syncing.set(entry.id, write);
    try {
      await write;
    } catch (err) {
      this.syncing.delete(entry.id);
      this.forget(entry);
      throw this.writeFailed(err);
    }
    this.emit(sheet);
    // Rows of this append that an earlier, still unsynced append holds are only promised once that
    // one is durable too.
    await this.awaitSynced(inFlight);
    return { id: entry.id, rows: rows.length, duplicates: rows.length - fresh.length };
  }

  private writeFailed(err: unknown): CorralError {
    if (err instanceof CorralError && err.code === 'CORRAL_ERR_JOURNAL') return err;
    return new CorralError('CORRAL_ERR_JOURNAL', `cannot write the journal ${this.file.path}: ${(err as Error).message}`, { cause: err });
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
  }

  /** A read-back found these unsure entries absent from the sheet: safe to send again. */
  async markAbsent(entries: readonly JournalEntry[]): Promise<void> {
    for (const e of entries) e.state = 'pending';
    await this.file.append([{ k: 'nack', ids: entries.map((e) => e.id), at: this.clock.now() }]);
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
    this.index(next);
  }

  /** Puts entries back for a later attempt without a record (nothing was sent). */
  postpone(entries: readonly JournalEntry[], retryAt: number): void {
    for (const e of entries) e.nextAttemptAt = retryAt;
  }

  private trimDone(now: number): void {
    for (const e of this.entries.values()) {
      if (e.state !== 'done') continue;
      // Map order is insertion order: the oldest done entries come first.
      if (this.retainedRows > this.retainDoneRows || (e.doneAt ?? 0) < now - this.retainDoneMs) this.forget(e);
    }
  }

  /**
   * Rows a read of `sheet` must show on top of an upstream value fetched from `fetchStartedAt`:
   * entries not yet in Google, and entries that reached Google after that fetch began.
   */
  rowsFor(sheet: string, fetchStartedAt: number): string[][] {
    const out: string[][] = [];
    for (const e of this.entries.values()) {
      if (e.sheet !== sheet || !e.durable) continue;
      if (e.state === 'done' && (e.doneAt ?? 0) < fetchStartedAt) continue;
      for (const row of e.rows) out.push(row as string[]);
    }
    return out;
  }

  /** Rows not yet confirmed in Google. */
  backlogRows(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.durable && e.state !== 'done') n += e.rows.length;
    return n;
  }

  /** Live entries (not done), for tests and the drain loop. */
  live(): JournalEntry[] {
    return [...this.entries.values()].filter((e) => e.durable && e.state !== 'done');
  }

  fileBytes(): number {
    return this.file.bytes();
  }

  private snapshot(): JournalRecord[] {
    const out: JournalRecord[] = [];
    for (const e of this.entries.values()) {
      if (!e.durable || e.state === 'done') continue;
      out.push({ k: 'add', id: e.id, r: e.range, rows: e.rows, at: e.at });
      // 'sending' is written as sent: the append may be on its way, so a crash must read back.
      if (e.state === 'unsure' || e.state === 'sending') out.push({ k: 'send', ids: [e.id], at: e.at });
    }
    return out;
  }

  /** Rewrites the file with live entries only. */
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
    if (this.file.bytes() > this.compactAt) await this.compact();
  }

  fsyncs(): number {
    return this.file.syncCount();
  }

  async close(): Promise<void> {
    await this.compacting?.catch(() => undefined);
    await this.file.close();
  }
}
