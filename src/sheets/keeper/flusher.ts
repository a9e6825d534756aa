// Moves journaled rows to the sheet: every SHEETS_FLUSH_INTERVAL_MS, one values:append per target
// range with every row due for it; the backend pays each call with a token of the host-wide quota,
// and the timed passes space their appends by the quota's pace (QuotaBucket.msUntilPaced).
//
// Whether a failed append may be resent is decided by the error's `applied` (src/sheets/errors.ts):
//   'no'    → Google certainly did not apply it (refused before or without processing): resend
//             after a backoff;
//   'maybe' → the request may have been applied (timeout or connection lost after sending, 5xx):
//             the entries become UNSURE and are only resent after a read-back of the target range
//             shows their row ids are absent. Errors without that field count as 'maybe'.
// A process that dies between `send` and `done` leaves the same UNSURE state in the file.
//
// Here: the pass (what goes when, each call's quota), one append with its send and done records,
// the drain. Its parts: the header a batch goes under (flush-header.ts), a refused batch sent in
// halves (append-halves.ts), the line of a failed append (append-failed.ts), read-backs (read-back.ts),
// a tab's smaller batches after an append the link could not carry in time (flush-batch-limits.ts).

import { appendAnchorOf } from '../a1.js';
import type { Logger } from '../../log/logger.js';
import type { SheetsBackend } from '../backend.js';
import { sayAppendFailed } from './append-failed.js';
import { AppendFailureLog } from './append-failure-log.js';
import { AppendHalves, type SendOutcome } from './append-halves.js';
import { LandingCheck } from './append-landing.js';
import { BacklogAlert } from './backlog-alert.js';
import { sleepOn, systemClock, type Clock } from './clock.js';
import { batchBytes, BatchCursor } from './flush-batch.js';
import { BatchLimits } from './flush-batch-limits.js';
import { FlushFailureLog } from './flush-failure-log.js';
import { FlushHeaders, type HeaderOf } from './flush-header.js';
import { appliedOf, FlushRetries } from './flush-retry.js';
import { HeaderChanges } from './header-changes.js';
import { HeaderHolds } from './header-holds.js';
import type { Journal, JournalEntry } from './journal.js';
import type { QuotaBucket } from './quota.js';
import { ReadBack } from './read-back.js';
import { sharedAbortController } from './shared-abort.js';
import { JournalRecordFailureLog } from './write-failure-log.js';

export { appliedOf } from './flush-retry.js';
export type { HeaderCopy } from './flush-header.js';

