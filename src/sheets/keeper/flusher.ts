// Moves journaled rows to the sheet: every SHEETS_FLUSH_INTERVAL_MS, one values:append per target
// range with every row due for it; the backend pays each call with a token of the host-wide quota.
//
// Whether a failed append may be resent is decided by the error's `applied` (src/sheets/errors.ts):
//   'no'    → Google certainly did not apply it (refused before or without processing): resend
//             after a backoff;
//   'maybe' → the request may have been applied (timeout or connection lost after sending, 5xx):
//             the entries become UNSURE and are only resent after a read-back of the target range
//             shows their row ids are absent. Errors without that field count as 'maybe'.
// A process that dies between `send` and `done` leaves the same UNSURE state in the file.

import { codeOf, describeError } from '../../errors.js';
import { appendAnchorOf, idColumnOf } from '../a1.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailures } from '../../log/repeated-failure.js';
import type { SheetsBackend } from '../backend.js';
import { AppendFailureLog } from './append-failure-log.js';
import { LandingCheck } from './append-landing.js';
import { mayBeOneRow, refusalMessage } from './append-refusal.js';
import { BacklogAlert } from './backlog-alert.js';
import { systemClock, type Clock } from './clock.js';
import { takeBatch } from './flush-batch.js';
import { FlushFailureLog } from './flush-failure-log.js';
import { appliedOf, FlushRetries } from './flush-retry.js';
import { HeaderChanges } from './header-changes.js';
import { HeaderHolds } from './header-holds.js';
import { remapRows } from './header-mapping.js';
import type { Journal, JournalEntry } from './journal.js';
import type { QuotaBucket } from './quota.js';
import { withReadCause } from './read-cause.js';
import { ResendCheck } from './resend-check.js';
import { sharedAbortController } from './shared-abort.js';
import { JournalRecordFailureLog } from './write-failure-log.js';

export { appliedOf } from './flush-retry.js';

export interface FlusherOptions {
  readonly journal: Journal;
  /** Paced by the host-wide quotas (see pacing.ts); the buckets are only consulted here. */
  readonly backend: SheetsBackend;
  readonly writeQuota: QuotaBucket;
  readonly readQuota: QuotaBucket;
  readonly logger: Logger;
  readonly intervalMs: number;
  /**
   * The header row of a range's tab as it is now (no older than SHEET_CACHE_TTL): rows journaled
   * with the header they were built under are sent under this one (header-mapping.ts). Without it,
   * rows go as built.
   */
  readonly headerOf?: (range: string, opts: { wait: boolean }) => Promise<HeaderCopy | undefined>;
  /**
   * Minimum wait before reading back after an append failed with applied: 'maybe'. Google may
   * still apply a request our deadline gave up on: a read-back before it lands finds nothing, and
   * the resend writes the rows twice. The daemon uses SHEETS_UNSURE_DELAY (60 s).
   */
  readonly unsureDelayMs?: number;
  readonly clock?: Clock;
  readonly random?: () => number;
}

/** A range's header row as the keeper holds it, and when that copy was fetched (the keeper's clock). */
export interface HeaderCopy {
  readonly header: readonly string[];
  readonly fetchedAt: number;
}

/** What one append sends: the entries and their rows, mapped under the tab's header when `underHeader`. */
interface Prepared {
  readonly entries: readonly JournalEntry[];
  readonly rows: readonly (readonly string[])[];
  readonly underHeader: boolean;
}

function rowsIn(entries: readonly JournalEntry[]): number {
  return entries.reduce((n, e) => n + e.rows.length, 0);
}

export interface FlushResult {
  /** Rows Google confirmed by answering an append. */
  readonly sent: number;
  /** Rows a read-back found already in the sheet (not resent). */
  readonly found: number;
  readonly failedCalls: number;
  /** True when a call was skipped because no quota token was free (non-waiting flush). */
  readonly quotaLimited: boolean;
}

