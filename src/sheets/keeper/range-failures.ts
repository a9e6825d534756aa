// A range's failed upstream reads, for the read tier (read-tier.ts): the backoff before the next
// try, the log lines (per range at the first, then at most once a minute with the count, then
// once when one works; this host's own full read queue one line for the host), and the
// background retries. A file of its own: what a failure does to a range is decided here, the
// tier reads the outcome (failingSince, nextRetryAt, lastError) when it answers, and tells it of
// each read that asks for a range (asked(): its unasked retries start again). One thing is not:
// a fetch's first failed attempt is dated by fetch-flight.ts's retry listener (firstFailedAt,
// retrying).
//
// A failing range is also retried in the background, on the same backoff, but at most
// UNASKED_RETRIES times after the last read that asked for it: a range only some requests read (the
// Events header row, read when an event is posted) was otherwise re-read only by the next such
// request, so once Google was back the range stayed "failing" (sheets.ranges_failing over 0, no
// recovered line) until someone posted an event. A handful of reads per failing range bounds what
// this spends of the quota; a range still failing after them, which nobody asked for since, is
// not retried nor counted as failing any more (sheets.upstream_read_unasked) until it is read again.

import { describeError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import { backoffMs } from './backoff.js';
import type { Clock } from './clock.js';
import type { RangeState } from './range-state.js';
import type { SheetFailure } from './sheet-failure.js';

/**
 * Background retries of a failing range after the last read that asked for it (see the top). Each
 * is one fetch (the client's own attempts within it included), paced by the read quota like any.
 */
export const UNASKED_RETRIES = 3;

export interface RangeFailureOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly maxStaleMs: number;
  /** The sheet refused as a whole: told of every failure and success, asked before a background retry. */
  readonly sheet: SheetFailure;
  /** The tier's close: reads it cut are not a failure of Google's, and nothing is retried after it. */
  readonly signal: AbortSignal;
  /** Whether `st` is still the tier's state of `range` (not evicted) and has no fetch in flight. */
  readonly idle: (range: string, st: RangeState) => boolean;
  /** Starts a background fetch of the range (nobody waits for it). */
  readonly retry: (range: string, st: RangeState) => void;
}

export class RangeFailures {
  private readonly now = (): number => this.o.clock.now();
  /** Reads refused by the host's full read queue: one line for the host, at most once a minute. */
  private readonly queueFull = new RepeatedFailure(() => this.o.clock.now());

  constructor(private readonly o: RangeFailureOptions) {}

  /** A fetch of the range failed with `err`. */
  failed(range: string, st: RangeState, err: unknown): void {
    const now = this.o.clock.now();
    if (st.retryingUnasked && (err as { code?: unknown }).code === 'CORRAL_ERR_QUEUE_FULL') st.unaskedUncalled++;
    st.retryingUnasked = false;
    if (!this.o.signal.aborted) this.o.sheet.failed(err);
    st.failures++;
    st.failingSince ??= now;
    st.firstFailedAt ??= now;
    st.lastError = err;
    // Backoff capped at the TTL (a failing range is retried at least once a TTL), but never sooner
    // than Google asked (Retry-After on a 429 or 503): retrying earlier only spends quota.
    // (This host's own full queue says when its next token frees, for the client's Retry-After:
    // not a wait Google asked for, and the range's retries go on their backoff as before.)
    const askedMs = (err as { code?: unknown }).code === 'CORRAL_ERR_QUEUE_FULL' ? undefined : (err as { retryAfterMs?: unknown }).retryAfterMs;
    st.nextRetryAt = now + Math.max(Math.min(this.o.ttlMs, backoffMs(st.failures)), typeof askedMs === 'number' ? askedMs : 0);
    // Reads cut by the keeper's own close are not a failure of Google's.
    if (this.o.signal.aborted) return;
    this.retryLater(range, st);
    // This host's own full queue, not Google: one line for the host, not one per range (124 warn
    // lines in 75 s of exports of distinct ranges, each worded as an upstream failure).
    if ((err as { code?: unknown }).code === 'CORRAL_ERR_QUEUE_FULL') {
      this.queueFull.failed((reads, total) =>
        this.o.logger.warn(
          { event: 'sheets.read_queue_full', code: 'CORRAL_ERR_QUEUE_FULL', range, reads, reads_total: total, err: describeError(err) },
          `sheets: reads refused by this host's full read queue, no call made to Google (${reads} since the last line; the latest ${range}): more distinct ranges are read than SHEETS_READS_PER_MINUTE serves; raise SHEET_CACHE_TTL, read fewer distinct ranges, or raise the project's quota and SHEETS_READS_PER_MINUTE`,
        ),
      );
      return;
    }
    // Per range: a deleted tab fails alone, and an outage's line for one range hides no other.
    // A failure no retry mends (a tab deleted, the sheet unshared), after a line of a blip of
    // 503s, is said at once, not a minute after the blip's line.
    const cause = failureCauseOf(err);
    if (st.failureCause !== cause) {
      st.failureLog = new RepeatedFailure(this.now);
      st.failureCause = cause;
    }
    st.failureLog.failed((failures, total) => this.sayFailed(range, st, err, now, failures, total));
  }