/** unsureDelayMs when not given: the tests' and the bench's flushers (the daemon gives SHEETS_UNSURE_DELAY). */
const UNSURE_DELAY_DEFAULT_MS = 3000;

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
  readonly headerOf?: HeaderOf;
  /**
   * Minimum wait before reading back after an append failed with applied: 'maybe'. Google may
   * still apply a request our deadline gave up on: a read-back before it lands finds nothing, and
   * the resend writes the rows twice. The daemon uses SHEETS_UNSURE_DELAY (60 s).
   */
  readonly unsureDelayMs?: number;
  readonly clock?: Clock;
  readonly random?: () => number;
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
  /** A refused batch sent again in halves, down to the entry at fault (append-halves.ts). */
  private readonly halves: AppendHalves;
  private readonly passFailures: FlushFailureLog;
  private readonly headerChanges: HeaderChanges;
  /** Entries the tab's header cannot take (the range's other rows go on). */
  private readonly headerHolds: HeaderHolds;
  /** The header a batch goes under (flush-header.ts). */
  private readonly headers: FlushHeaders;
  /** Read-backs of unsure appends, and of resent rows (read-back.ts). */
  private readonly readBack: ReadBack;
  /** How large each tab's batches may be (flush-batch-limits.ts). */
  private readonly batchLimits: BatchLimits;
  private counts = { appends: 0, rowsSent: 0, failures: 0 };
  /** Another keeper holds the data dir's lock, and its journal (lock-fence.ts): no append starts. */
  private fenced = false;

  constructor(private readonly o: FlusherOptions) {
    this.clock = o.clock ?? systemClock;
    const unsureDelayMs = o.unsureDelayMs ?? UNSURE_DELAY_DEFAULT_MS;
    this.retries = new FlushRetries(this.clock, o.random ?? Math.random, unsureDelayMs);
    this.landing = new LandingCheck(o.logger);
    this.alert = new BacklogAlert(o.logger);
    this.sendFailures = new JournalRecordFailureLog(o.logger, () => this.clock.now(), 'send');
    this.doneFailures = new JournalRecordFailureLog(o.logger, () => this.clock.now(), 'done');
    this.appendFailures = new AppendFailureLog(o.logger, () => this.clock.now());
    this.passFailures = new FlushFailureLog(o.logger, () => this.clock.now());
    this.headerChanges = new HeaderChanges(o.logger, () => this.clock.now());
    this.headerHolds = new HeaderHolds(o.logger, () => this.clock.now());
    const { journal, backend, logger } = o;
    const { retries, appendFailures, clock } = this;
    const signal = this.abort.signal;
    this.halves = new AppendHalves({ logger, now: () => this.clock.now(), isHeld: (id) => this.headerHolds.isHeld(id), signal });
    this.headers = new FlushHeaders({ headerOf: o.headerOf, changes: this.headerChanges, holds: this.headerHolds, signal, journal, retries, appendFailures });
    this.readBack = new ReadBack({ journal, backend, logger, clock, retries, appendFailures, signal, unsureDelayMs });
    this.batchLimits = new BatchLimits(logger, () => this.clock.now());
  }

  start(): void {
    if (this.timer || this.fenced) return;
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

  /**
   * No append to Google starts from now on: the journal is another keeper's (lock-fence.ts), which
   * sends its rows. The call in flight, if any, finishes; the returned promise settles with its pass.
   */
  fence(): Promise<void> {
    this.fenced = true;
    this.stop();
    return (this.running ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    );
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
    const now = this.clock.now();
    for (const range of this.o.journal.backlogRanges()) {
      if (this.abort.signal.aborted || this.fenced) break;
      // Passed over without a look at its entries: during an outage a tab can hold a backlog of a
      // million rows, and the pass runs every SHEETS_FLUSH_INTERVAL_MS (journal-entries.ts).
      if (this.retries.isHeld(range)) continue;
      const unsure = this.o.journal.dueUnsure(range, now);
      if (unsure.length > 0) {
        const r = this.canCall(this.o.readQuota, opts.wait) ? await this.readBack.verify(range, unsure) : 'quota';
        if (r === 'quota') {
          quotaLimited = true;
          continue;
        }
        if (r === 'failed') {
          failedCalls++;
          continue;
        }
        found += r.found;
        this.batchLimits.readBack(range, r.absent);
      }
      // Read back first: the entries it finds absent go in journal order with the others.
      let pending = new BatchCursor(this.o.journal.duePending(range, now));
      while (!this.abort.signal.aborted) {
        let batch = pending.take(this.batchLimits.of(range));
        if (batch.length === 0) break;
        if (opts.wait && this.o.writeQuota.msUntilPaced() > 0) {
          // The quota's pace first (see send), then the batch: the rows acknowledged while the
          // pass waited go with it, not a pace later.
          try {
            await this.o.writeQuota.whenPaced(this.abort.signal);
          } catch {
            quotaLimited = true;
            break;
          }
          pending = new BatchCursor(this.o.journal.duePending(range, this.clock.now()));
          batch = pending.take(this.batchLimits.of(range));
          if (batch.length === 0) break;
        }
        const r = await this.halves.send(range, batch, (part) => this.send(range, part, opts.wait));
        if (r === 'quota') {
          quotaLimited = true;
          break;
        }
        if (r === 'failed') {
          failedCalls++;
          break;
        }
        this.retries.succeed(range);
        this.batchLimits.succeeded(range);
        sent += r;
      }
    }
    for (const range of this.readBack.resendsDue(this.clock.now())) {
      if (this.abort.signal.aborted || !this.canCall(this.o.readQuota, opts.wait)) break;
      await this.readBack.checkResent(range);
    }
    this.alert.observe(this.clock.now(), this.o.journal.oldestBacklogAt(), this.o.journal.backlogRows());
    if (opts.wait) for (const range of this.headerChanges.unconfirmed()) this.headers.confirm(range);
    return { sent, found, failedCalls, quotaLimited };
  }

  /** A non-waiting pass (drain) skips a call when its bucket has no token free right now. */
  private canCall(quota: QuotaBucket, wait: boolean): boolean {
    return wait || (quota.tokensLeft() > 0 && quota.queued() === 0);
  }

  /** One values:append of `all` (less what the header holds), with its send and done records. */
  private async send(range: string, all: JournalEntry[], wait: boolean): Promise<SendOutcome> {
    if (this.fenced || !this.canCall(this.o.writeQuota, wait)) return 'quota';
    try {
      // The flusher is the write bucket's only taker: once a token is free it stays free until
      // the append takes it, so waiting for it first leaves no time between the header's read
      // (below) and the append but the read's own. A timed pass waits for the bucket's pace too
      // (QuotaBucket.msUntilPaced; the pass waited for it before it took the batch, this is for
      // the halves of a refused one): under continuous writes its appends go about a second
      // apart, each with every row due, and a token is back about every second, for the rows
      // acknowledged meanwhile and for a stop's drain. Taken as soon as free, the minute's tokens
      // went in a burst, then none for up to 55 s. A drain has a deadline: it takes every token
      // free at once.
      await (wait ? this.o.writeQuota.whenPaced(this.abort.signal) : this.o.writeQuota.whenFree(this.abort.signal));
    } catch {
      return 'quota';
    }
    // A drain reads a header it holds no fresh copy of when a read token is free, as it takes
    // every write token free: a keeper started by a reload (holding only the copy handed over to
    // it, never written under) and stopped before its first timed pass took "no copy" for a spent
    // quota, looked again every 10 ms until its deadline, and left every row acknowledged since
    // its start in the journal, both buckets free. The read is its first attempt only
    // (read-tier.ts getFresh), and the drain's deadline cuts it as it cuts an append.
    const prepared = await this.headers.prepare(range, all, this.canCall(this.o.readQuota, wait));
    if (prepared === 'failed' || prepared === 'quota') return prepared;
    const { entries: batch, rows } = prepared;
    // Fenced while it waited for the token or the header: the rows are the lock holder's to send.
    // (The journal refuses the send record too; this spares the line of a failed write.)
    if (this.fenced) return 'quota';
    // The token first (above), then the send record: a keeper that dies while it waits for quota
    // has sent nothing, and its rows must replay as pending, not as unsure (a read-back and
    // SHEETS_UNSURE_DELAY before they go out). The flusher is the bucket's only taker, so the
    // token is still free when the backend asks for it.
    try {
      await this.o.journal.markSending(batch);
    } catch (err) {
      // The send record is not durable, so nothing may leave: back to pending, try later.
      for (const e of batch) e.state = 'pending';
      // Refused as the journal is another keeper's now (lock-fence.ts, which says so): no write failed.
      if (this.fenced) return 'quota';
      this.o.journal.postpone(batch, this.retries.failed(range, batch, 'no'));
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
        // Fenced meanwhile: the done record is the lock holder's journal's no more (lock-fence.ts says why).
        (err) => (this.fenced ? undefined : this.doneFailures.failed(err, range)),
      );
      return rows.length;
    } catch (err) {
      this.counts.failures++;
      const applied = appliedOf(err);
      // Its size is what a read-back that finds the rows absent halves (flush-batch-limits.ts); a
      // call our own close cancelled says nothing about the link.
      if (applied === 'maybe' && !this.abort.signal.aborted) this.batchLimits.endedUnsure(batch, rows.length, batchBytes(batch));
      // Rows that may be in the sheet, under the header they were mapped to: named if it changes.
      if (prepared.underHeader && applied === 'maybe') this.headerChanges.written(range, rows.length, { unsureIds: rows.map((r) => r[0] ?? '') });
      const retryAt = this.retries.failed(range, batch, applied, err);
      await this.o.journal.markFailed(batch, applied, retryAt).catch(() => undefined);
      return sayAppendFailed(this.o.logger, this.appendFailures, {
        range,
        rows: rows.length,
        err,
        applied,
        retryInMs: retryAt - this.clock.now(),
        cancelled: this.abort.signal.aborted,
      });
    }
  }

  /**
   * Flushes until the journal is empty, or until what is left cannot go before the deadline: the
   * quota's next token, or the earliest retry, comes after it ("as far as the quota allows").
   * Returns the rows left in the journal.
   */
  async drain(deadline: number): Promise<number> {
    // Fenced: what is left is the lock holder's to send.
    while (this.o.journal.backlogRows() > 0 && this.clock.now() < deadline && !this.abort.signal.aborted && !this.fenced) {
      const r = await this.flushOnce({ wait: false });
      let next: number;
      if (r.quotaLimited) {
        // A keeper that writes all the time spends its minute's tokens as they come back (about
        // one a second at 60 a minute): one is back within the drain's time, and the rows
        // acknowledged since the last append go with it. Given up at the first empty bucket, every
        // stop of a busy keeper left them in the journal for the next start (or for none).
        next = this.clock.now() + this.quotaWaitMs();
      } else if (r.sent + r.found === 0) {
        // Everything left is backing off: wait for the earliest retry if it comes before the deadline.
        next = Number.POSITIVE_INFINITY;
        // Rows the header holds wait for an edit of the sheet, which the drain's copy of it cannot see.
        for (const e of this.o.journal.live()) if (!this.headerHolds.isHeld(e.id)) next = Math.min(next, Math.max(e.nextAttemptAt, this.retries.heldUntil(this.o.journal.targetOf(e))));
      } else continue;
      if (!Number.isFinite(next) || next >= deadline) break;
      try {
        await sleepOn(this.clock, Math.max(10, next - this.clock.now()), this.abort.signal);
      } catch {
        break;
      }
    }
    return this.o.journal.backlogRows();
  }

  /**
   * How long until a pass held by the quota can call again: the sooner of the two buckets that
   * have no token free now (a pass held by reads, for a read-back, may have sent every write it
   * could). Both free by now (a token came back as the pass ended): a short look again.
   */
  private quotaWaitMs(): number {
    const waits = [this.o.writeQuota.msUntilFree(), this.o.readQuota.msUntilFree()].filter((ms) => ms > 0);
    return waits.length === 0 ? 10 : Math.min(...waits);
  }

  figures(): Record<string, number> {
    return {
      journalAppendCalls: this.counts.appends,
      journalRowsSent: this.counts.rowsSent,
      journalRowsFoundOnReadBack: this.readBack.rowsFound,
      journalAppendFailures: this.counts.failures,
      journalReadBacks: this.readBack.verifications,
    };
  }

  /** Stops the timer and aborts a call in flight (it then counts as unsure). Idempotent. */
  close(): void {
    this.stop();
    this.abort.abort(new Error('keeper closing'));
  }
}
