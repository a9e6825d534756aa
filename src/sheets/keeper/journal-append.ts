// An append journaled (Journal.add, journal.ts): the range, rows, header and idempotency claim
// checked; a retry recognised by its key or by its rows' ids; the backlog cap; the add record
// written and fsynced before the rows are shown or acknowledged. A file of its own: this is the
// path of every acknowledgement, which journal.ts, the entries' later states (the flusher's
// records), figures and compactions, only calls; a write it cannot make fails as the disk's fault
// (writeFailed, which journal.ts's state records use too).

import { randomUUID } from 'node:crypto';
import { DataDirWriteError, JournalFullError } from '../../errors.js';
import type { Clock } from './clock.js';
import { internHeader } from './header-mapping.js';
import { IdempotencyKeys, validateClaim, type IdempotencyClaim } from './idempotency-keys.js';
import type { JournalEntries } from './journal-entries.js';
import type { JournalFile } from './journal-file.js';
import type { JournalEntry } from './journal-replay.js';
import { KeeperLockTakenError } from './lock-fence.js';
import { appendInvalid, rangeKeyOf, sheetKey, validateHeader, validateRows } from './journal-rows.js';
import type { Receipt } from './journal-types.js';
import type { RowIndex } from './row-index.js';

/** What an append uses of the journal (journal.ts). */
export interface AppendParts {
  readonly file: JournalFile;
  /** The entries in memory (journal-entries.ts): an append's entry is registered there. */
  readonly table: JournalEntries;
  readonly keys: IdempotencyKeys;
  readonly clock: Clock;
  readonly destination: string;
  readonly maxBacklogBytes: number;
  /** Tells the journal's listeners (Journal.onChange) that rows appended to `range` became visible. */
  readonly emit: (range: string) => void;
}

/**
 * The append was not acknowledged because the journal could not be written: the disk's fault, not
 * Google's, and said so (its own code, with the path and the errno).
 */
export function writeFailed(path: string, err: unknown): DataDirWriteError | KeeperLockTakenError {
  if (err instanceof DataDirWriteError) return err;
  // Not the disk's: the journal is another keeper's now (lock-fence.ts), and the keeper unavailable.
  if (err instanceof KeeperLockTakenError) return err;
  return new DataDirWriteError('the journal', path, err);
}

export class JournalAppender {
  private readonly file: JournalFile;
  private readonly table: JournalEntries;
  private readonly rowIds: RowIndex;
  private readonly keys: IdempotencyKeys;
  private readonly clock: Clock;
  /** The sheet new entries are for (JournalOptions.destination). */
  private readonly destination: string;
  private readonly maxBacklogBytes: number;
  private readonly emit: (range: string) => void;

  constructor(parts: AppendParts) {
    this.file = parts.file;
    this.table = parts.table;
    this.rowIds = parts.table.rowIds;
    this.keys = parts.keys;
    this.clock = parts.clock;
    this.destination = parts.destination;
    this.maxBacklogBytes = parts.maxBacklogBytes;
    this.emit = parts.emit;
  }