  /**
   * A read found the range's copy past SHEET_CACHE_MAX_STALE while the range fails, and is
   * answered its error: said at once, once per copy. The line before said the copy was served, and
   * the next was up to a minute away, while every read of the range was answered 503.
   */
  pastMaxStale(range: string, st: RangeState, err: unknown): void {
    const v = st.value;
    if (!v || st.pastMaxStaleSaid === v) return;
    st.pastMaxStaleSaid = v;
    const now = this.now();
    st.failureLog.sayNow((failures, total) => this.sayFailed(range, st, err, now, failures, total));
  }

  private sayFailed(range: string, st: RangeState, err: unknown, now: number, failures: number, total: number): void {
    const v = st.value;
    const stale = v ? Math.max(0, Math.round((now - v.expiresAt) / 1000)) : null;
    const served = v !== undefined && now - v.expiresAt <= this.o.maxStaleMs;
    // The copy may pass max-stale between two failed reads: the line after says so.
    if (v && !served) st.pastMaxStaleSaid = v;
    const what = served
      ? 'sheets: upstream read failed; serving the last good value until it recovers or passes SHEET_CACHE_MAX_STALE'
      : 'sheets: upstream read failed and no usable cached value exists; reads of this range fail';
    this.o.logger.warn(
      { event: 'sheets.upstream_read_failed', range, err: describeError(err), staleSeconds: stale, maxStaleSeconds: this.o.maxStaleMs / 1000, failures, failures_total: total },
      total <= 1 ? what : `${what} (${failures} failed upstream reads of this range since the last such line)`,
    );
  }

  /** A fetch of the range, whose value arrived at `done`, worked: its failure (if any) ended. */
  recovered(range: string, st: RangeState, done: number): void {
    const failingSince = st.firstFailedAt ?? st.failingSince;
    this.o.sheet.succeeded();
    st.failureLog.ended((failures) =>
      this.o.logger.info(
        { event: 'sheets.upstream_read_recovered', range, failedForSeconds: failingSince === undefined ? null : Math.round((done - failingSince) / 1000), failures },
        'sheets: range refreshed again after upstream failures',
      ),
    );
    st.failures = 0;
    st.failingSince = undefined;
    st.firstFailedAt = undefined;
    st.lastError = undefined;
    st.nextRetryAt = 0;
    st.unasked = false;
    st.retryingUnasked = false;
    this.disarm(st);
  }