export class Flusher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<FlushResult> | undefined;
  private readonly abort = sharedAbortController();
  private readonly clock: Clock;
  /** When failed entries and ranges are tried again (flush-retry.ts). */
  private readonly retries: FlushRetries;
  private readonly landing: LandingCheck;
  private readonly alert: BacklogAlert;
  private readonly sendFailures: JournalRecordFailureLog;
  private readonly doneFailures: JournalRecordFailureLog;
  private readonly appendFailures: AppendFailureLog;
  private readonly isolatedRefusals: RepeatedFailures;
  private readonly passFailures: FlushFailureLog;
  private readonly headerChanges: HeaderChanges;
  /** Entries the tab's header cannot take (the range's other rows go on). */
  private readonly headerHolds: HeaderHolds;
  /** Ranges whose header confirmHeader is reading. */
  private readonly confirming = new Set<string>();
  /** Rows resent after a read-back, read once more for a late first append (resend-check.ts). */
  private readonly resendCheck: ResendCheck;
  private counts = { appends: 0, rowsSent: 0, rowsFound: 0, failures: 0, verifications: 0 };

  constructor(private readonly o: FlusherOptions) {
    this.clock = o.clock ?? systemClock;
    this.retries = new FlushRetries(this.clock, o.random ?? Math.random, o.unsureDelayMs ?? 3000);
    this.landing = new LandingCheck(o.logger);
    this.alert = new BacklogAlert(o.logger);
    this.sendFailures = new JournalRecordFailureLog(o.logger, () => this.clock.now(), 'send');
    this.doneFailures = new JournalRecordFailureLog(o.logger, () => this.clock.now(), 'done');
    this.appendFailures = new AppendFailureLog(o.logger, () => this.clock.now());
    this.isolatedRefusals = new RepeatedFailures(() => this.clock.now());
    this.passFailures = new FlushFailureLog(o.logger, () => this.clock.now());
    this.headerChanges = new HeaderChanges(o.logger, () => this.clock.now());
    this.headerHolds = new HeaderHolds(o.logger, () => this.clock.now());
    this.resendCheck = new ResendCheck(o.logger, o.unsureDelayMs ?? 3000);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.flushOnce({ wait: true }).then(
        () => this.passFailures.succeeded(),
        (err) => this.passFailures.failed(err),
      );
    }, this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over every due range. Concurrent calls share the pass in progress. */
  flushOnce(opts: { wait: boolean }): Promise<FlushResult> {
    this.running ??= this.pass(opts).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(opts: { wait: boolean }): Promise<FlushResult> {
    let sent = 0;
    let found = 0;
    let failedCalls = 0;
    let quotaLimited = false;
    for (const [range, entries] of this.o.journal.due(this.clock.now())) {
      if (this.abort.signal.aborted) break;
      if (this.retries.isHeld(range)) continue;
      const unsure = entries.filter((e) => e.state === 'unsure');
      if (unsure.length > 0) {
        const r = await this.verify(range, unsure, opts.wait);
        if (r === 'quota') {
          quotaLimited = true;
          continue;
        }
        if (r === 'failed') {
          failedCalls++;
          continue;
        }
        found += r;
      }
      const pending = entries.filter((e) => e.state === 'pending');
      while (pending.length > 0 && !this.abort.signal.aborted) {
        const batch = takeBatch(pending);
        const r = await this.sendIsolating(range, batch, opts.wait);
        if (r === 'quota') {
          quotaLimited = true;
          break;
        }
        if (r === 'failed') {
          failedCalls++;
          break;
        }
        this.retries.succeed(range);
        sent += r;
      }
    }
    for (const range of this.resendCheck.due(this.clock.now())) {
      if (this.abort.signal.aborted || !this.canCall(this.o.readQuota, opts.wait)) break;
      await this.checkResent(range);
    }
    this.alert.observe(this.clock.now(), this.o.journal.oldestBacklogAt(), this.o.journal.backlogRows());
    if (opts.wait) for (const range of this.headerChanges.unconfirmed()) this.confirmHeader(range);
    return { sent, found, failedCalls, quotaLimited };
  }

  /**
   * Rows were sent under a copy of `range`'s header: once that copy expires, one more read (the
   * one the workers' reads make while events come) says whether the header had changed under them
   * (`sheets.header_changed`), even when no row follows. Beside the pass, one at a time per range.
   */
  private confirmHeader(range: string): void {
    const headerOf = this.o.headerOf;
    if (!headerOf || this.confirming.has(range)) return;
    this.confirming.add(range);
    headerOf(range, { wait: true }).then(
      (copy) => {
        this.confirming.delete(range);
        if (copy && !this.abort.signal.aborted) this.headerChanges.seen(range, copy.header, copy.fetchedAt);
      },
      // Tried again after the next pass.
      () => this.confirming.delete(range),
    );
  }

  /** A non-waiting pass (drain) skips a call when its bucket has no token free right now. */
  private canCall(quota: QuotaBucket, wait: boolean): boolean {
    return wait || (quota.tokensLeft() > 0 && quota.queued() === 0);
  }

  /**
   * Sends a batch. Google refuses a whole append as invalid (400) for one row it will not take,
   * and a refused batch comes due again with whatever was journaled meanwhile: one such row would
   * hold back every row batched with it, for good. So a refused batch of several entries is sent
   * again at once in halves, down to the entry at fault, for as long as one half goes through;
   * when both halves are refused too, the fault is the request's (a range Google cannot parse),
   * not a row's, and the entries wait for their retry like any failure. A 400 no row can cause
   * (the spreadsheet at its cell limit, a file that is no Google Sheet) is not isolated at all
   * (append-refusal.ts).
   */
  private async sendIsolating(range: string, batch: JournalEntry[], wait: boolean): Promise<number | 'quota' | 'failed'> {
    const first = await this.send(range, batch, wait);
    if (first !== 'invalid') return first;
    // Halved without the entries the header held: they were not in the refused request.
    let refused = batch.filter((e) => !this.headerHolds.isHeld(e.id));
    let sent = 0;
    while (refused.length > 1 && !this.abort.signal.aborted) {
      const half = Math.ceil(refused.length / 2);
      const halves = [refused.slice(0, half), refused.slice(half)];
      const results: Array<number | 'quota' | 'failed' | 'invalid'> = [];
      for (const part of halves) results.push(await this.send(range, part, wait));
      for (const r of results) if (typeof r === 'number') sent += r;
      const invalid = halves.filter((_, i) => results[i] === 'invalid');
      if (invalid.length !== 1 || results.some((r) => r === 'quota' || r === 'failed')) break;
      refused = invalid[0]!;
    }
    if (batch.length > 1 && refused.length === 1) {
      const entry = refused[0]!;
      // Tried again on its backoff, with the rows journaled meanwhile: at most a line a minute.
      this.isolatedRefusals.failed(entry.id, (refusals) =>
        this.o.logger.error(
          { event: 'sheets.append_refused_alone', code: 'CORRAL_ERR_SHEETS_BAD_RANGE', range, entry: entry.id, rowIds: entry.rows.map((r) => r[0]), refusals },
          'sheets: Google refuses this journaled append on its own; the rows journaled with it were sent without it, and it stays in the journal',
        ),
      );
    }
    return sent > 0 ? sent : 'failed';
  }

  /**
   * What of the batch goes now, and its rows as they go to Google: those journaled with the header
   * they were built under, under the tab's header now (header-mapping.ts). An entry that header
   * cannot take (a column it has values for is gone, the id column is no longer first) waits on its
   * own backoff while the others go: nothing is written misplaced. When the header cannot be read,
   * the batch waits on the range's backoff, as after a failed append; a drain's pass (`wait`
   * false) sends rows with a header only under a copy held fresh, and skips them otherwise.
   */
  private async prepare(range: string, batch: readonly JournalEntry[], wait: boolean): Promise<Prepared | 'failed' | 'quota'> {
    const headerOf = this.o.headerOf;
    if (!headerOf || !batch.some((e) => e.header)) return { entries: batch, rows: batch.flatMap((e) => e.rows), underHeader: false };
    let current: readonly string[];
    try {
      const copy = await headerOf(range, { wait });
      if (!copy) return 'quota';
      current = copy.header;
      this.headerChanges.seen(range, copy.header, copy.fetchedAt);
    } catch (err) {
      // Our own close() cancelled the read: nothing was sent, the rows are as they were.
      if (this.abort.signal.aborted) return 'failed';
      // Error when retrying cannot help until the sheet is fixed (a deleted tab), as for an append.
      const level = (err as { retryable?: unknown }).retryable === false ? 'error' : 'warn';
      this.appendFailures.failed(
        range,
        level,
        { rows: rowsIn(batch), code: codeOf(err, 'CORRAL_ERR_SHEETS_UPSTREAM'), err: describeError(err) },
        'sheets: the header row the rows are written under could not be read; they stay in the journal and are sent once it is',
      );
      this.o.journal.postpone(batch, this.retries.retryAt(range, batch, 'no', err));
      this.retries.hold(range, err);
      return 'failed';
    }
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
    this.headerHolds.released(entries.map((e) => e.id));
    if (problem) {
      this.headerHolds.hold(
        held.map((e) => e.id),
        { range, rows: rowsIn(held), header: current, builtUnder: problem.builtUnder, problem: problem.text },
      );
      // Checked again on a backoff that grows while the header stays as it is (each check may
      // read the header anew once its copy expires).
      for (const e of held) e.attempts++;
      this.o.journal.postpone(held, this.retries.retryAt(range, held, 'no'));
    }
    if (entries.length === 0) return 'failed';
    return { entries, rows, underHeader: true };
  }

  private async send(range: string, all: JournalEntry[], wait: boolean): Promise<number | 'quota' | 'failed' | 'invalid'> {
    if (!this.canCall(this.o.writeQuota, wait)) return 'quota';
    try {
      // The flusher is the write bucket's only taker: once a token is free it stays free until
      // the append takes it, so waiting for it first leaves no time between the header's read
      // (below) and the append but the read's own.
      await this.o.writeQuota.whenFree(this.abort.signal);
    } catch {
      return 'quota';
    }
    const prepared = await this.prepare(range, all, wait);
    if (prepared === 'failed' || prepared === 'quota') return prepared;
    const { entries: batch, rows } = prepared;
    // The token first (above), then the send record: a keeper that dies while it waits for quota
    // has sent nothing, and its rows must replay as pending, not as unsure (a read-back and
    // SHEETS_UNSURE_DELAY before they go out). The flusher is the bucket's only taker, so the
    // token is still free when the backend asks for it.
    try {
      await this.o.journal.markSending(batch);
    } catch (err) {
      // The send record is not durable, so nothing may leave: back to pending, try later.
      for (const e of batch) e.state = 'pending';
      this.o.journal.postpone(batch, this.retries.retryAt(range, batch, 'no'));
      this.retries.hold(range);
      this.sendFailures.failed(err, range);
      return 'failed';
    }
    this.sendFailures.succeeded();
    this.counts.appends++;
    try {
      const res = await this.o.backend.appendValues(appendAnchorOf(range), rows, this.abort.signal);
      this.counts.rowsSent += rows.length;
      this.appendFailures.succeeded(range);
      this.landing.check(range, res.updatedRange);
      if (prepared.underHeader) this.headerChanges.written(range, rows.length, { updatedRange: res.updatedRange });
      await this.o.journal.markDone(batch, 'sent', res.updatedRange).then(
        () => this.doneFailures.succeeded(),
        (err) => this.doneFailures.failed(err, range),
      );
      return rows.length;
    } catch (err) {
      this.counts.failures++;
      const applied = appliedOf(err);
      // Rows that may be in the sheet, under the header they were mapped to: named if it changes.
      if (prepared.underHeader && applied === 'maybe') this.headerChanges.written(range, rows.length, { unsureIds: rows.map((r) => r[0] ?? '') });
      const retryAt = this.retries.retryAt(range, batch, applied, err);
      this.retries.hold(range, err);
      await this.o.journal.markFailed(batch, applied, retryAt).catch(() => undefined);
      const said = { range, rows: rows.length, applied, err: describeError(err) };
      const fields = { ...said, retryInMs: retryAt - this.clock.now() };
      if (this.abort.signal.aborted) {
        // Our own close() cancelled the call (a stop, a reload, the master gone). The client calls
        // that a timeout that retrying cannot help (retryable: false), which read as a sheet to fix,
        // at error level, on every ordinary stop with an append in flight. The rows are safe: the
        // send record makes them unsure, and the next keeper reads the sheet back before any resend.
        this.o.logger.info(
          { event: 'sheets.append_cancelled', ...said },
          applied === 'no'
            ? 'sheets: append cancelled by the keeper stopping, before it was sent; its rows stay in the journal for the next keeper'
            : 'sheets: append cancelled by the keeper stopping, its outcome unknown; its rows stay in the journal and the next keeper reads the sheet back before resending them',
        );
        return 'failed';
      }
      if ((err as { retryable?: unknown }).retryable === false) {
        // 403/404/400: waiting will not help until the operator fixes sharing, SHEET_ID, the tab or
        // the sheet's size.
        this.appendFailures.failed(range, 'error', { ...fields, code: codeOf(err, 'CORRAL_ERR_SHEETS_UPSTREAM') }, refusalMessage(range, err));
        // A request Google finds invalid may be so for one row of it (see sendIsolating).
        if (mayBeOneRow(err, applied)) return 'invalid';
      } else {
        this.appendFailures.failed(
          range,
          'warn',
          fields,
          applied === 'no'
            ? 'sheets: append refused; rows stay in the journal and are resent later'
            : 'sheets: append outcome unknown; the sheet will be read back before any resend',
        );
      }
      return 'failed';
    }
  }

  /** Reads the ids of `range` to find rows resent after a read-back that are in the sheet twice. */
  private async checkResent(range: string): Promise<void> {
    try {
      const vr = await withReadCause({ clientWaits: false }, () => this.o.backend.getValues(idColumnOf(range), this.abort.signal));
      this.resendCheck.settle(range, (vr.values ?? []).map((row) => String(row[0] ?? '')));
    } catch {
      // Read again later; the read-back's own failures are said by its own lines.
      this.resendCheck.later(range, this.clock.now());
    }
  }

  /** Reads the target back and settles unsure entries: found → done, absent → pending. */
  private async verify(range: string, unsure: JournalEntry[], wait: boolean): Promise<number | 'quota' | 'failed'> {
    if (!this.canCall(this.o.readQuota, wait)) return 'quota';
    this.counts.verifications++;
    let ids: Set<string>;
    try {
      // Appended rows put their id in the range's first column, possibly below its last row: read
      // that column over the whole tab.
      // No client waits for a read-back: reads that one waits for go first (read-cause.ts),
      // whatever started this flush.
      const vr = await withReadCause({ clientWaits: false }, () => this.o.backend.getValues(idColumnOf(range), this.abort.signal));
      ids = new Set((vr.values ?? []).map((row) => String(row[0] ?? '')));
    } catch (err) {
      this.o.journal.postpone(unsure, this.retries.retryAt(range, unsure, 'maybe', err));
      this.retries.hold(range, err);
      this.appendFailures.failed(range, 'warn', { err: describeError(err) }, 'sheets: read-back of unsure appends failed; retried later');
      return 'failed';
    }
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
        this.resendCheck.resent(range, missing.map((row) => row[0] ?? ''), this.clock.now());
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
      this.resendCheck.resent(range, absent.flatMap((e) => e.rows.map((row) => row[0] ?? '')), this.clock.now());
    }
    this.counts.rowsFound += found;
    if (found > 0 || absent.length > 0) {
      this.o.logger.info({ event: 'sheets.read_back', range, alreadyThere: found, toResend: absent.reduce((n, e) => n + e.rows.length, 0) }, 'sheets: read back unsure appends');
    }
    return found;
  }

  /**
   * Flushes until the journal is empty, the deadline passes, or the write quota has no token left
   * ("as far as the quota allows"). Returns the rows left in the journal.
   */
  async drain(deadline: number): Promise<number> {
    while (this.o.journal.backlogRows() > 0 && this.clock.now() < deadline && !this.abort.signal.aborted) {
      const r = await this.flushOnce({ wait: false });
      if (r.quotaLimited) break;
      if (r.sent + r.found === 0) {
        // Everything left is backing off: wait for the earliest retry if it comes before the deadline.
        let next = Number.POSITIVE_INFINITY;
        // Rows the header holds wait for an edit of the sheet, which the drain's copy of it cannot see.
        for (const e of this.o.journal.live()) if (!this.headerHolds.isHeld(e.id)) next = Math.min(next, Math.max(e.nextAttemptAt, this.retries.heldUntil(e.range)));
        if (!Number.isFinite(next) || next >= deadline) break;
        await new Promise((res) => setTimeout(res, Math.max(10, next - this.clock.now())));
      }
    }
    return this.o.journal.backlogRows();
  }

  figures(): Record<string, number> {
    return {
      journalAppendCalls: this.counts.appends,
      journalRowsSent: this.counts.rowsSent,
      journalRowsFoundOnReadBack: this.counts.rowsFound,
      journalAppendFailures: this.counts.failures,
      journalReadBacks: this.counts.verifications,
    };
  }

  /** Stops the timer and aborts a call in flight (it then counts as unsure). Idempotent. */
  close(): void {
    this.stop();
    this.abort.abort(new Error('keeper closing'));
  }
}