  /**
   * Journals rows for `range`; resolves once they are fsynced. Rows whose id is already journaled
   * with identical content (a retried request) are acknowledged without a second copy; an id
   * journaled with different content is refused. With an idempotency claim whose key is held, the
   * append is answered from the key (or refused: another request's key, or one still in flight).
   * With `rawHeader`, the header row the rows were built under: they are sent and shown under the
   * tab's header as it is then (header-mapping.ts).
   */
  async add(range: string, rawRows: unknown, rawClaim?: unknown, rawHeader?: unknown): Promise<Receipt> {
    let sheet: string;
    let rangeKey: string;
    try {
      sheet = sheetKey(range);
      rangeKey = rangeKeyOf(range);
    } catch (err) {
      throw appendInvalid(`bad range ${JSON.stringify(range)}: ${(err as Error).message}`, err);
    }
    const rows = validateRows(rawRows);
    const header = rawHeader === undefined ? undefined : internHeader(validateHeader(rawHeader, rows));
    const claim = validateClaim(rawClaim);
    if (claim && this.keys.inFlightWith(claim)) {
      // The worker link's retry of this very append (the same key and the same rows, ids and
      // all), sent again when the first attempt's answer outlasted the link's timeout (a slow
      // fsync): it waits for that write and is answered as it is. Told 409 "in flight", a client
      // that sent once got a conflict with itself. A client's own retry builds rows with new ids,
      // and is still told 409 while the first is being journaled.
      // (Rows that differ from those journaled are refused below, as ever.)
      const same = (() => {
        try {
          return this.rowIds.match(sheet, rows);
        } catch {
          return undefined;
        }
      })();
      // A write that failed released the key: this one is then journaled as a request of its own.
      if (same && same.fresh.length === 0 && same.inFlight.size > 0) await this.awaitSynced(same.inFlight).catch(() => undefined);
    }
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
    // Refused before anything is journaled or acknowledged: the cap bounds what a restart replays
    // and what the keeper holds in memory (SHEETS_JOURNAL_MAX_MB). Checked against the backlog
    // before this append, so one append larger than the room left is taken (it overshoots by at
    // most MAX_APPEND_BYTES) and no append is refused forever. Retries of rows already journaled
    // and replayed idempotency keys were answered above: they add nothing.
    const backlog = this.table.backlogBytes();
    if (backlog >= this.maxBacklogBytes) throw new JournalFullError(this.file.path, backlog, this.maxBacklogBytes);
    // Refused at once, before anything is journaled, while a write of the journal has hung for
    // SYNC_STUCK_MS (journal-sync-watch.ts): queued behind it, the append waited minutes for an
    // answer, and its client's retries piled up behind it too. Those already queued wait for it.
    const stuck = this.file.writes.refusal(this.file.path);
    if (stuck) throw stuck;
    // Nothing is registered for a journal this keeper no longer writes (lock-fence.ts).
    const fenced = this.file.writesRefusedBy();
    if (fenced) throw fenced;
    const entry: JournalEntry = {
      id: randomUUID(),
      range,
      sheet,
      rangeKey,
      rows: fresh,
      ...(header ? { header } : {}),
      at: now,
      destination: this.destination,
      state: 'pending',
      durable: false,
      attempts: 0,
      nextAttemptAt: 0,
      doneAt: undefined,
    };
    // Registered before the write so concurrent identical retries are caught; invisible until durable.
    this.table.add(entry);
    if (claim) this.keys.reserve(claim, now);
    // The key rides in the add record itself: no crash can keep the row and lose its key.
    const record = { k: 'add', id: entry.id, r: range, rows: fresh, at: now, d: this.destination, ...(header ? { h: header } : {}), ...(claim ? { ik: IdempotencyKeys.field(claim) } : {}) };
    const write = this.file.append([record], () => {
      this.table.madeDurable(entry);
      this.rowIds.written(entry.id);
      if (claim) this.keys.settle(claim.key);
    });
    this.rowIds.writing(entry.id, write);
    try {
      await write;
    } catch (err) {
      this.table.forget(entry);
      if (claim) this.keys.release(claim.key);
      throw writeFailed(this.file.path, err);
    }
    this.emit(range);
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
      // A key record is a new append like any other: not queued behind a write that hangs.
      const stuck = this.file.writes.refusal(this.file.path);
      if (stuck) throw stuck;
      await this.file.append([{ k: 'key', ...IdempotencyKeys.field(claim), at: now }], () => this.keys.settle(claim.key));
    } catch (err) {
      this.keys.release(claim.key);
      throw writeFailed(this.file.path, err);
    }
  }

  /** Waits for other appends' add records; their failure fails this append too (not acknowledged). */
  private async awaitSynced(writes: ReadonlySet<Promise<void>>): Promise<void> {
    if (writes.size === 0) return;
    try {
      await Promise.all(writes);
    } catch (err) {
      throw writeFailed(this.file.path, err);
    }
  }
}