  /**
   * A read asked for the range: its background retries start again from none, and it counts as
   * failing again. A range given up on (or refused as such, a 400) has no retry armed: one is armed
   * now, at its backoff, unless the read's own fetch comes first (it disarms this one when it
   * fails). Without it, a read within the backoff (served the stale copy, or the error at once)
   * counted the range as failing again with nothing to try it again: sheets.ranges_failing stayed
   * over 0 for good, Google answering, until another read came after the backoff.
   */
  asked(range: string, st: RangeState): void {
    st.unaskedRetries = 0;
    st.unaskedUncalled = 0;
    // A background retry in flight that this read joins fails as the read's: counted in
    // retries_uncalled after the reset above, it made that figure exceed the retries it is of.
    st.retryingUnasked = false;
    st.unasked = false;
    if (st.failingSince !== undefined && st.retryTimer === undefined && !st.inflight && !this.o.signal.aborted) this.retryLater(range, st);
  }

  /** The range's background retry, if armed, no longer comes (the tier's close). */
  disarm(st: RangeState): void {
    this.o.clock.clearTimeout(st.retryTimer);
    st.retryTimer = undefined;
  }

  /**
   * Arms the background retry of a range that just failed, at its backoff, unless it was retried
   * UNASKED_RETRIES times since a read last asked for it: then it is given up on (said once) and
   * no longer counted in rangesFailing, until a read asks for it again. A read that comes first
   * starts the refresh itself (get()), and the timer then finds it in flight and leaves it.
   */
  private retryLater(range: string, st: RangeState): void {
    this.disarm(st);
    // A range Google refused as such (400: no such tab, an A1 range it cannot parse) fails the
    // same way on every retry: retried unasked, each typo of an export's sheet= or of a range
    // setting cost three more reads of the quota the clients wait for, and showed in
    // ranges_failing for the seconds they took. Only a read tries it again (after the backoff),
    // so a tab created or renamed meanwhile is found by the next read that asks for it.
    if ((st.lastError as { code?: unknown } | undefined)?.code === 'CORRAL_ERR_SHEETS_BAD_RANGE') {
      st.unasked = true;
      return;
    }
    if (st.unaskedRetries >= UNASKED_RETRIES) {
      st.unasked = true;
      const uncalled = st.unaskedUncalled;
      const held = "this host's full read queue or a refusal of the whole sheet held them";
      const notGoogle = uncalled === 0 ? '' : uncalled === st.unaskedRetries ? ` (none of them reached Google: ${held})` : ` (${uncalled} of them made no call to Google: ${held})`;
      this.o.logger.info(
        {
          event: 'sheets.upstream_read_unasked',
          range,
          retries: st.unaskedRetries,
          retries_uncalled: uncalled,
          failures: st.failures,
          failingForSeconds: st.failingSince === undefined ? null : Math.round((this.now() - st.failingSince) / 1000),
        },
        `sheets: range ${range} still fails after ${st.unaskedRetries} retries that no read asked for${notGoogle}; not retried nor counted in ranges_failing until a read asks for it again`,
      );
      return;
    }
    st.retryTimer = this.o.clock.setTimeout(() => {
      st.retryTimer = undefined;
      // Closed, evicted (a new state would be another range's memory), recovered, or in flight.
      if (this.o.signal.aborted || st.failingSince === undefined || !this.o.idle(range, st)) return;
      st.unaskedRetries++;
      const now = this.o.clock.now();
      // The whole sheet is refused (sheet-failure.ts): no call now, but the retry counts, so a
      // sheet refused for good stops being retried range by range.
      if (this.o.sheet.holds(now) !== undefined) {
        st.unaskedUncalled++;
        st.nextRetryAt = Math.max(st.nextRetryAt, now + (this.o.sheet.retryIn(now) ?? 0));
        this.retryLater(range, st);
        return;
      }
      st.retryingUnasked = true;
      this.o.retry(range, st);
    }, Math.max(0, st.nextRetryAt - this.now()));
  }
}

/** `transient` for a failure a retry may mend, else its code: another cause is another line (see RangeState.failureCause). */
function failureCauseOf(err: unknown): string {
  const e = err as { retryable?: unknown; code?: unknown } | undefined;
  return e?.retryable === false && typeof e.code === 'string' ? e.code : 'transient';
}
