// The host-wide cache tier (L2). Per range:
//   fresh (age < TTL)                       → answer from memory;
//   expired but within SHEET_CACHE_MAX_STALE → answer the stale value at once and start ONE
//                                             background refresh (stale-while-revalidate); while
//                                             Google fails, keep answering it (stale-if-error);
//   staler than that                        → an error at once while Google fails, else a wait
//                                             for the refresh's first attempt (tooStale());
//   absent                                  → wait for the refresh, shared by every caller
//                                             (single-flight: one upstream call for all waiters).
// A value expires TTL after its fetch COMPLETED, so two upstream reads of one range are always at
// least a TTL apart: one call per range per TTL for the whole host. Failed refreshes are retried
// no sooner than a backoff, so a failing Google is not hammered by every request; they are said
// per range at the first, then at most once a minute with the count, then once when one works.
//
// A failing range is also retried in the background, on the same backoff, but at most
// UNASKED_RETRIES times after the last read that asked for it: a range only some requests read (the
// Events header row, read when an event is posted) was otherwise re-read only by the next such
// request, so once Google was back the range stayed "failing" (sheets.ranges_failing over 0, no
// recovered line) until someone posted an event. A handful of reads per failing range bounds what
// this spends of the quota; a range still failing after them, which nobody asked for since, is
// not retried nor counted as failing any more (sheets.upstream_read_unasked) until it is read again.
//
// A fetch some client waits for (a range with no copy, or one too stale to serve) takes the next
// read token before the fetches nobody waits for (stale-while-revalidate, background retries):
// each fetch runs with its cause (read-cause.ts), and a client that joins a background fetch
// still waiting for its token makes it one that a client waits for.

import { LRUCache } from 'lru-cache';
import { describeError, RetryLaterError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import type { RetryListener, SheetsBackend } from '../backend.js';
import { backoffMs } from './backoff.js';
import type { HandedValue } from './cache-handoff.js';
import { cachedValue, sizeOf, type CachedValue } from './cached-value.js';
import { sleepOn, systemClock, type Clock } from './clock.js';
import { RangeMemory } from './range-memory.js';
import { withReadCause, type ReadCause } from './read-cause.js';
import { SheetFailure } from './sheet-failure.js';
import { sharedAbortController } from './shared-abort.js';
import { SharedCopies, type SharedCopyOptions } from './shared-copy.js';
import type { SharedRanges } from './shared-ranges.js';

export interface TierRead {
  readonly value: CachedValue;
  readonly stale: boolean;
  readonly staleSeconds: number;
  /** How the answer was obtained. */
  readonly via: 'fresh' | 'stale' | 'miss';
}

/** What a look for another host's copy of a range gave (adoptShared). */
type Adopted = CachedValue | 'not-shared' | undefined;

interface RangeState {
  value: CachedValue | undefined;
  inflight: Promise<CachedValue> | undefined;
  /** Why the fetch in flight reads: a client joining it sets clientWaits (joined()). */
  cause: ReadCause | undefined;
  /**
   * The error of the in-flight fetch's failed attempt, once one failed and the fetch waits out
   * Google's backoff before the next; undefined while none has (and between fetches).
   */
  retrying: unknown;
  /** Resolves with that error at the fetch's first failed attempt (never, if none fails). */
  attemptFailed: Promise<unknown> | undefined;
  /**
   * Resolves once the hosts' shared window told the fetch in flight of a wait over
   * QUOTA_ANSWER_MS (never, if none was): its clients are answered then (unlessQuotaWaits).
   */
  slotTold?: Promise<void> | undefined;
  /** When the slot the fetch in flight was last told of frees (this tier's clock): a later joiner's wait. */
  slotFreesAt?: number | undefined;
  /** A look for another host's value (REDIS_URL), shared by the misses that wait on it. */
  adopting: Promise<Adopted> | undefined;
  /** The times, as stamped, of the copy last taken from another host (it is not taken twice). */
  adoptedStamp: string | undefined;
  failures: number;
  failingSince: number | undefined;
  /**
   * When the failure began: its first failed attempt, before Google's retries (failingSince is
   * set once they gave up). The recovered line's duration counts from it: from failingSince, an
   * outage of 43 s was said to have lasted 22.
   */
  firstFailedAt?: number | undefined;
  nextRetryAt: number;
  /** Its failed upstream reads as log lines (kept with the range, and forgotten with it). */
  failureLog: RepeatedFailure;
  /**
   * What those lines are of: `transient` for a failure a retry may mend (a 503, a timeout), else
   * the error's code. Another such cause is said at once (failureCauseOf).
   */
  failureCause: string | undefined;
  lastError: unknown;
  /** The background retry armed for `nextRetryAt` while failing (see UNASKED_RETRIES). */
  retryTimer: unknown;
  /** Background retries since the last read that asked for the range. */
  unaskedRetries: number;
  /**
   * Of those, the ones that made no call to Google: held for a refusal of the whole sheet, or
   * refused by this host's full read queue. They count (a sheet refused for good, a queue full for
   * good, stop the retries alike), but the line that gives up says they were not Google's answers.
   */
  unaskedUncalled: number;
  /** A background retry's read is in flight: its failure is one of those retries'. */
  retryingUnasked: boolean;
  /** Failing, retried UNASKED_RETRIES times unasked, and given up on until it is read again. */
  unasked: boolean;
  lastServedAt: number;
  lastServedStale: number;
}

/** With SharedCopyOptions' acceptShared, for the copies of other hosts. */
export interface ReadTierOptions extends SharedCopyOptions {
  /** Paced by the host-wide read quota (see pacing.ts). */
  readonly backend: SheetsBackend;
  readonly logger: Logger;
  readonly ttlMs: number;
  readonly maxStaleMs: number;
  /**
   * Upper bound on memory held by cached values, but for a range larger than half of it: that one
   * is kept anyway (counted as half), since not caching it would send every read of it upstream.
   */
  readonly maxBytes: number;
  /** The setting that sizes maxBytes, named in the warning about a range over the budget. */
  readonly budgetSetting?: string;
  readonly clock?: Clock;
  /** Called when a range's upstream value changed (push invalidation of the L1s). */
  readonly onChange?: (range: string) => void;
  /** Ranges shared with the other hosts of the sheet (REDIS_URL); absent = this host alone. */
  readonly shared?: SharedRanges;
  /** Longest wait for another host's fetch of a range before fetching it here. */
  readonly sharedWaitMs?: number;
  /**
   * How long a read a client waits for would wait for its read token (the host's read quota, and
   * the hosts' shared window); absent: never asked. `joining`: the read joins a fetch already
   * queued for its token, whose place in the queue is its own (QuotaBucket.msUntilFree, the
   * head's wait, is the bound asked then); else it queues a new fetch, behind the client reads
   * queued before it (QuotaBucket.msUntilTurn).
   */
  readonly readQuotaWaitMs?: (joining: boolean) => number;
}

/**
 * Longest a read with no copy to serve waits for a read token: past it, it is answered at once
 * (the app's 503 with Retry-After), its fetch queued so that the retry finds the copy. A copy past
 * SHEET_CACHE_MAX_STALE whose refresh waited for the quota held every request 15 s (the worker's
 * bound), then answered 503 all the same, where the README promises 503 at once.
 */
export const QUOTA_ANSWER_MS = 1000;

/**
 * Background retries of a failing range after the last read that asked for it (see the top). Each
 * is one fetch (the client's own attempts within it included), paced by the read quota like any.
 */
export const UNASKED_RETRIES = 3;
/**
 * What a range's state holds besides its value, counted against the budget: its failure's error
 * (Google's message, its fields), its log line's counts. Measured: about 1.6 KB of heap retained
 * per failed range with a short error message; Google's are longer.
 */
export const STATE_BYTES = 2048;
/** How often a host waiting for another's fetch looks for its value. */
const SHARED_POLL_MS = 50;

export class ReadTier {
  private readonly states: LRUCache<string, RangeState>;
  /**
   * Ranges filled at least once by this keeper. A first fill is no change: no worker can hold a
   * copy from this keeper yet (older copies go with the previous keeper's epoch), and a notice
   * would only make the workers drop the answer to the very read that caused the fill. A range
   * evicted, then filled again, does notify.
   */
  private readonly everFilled = new RangeMemory();
  /** Ranges already reported as larger than half the budget (once each). */
  private readonly warnedLarge = new RangeMemory();
  private readonly clock: Clock;
  private readonly now = (): number => this.clock.now();
  private readonly abort = sharedAbortController();
  /** The sheet refused as a whole (404, 403, the key): held host-wide, not range by range. */
  private readonly sheet: SheetFailure;
  private readonly sharedCopies: SharedCopies;
  /** Copies taken from a draining keeper (restore): served to reads, never to getFresh. */
  private readonly handedOver = new WeakSet<CachedValue>();
  private counts = { fresh: 0, stale: 0, miss: 0, upstream: 0, upstreamErrors: 0, shared: 0, sharedWaits: 0 };
  /** Reads answered at once for want of a read token: said at the first, then once a minute with the count. */
  private readonly quotaWaits = new RepeatedFailure(() => this.clock.now());
  /** Reads refused by the host's full read queue: one line for the host, at most once a minute. */
  private readonly queueFull = new RepeatedFailure(() => this.clock.now());

  constructor(private readonly o: ReadTierOptions) {
    this.clock = o.clock ?? systemClock;
    this.sheet = new SheetFailure(o.logger, this.clock);
    this.sharedCopies = new SharedCopies(o);
    this.states = new LRUCache<string, RangeState>({
      maxSize: o.maxBytes,
      // Capped at half the budget: lru-cache refuses (and deletes) an entry larger than maxSize, so
      // a range bigger than the budget would never stay cached and every read of it would go
      // upstream; counted as the whole budget, it and any other range would evict each other on
      // every alternate read. Half lets one huge range stay next to the small ones. Memory then
      // exceeds the budget, so fill() says so once per range.
      // Every state is also counted at STATE_BYTES, its own memory: one with no value (a range
      // that failed, or one queued for its first fill) was counted 1 byte and so bounded by
      // nothing, and distinct ranges that failed (an export's sheet= names, an app's ranges made
      // from requests) grew the keeper without limit.
      sizeCalculation: (st) => Math.min(this.halfBudget(), sizeOf(st.value) + STATE_BYTES),
    });
  }

  private state(range: string): RangeState {
    let st = this.states.get(range);
    if (!st) {
      st = { value: undefined, inflight: undefined, cause: undefined, retrying: undefined, attemptFailed: undefined, adopting: undefined, adoptedStamp: undefined, failures: 0, failingSince: undefined, nextRetryAt: 0, failureLog: new RepeatedFailure(this.now), failureCause: undefined, lastError: undefined, retryTimer: undefined, unaskedRetries: 0, unaskedUncalled: 0, retryingUnasked: false, unasked: false, lastServedAt: 0, lastServedStale: 0 };
      this.states.set(range, st);
    }
    return st;
  }

  /** Whether get(range) answers at once from the copy held here: fresh, or stale within maxStaleMs. */
  holdsServable(range: string): boolean {
    const v = this.states.peek(range)?.value;
    return v !== undefined && this.clock.now() - v.expiresAt <= this.o.maxStaleMs;
  }

  async get(range: string): Promise<TierRead> {
    const st = this.state(range);
    const now = this.clock.now();
    // Asked for: its background retries start again from none (and it counts as failing again).
    st.unaskedRetries = 0;
    st.unaskedUncalled = 0;
    // A background retry in flight that this read joins fails as the read's: counted in
    // retries_uncalled after the reset above, it made that figure exceed the retries it is of.
    st.retryingUnasked = false;
    st.unasked = false;
    const v = st.value;
    if (v && now < v.expiresAt) {
      this.counts.fresh++;
      return this.served(st, v, now, 'fresh');
    }
    if (v && now - v.expiresAt <= this.o.maxStaleMs) {
      if (!st.inflight && now >= st.nextRetryAt && this.sheet.holds(now) === undefined) this.refresh(range, st, false).catch(() => undefined);
      this.counts.stale++;
      return this.served(st, v, now, 'stale');
    }
    // Not usable here: another host may have it, fresh or still servable (a keeper that just
    // started, while Google fails, serves what the others hold).
    if (this.o.shared && !st.inflight) {
      const adopted = await (st.adopting ??= this.adoptShared(range, st).finally(() => (st.adopting = undefined)));
      if (adopted !== undefined && adopted !== 'not-shared') return this.get(range);
    }
    this.counts.miss++;
    if (v) return this.tooStale(range, st, now);
    // A range that just failed is not fetched again for every caller: they get the same error
    // until the backoff passed (no stampede on a failing Google).
    if (!st.inflight && st.failingSince !== undefined && now < st.nextRetryAt) throw st.lastError;
    // The whole sheet is refused: its error at once, no call (sheet-failure.ts).
    if (!st.inflight) this.refuseIfSheetFails(now);
    this.answerIfQuotaWaits(range, st);
    const fetched = await this.unlessQuotaWaits(range, st, this.joined(st) ?? this.refresh(range, st, true));
    return this.served(st, fetched, this.clock.now(), 'miss');
  }

  /**
   * Throws RetryLaterError when this read would wait longer than QUOTA_ANSWER_MS for a read token:
   * its fetch (joined, so it goes before background reads) goes on without it. A fetch in flight
   * whose token was granted is at Google: waited for, as before.
   */
  private answerIfQuotaWaits(range: string, st: RangeState): void {
    if (!this.o.readQuotaWaitMs || st.cause?.granted === true) return;
    // A fetch already queued is joined where it stands: its turn is not a new read's at the back
    // of the queue (a second reader of the range was answered 503 "30 s" with its fetch 0.4 s
    // from its token).
    const waitMs = this.o.readQuotaWaitMs(st.inflight !== undefined);
    if (waitMs <= QUOTA_ANSWER_MS) return;
    (this.joined(st) ?? this.refresh(range, st, true)).catch(() => undefined);
    throw this.quotaWaitAnswer(range, waitMs);
  }

  /**
   * The fetch's value; or RetryLaterError at once when, before its token was granted, the window
   * the sheet's hosts share (REDIS_URL) told it its slot is over QUOTA_ANSWER_MS away: this
   * host's bucket had a token, so answerIfQuotaWaits let the read through, and it was held up to
   * the worker's bound. The fetch goes on; the copy comes with it.
   */
  private async unlessQuotaWaits(range: string, st: RangeState, flight: Promise<CachedValue>): Promise<CachedValue> {
    const told = st.slotTold;
    if (!told || st.cause?.granted === true) return flight;
    const first = await Promise.race([flight.then((value) => ({ value })), told.then(() => ({}))]);
    if ('value' in first) return first.value;
    // What is left of the wait, not the wait as first told: a client joining 1.4 s into a 1.5 s
    // wait was answered 503 "2 s" with the slot 0.1 s away.
    const waitMs = (st.slotFreesAt ?? 0) - this.clock.now();
    if (waitMs <= QUOTA_ANSWER_MS) return flight;
    throw this.quotaWaitAnswer(range, waitMs);
  }

  /** The answer to a read with no copy that would wait `waitMs` for its token (said once a minute). */
  private quotaWaitAnswer(range: string, waitMs: number): RetryLaterError {
    this.quotaWaits.failed((reads) =>
      this.o.logger.warn(
        { event: 'sheets.read_quota_wait', code: 'CORRAL_ERR_SHEETS_QUOTA_WAIT', range, waitMs: Math.round(waitMs), reads },
        `sheets: reads with no copy to serve answered 503 at once (${reads} since the last line): the read quota (SHEETS_READS_PER_MINUTE; with REDIS_URL, shared by the sheet's hosts) has no token free for ${Math.ceil(waitMs / 1000)} s; their reads are queued and the copies come with them. Many distinct ranges read at once spend it: raise SHEET_CACHE_TTL, read fewer distinct ranges, or raise the project's quota and SHEETS_READS_PER_MINUTE`,
      ),
    );
    return new RetryLaterError(
      'CORRAL_ERR_SHEETS_QUOTA_WAIT',
      `the read quota (SHEETS_READS_PER_MINUTE) has no token free for ${Math.ceil(waitMs / 1000)} s; the read of ${range} is queued and its copy comes with it`,
      waitMs,
    );
  }

  /**
   * A copy fetched no longer than the TTL ago: the one held when it is fresh, else the refresh's,
   * waited for (a refresh in flight is joined; nobody's client waits for it, so it takes its read
   * token behind theirs). For the flusher, which writes rows under a tab's header row and must not
   * take a header from a copy past its TTL, however long ago it was edited. A range failing in its
   * backoff, or a sheet refused as a whole, gets the error at once. `wait: false` (a drain's pass):
   * undefined rather than a wait.
   */
  async getFresh(range: string, opts: { wait: boolean } = { wait: true }): Promise<CachedValue | undefined> {
    const st = this.state(range);
    const now = this.clock.now();
    const v = st.value;
    // Not a copy the draining keeper handed over: the sheet may have been edited while no keeper
    // ran, and what the flusher writes under must have been read since. Not counted as a read
    // served either: the cache's figures are the clients'.
    if (v && now < v.expiresAt && !this.handedOver.has(v)) return v;
    if (!opts.wait) return undefined;
    if (!st.inflight && st.failingSince !== undefined && now < st.nextRetryAt) throw st.lastError;
    if (!st.inflight) this.refuseIfSheetFails(now);
    // Its first attempt only, as a read past max-stale: the flusher's pass waits on it, and must
    // not through Google's retries and backoff.
    return this.firstAttempt(st, st.inflight ?? this.refresh(range, st, false));
  }

  /** The refresh in flight's value, or at once the error of its first failed attempt. */
  private firstAttempt(st: RangeState, flight: Promise<CachedValue>): Promise<CachedValue> {
    const attemptFailed = st.attemptFailed?.then((err): never => {
      throw err;
    });
    return attemptFailed ? Promise.race([flight, attemptFailed]) : flight;
  }

  /**
   * A read of a range whose copy is past SHEET_CACHE_MAX_STALE. It is answered from no copy, yet
   * it must not wait through Google's retries and backoff (5 attempts, 15 s to over a minute): a
   * read that joined the refresh in flight waited all of it, while those arriving during the
   * backoff after it got the error at once, so slow and prompt errors alternated. The rule:
   *   - the range is failing (its last refresh failed, or an attempt of the one in flight did and
   *     it waits to retry): the error at once (the app answers 503 sheets_unavailable with
   *     Retry-After). A refresh is still started once the backoff allows it, in the background,
   *     so that a recovered Google is picked up: the reads after it get its value.
   *   - no failure seen (a range nobody read for a while, Google answering): wait for the
   *     refresh, but for its first attempt only: its value, or at once the error of that attempt.
   * So a read waits for Google at most one attempt (SHEETS_TIMEOUT, after its quota token and,
   * with REDIS_URL, another host's fetch), and only when nothing says Google is failing. A range
   * never filled (or evicted) has no copy: it waits for its first fill, retries included. Either
   * is answered at once when its token is over QUOTA_ANSWER_MS away (answerIfQuotaWaits).
   */
  private async tooStale(range: string, st: RangeState, now: number): Promise<TierRead> {
    const failed = st.retrying ?? (st.failingSince !== undefined ? st.lastError : undefined);
    if (failed !== undefined) {
      if (!st.inflight && now >= st.nextRetryAt && this.sheet.holds(now) === undefined) this.refresh(range, st, false).catch(() => undefined);
      throw failed;
    }
    if (!st.inflight) this.refuseIfSheetFails(now);
    this.answerIfQuotaWaits(range, st);
    const fetched = await this.unlessQuotaWaits(range, st, this.firstAttempt(st, this.joined(st) ?? this.refresh(range, st, true)));
    return this.served(st, fetched, this.clock.now(), 'miss');
  }

  private refuseIfSheetFails(now: number): void {
    const refusal = this.sheet.holds(now);
    if (refusal === undefined) return;
    this.sheet.refused();
    throw refusal;
  }

  private served(st: RangeState, v: CachedValue, now: number, via: TierRead['via']): TierRead {
    const staleMs = Math.max(0, now - v.expiresAt);
    st.lastServedAt = now;
    st.lastServedStale = staleMs / 1000;
    return { value: v, stale: now >= v.expiresAt, staleSeconds: Math.floor(staleMs / 1000), via };
  }

  /**
   * The fetch in flight, now one a client waits for (its reads not yet granted a token go before
   * the background ones), or undefined when none is.
   */
  private joined(st: RangeState): Promise<CachedValue> | undefined {
    if (st.cause) st.cause.clientWaits = true;
    return st.inflight;
  }

  /**
   * One upstream fetch for the range; every concurrent caller shares it. `clientWaits`: a client
   * waits for it (else it is background work, whose reads wait for the quota behind the others).
   */
  private refresh(range: string, st: RangeState, clientWaits: boolean): Promise<CachedValue> {
    let tell: (err: unknown) => void = () => undefined;
    const attemptFailed = new Promise<unknown>((resolve) => (tell = resolve));
    let tellSlot: () => void = () => undefined;
    const slotTold = new Promise<void>((resolve) => (tellSlot = resolve));
    const cause: ReadCause = {
      clientWaits,
      waitsForSlot: (waitMs) => {
        if (st.slotTold === slotTold) st.slotFreesAt = this.clock.now() + waitMs;
        if (waitMs > QUOTA_ANSWER_MS) tellSlot();
      },
    };
    const onRetry = (err: Error) => {
      if (st.attemptFailed !== attemptFailed) return;
      st.firstFailedAt ??= this.clock.now();
      st.retrying ??= err;
      // A range with a copy answers every read at once from here on, its copy or this error
      // (tooStale()): nobody waits for the retries, so they go as background reads. A range with
      // none keeps its readers waiting through them.
      if (st.value) cause.clientWaits = false;
      tell(err);
    };
    st.retrying = undefined;
    st.attemptFailed = attemptFailed;
    st.slotTold = slotTold;
    st.cause = cause;
    this.sheet.started();
    const p = withReadCause(cause, () => this.fetch(range, st, onRetry)).finally(() => {
      this.sheet.ended();
      st.inflight = undefined;
      st.cause = undefined;
      st.retrying = undefined;
      st.attemptFailed = undefined;
      st.slotTold = undefined;
      st.slotFreesAt = undefined;
    });
    st.inflight = p;
    return p;
  }

  private async fetch(range: string, st: RangeState, onRetry: RetryListener): Promise<CachedValue> {
    const shared = this.o.shared;
    if (!shared) return this.fetchUpstream(range, st, onRetry);
    const adopted = await this.adoptShared(range, st);
    if (adopted === 'not-shared') return this.fetchUpstream(range, st, onRetry);
    if (adopted && this.clock.now() < adopted.expiresAt) return adopted;
    // One host fetches; the others wait for its value, up to the claim's deadline (a holder that
    // died, or one whose fetch failed, then leaves the fetch to whoever claims it next).
    const waitUntil = this.clock.now() + (this.o.sharedWaitMs ?? 10_000);
    for (;;) {
      const claim = await shared.claim(range);
      if (claim.result === 'won') {
        try {
          return await this.fetchUpstream(range, st, onRetry);
        } finally {
          // Not awaited: a slow Redis must not hold the answer; the claim lapses by itself anyway.
          void shared.release(range, claim.token);
        }
      }
      if (claim.result === 'unavailable' || this.clock.now() >= waitUntil) return this.fetchUpstream(range, st, onRetry);
      this.counts.sharedWaits++;
      do {
        await sleepOn(this.clock, SHARED_POLL_MS, this.abort.signal);
        const got = await this.adoptShared(range, st);
        if (got === 'not-shared') return this.fetchUpstream(range, st, onRetry);
        if (got && this.clock.now() < got.expiresAt) return got;
      } while ((await shared.claimed(range)) && this.clock.now() < waitUntil);
      // The claim is gone. A holder that fetched shared its value before it released the claim
      // (one connection, in order), but the look above may have come before both: one more look,
      // or this host fetches what it was waiting for a second time.
      const last = await this.adoptShared(range, st);
      if (last === 'not-shared') return this.fetchUpstream(range, st, onRetry);
      if (last && this.clock.now() < last.expiresAt) return last;
    }
  }

  /**
   * Installs the value another host shared when it is newer than this host's and can still be
   * served; returns it, 'not-shared' (the range is too large to be shared: read it here), or
   * undefined (none, too old, or refused by acceptShared).
   */
  private async adoptShared(range: string, st: RangeState): Promise<Adopted> {
    const found = await this.o.shared?.get(range);
    if (!found) return undefined;
    if (found.kind === 'too-large') return 'not-shared';
    // An answer that comes after close() is not kept (as a fetch's is not).
    if (this.abort.signal.aborted) return undefined;
    const copy = this.sharedCopies.take(range, found, this.clock.now(), st);
    if (!copy) return undefined;
    const value = this.keepingSameBytes(st, copy.value);
    const changed = this.changes(range, st, value);
    this.install(range, st, value);
    st.adoptedStamp = copy.stamp;
    this.counts.shared++;
    if (changed) this.o.onChange?.(range);
    return value;
  }

  /**
   * `value`, but with the rows and bytes of the copy held when its bytes are the same: a refresh
   * that found the range as it was keeps them (the same objects, the old new ones dropped), so the
   * copy keeps its name (copy-identity.ts) and workers holding it are answered "unchanged", and
   * what the keeper made of them (its cuts) stays valid. Its times are the new fetch's.
   */
  private keepingSameBytes(st: RangeState, value: CachedValue): CachedValue {
    const held = st.value;
    if (!held || held.jsonBytes === value.jsonBytes || !held.jsonBytes.equals(value.jsonBytes)) return value;
    return { ...value, values: held.values, jsonBytes: held.jsonBytes };
  }

  /** Whether installing `value` changes what the workers were told of the range (see everFilled). */
  private changes(range: string, st: RangeState, value: CachedValue): boolean {
    return st.value ? st.value.jsonBytes !== value.jsonBytes && !st.value.jsonBytes.equals(value.jsonBytes) : this.everFilled.has(range);
  }

  private async fetchUpstream(range: string, st: RangeState, onRetry: RetryListener): Promise<CachedValue> {
    try {
      const started = this.clock.now();
      this.counts.upstream++;
      const vr = await this.o.backend.getValues(range, this.abort.signal, onRetry);
      // An answer that comes after close() is not kept: the values a draining keeper hands over
      // are those it had when it closed the tier (cache-handoff.ts).
      this.abort.signal.throwIfAborted();
      const done = this.clock.now();
      const value = this.keepingSameBytes(st, cachedValue(range, vr.values ?? [], started, done, this.o.ttlMs));
      const changed = this.changes(range, st, value);
      this.install(range, st, value);
      const failingSince = st.firstFailedAt ?? st.failingSince;
      this.sheet.succeeded();
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
      this.clock.clearTimeout(st.retryTimer);
      st.retryTimer = undefined;
      if (changed) this.o.onChange?.(range);
      // Not awaited (the callers have their value); Redis runs one connection's commands in order,
      // so the value lands before the claim's release that follows (fetch()).
      void this.o.shared?.put(range, value.jsonBytes, started, done);
      return value;
    } catch (err) {
      this.onFailure(range, st, err);
      throw err;
    }
  }

  /** A range's value, fetched or restored: remembered as filled, and counted at its size. */
  private install(range: string, st: RangeState, value: CachedValue): void {
    st.value = value;
    // Bounded: when the memory is dropped, a range evicted, then filled again, goes without its
    // notice; workers then keep their copy until its expiry, as they would without push
    // invalidation.
    this.everFilled.add(range);
    // Re-set so the LRU accounts for the new size. lru-cache recomputes a size only when the
    // value object changes, and this is the same state object: delete it first.
    this.states.delete(range);
    this.states.set(range, st);
    this.warnIfLarge(value);
  }

  private halfBudget(): number {
    return Math.max(1, Math.floor(this.o.maxBytes / 2));
  }

  private warnIfLarge(value: CachedValue): void {
    const bytes = sizeOf(value);
    if (bytes <= this.halfBudget() || !this.warnedLarge.add(value.range)) return;
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    const raise = this.o.budgetSetting ? `; raise ${this.o.budgetSetting}` : '';
    this.o.logger.warn(
      { event: 'sheets.range_over_budget', range: value.range, bytes, budget_bytes: this.o.maxBytes, setting: this.o.budgetSetting ?? null },
      `sheets: range ${value.range} takes about ${mb(bytes)}, more than half the cache budget of ${mb(this.o.maxBytes)}: it stays cached (else every read of it would go upstream), so the cache holds more than its budget${raise}`,
    );
  }

  private onFailure(range: string, st: RangeState, err: unknown): void {
    const now = this.clock.now();
    if (st.retryingUnasked && (err as { code?: unknown }).code === 'CORRAL_ERR_QUEUE_FULL') st.unaskedUncalled++;
    st.retryingUnasked = false;
    this.counts.upstreamErrors++;
    if (!this.abort.signal.aborted) this.sheet.failed(err);
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
    if (this.abort.signal.aborted) return;
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
    st.failureLog.failed((failures, total) => {
      const v = st.value;
      const stale = v ? Math.max(0, Math.round((now - v.expiresAt) / 1000)) : null;
      const what =
        v && now - v.expiresAt <= this.o.maxStaleMs
          ? 'sheets: upstream read failed; serving the last good value until it recovers or passes SHEET_CACHE_MAX_STALE'
          : 'sheets: upstream read failed and no usable cached value exists; reads of this range fail';
      this.o.logger.warn(
        { event: 'sheets.upstream_read_failed', range, err: describeError(err), staleSeconds: stale, maxStaleSeconds: this.o.maxStaleMs / 1000, failures, failures_total: total },
        total === 1 ? what : `${what} (${failures} failed upstream reads of this range since the last such line)`,
      );
    });
  }

  /**
   * Arms the background retry of a range that just failed, at its backoff, unless it was retried
   * UNASKED_RETRIES times since a read last asked for it: then it is given up on (said once) and
   * no longer counted in rangesFailing, until a read asks for it again. A read that comes first
   * starts the refresh itself (get()), and the timer then finds it in flight and leaves it.
   */
  private retryLater(range: string, st: RangeState): void {
    this.clock.clearTimeout(st.retryTimer);
    st.retryTimer = undefined;
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
    st.retryTimer = this.clock.setTimeout(() => {
      st.retryTimer = undefined;
      // Closed, evicted (a new state would be another range's memory), recovered, or in flight.
      if (this.abort.signal.aborted || this.states.peek(range) !== st || st.failingSince === undefined || st.inflight) return;
      st.unaskedRetries++;
      const now = this.clock.now();
      // The whole sheet is refused (sheet-failure.ts): no call now, but the retry counts, so a
      // sheet refused for good stops being retried range by range.
      if (this.sheet.holds(now) !== undefined) {
        st.unaskedUncalled++;
        st.nextRetryAt = Math.max(st.nextRetryAt, now + (this.sheet.retryIn(now) ?? 0));
        this.retryLater(range, st);
        return;
      }
      st.retryingUnasked = true;
      this.refresh(range, st, false).catch(() => undefined);
    }, Math.max(0, st.nextRetryAt - this.now()));
  }

  /**
   * Whether a cached value of a range that `matches` was fetched (begun) at or before `t`: such a
   * copy may lack what reached Google at `t` (the journal's rowsFor() uses the same bound).
   */
  hasValueFetchedBy(matches: (range: string) => boolean, t: number): boolean {
    // Only a value that can still be served counts: past its max staleness it never is again.
    const servableFrom = this.clock.now() - this.o.maxStaleMs;
    for (const [range, st] of this.states.entries()) {
      if (st.value && st.value.fetchStartedAt <= t && st.value.expiresAt >= servableFrom && matches(range)) return true;
    }
    return false;
  }

  /** The values that can still be served (within TTL + SHEET_CACHE_MAX_STALE), for the next keeper. */
  servableValues(): CachedValue[] {
    const servableFrom = this.clock.now() - this.o.maxStaleMs;
    const out: CachedValue[] = [];
    for (const st of this.states.values()) if (st.value && st.value.expiresAt >= servableFrom) out.push(st.value);
    return out;
  }

  /**
   * Installs values a previous keeper held (cache-handoff.ts), timed by this tier's TTL; a range
   * this tier filled already keeps its own. They are served and refreshed as if fetched here, and
   * a refresh that finds other values notifies the workers as any change does.
   */
  restore(values: readonly HandedValue[]): number {
    let restored = 0;
    for (const h of values) {
      const st = this.state(h.range);
      if (st.value) continue;
      const value: CachedValue = { ...h, expiresAt: h.fetchedAt + this.o.ttlMs };
      this.install(h.range, st, value);
      this.handedOver.add(value);
      restored++;
    }
    return restored;
  }

  /**
   * While `range` is failing, how long until the tier tries Google again (its backoff, at least
   * what Google's Retry-After asked): a read before then gets the same error. Undefined otherwise.
   */
  retryIn(range: string): number | undefined {
    const st = this.states.peek(range);
    // A refresh in flight retries within the call, on Google's backoff: when it ends is not known.
    if (st?.inflight) return undefined;
    const now = this.clock.now();
    const sheet = this.sheet.retryIn(now);
    if (!st || st.failingSince === undefined) return sheet;
    return Math.max(st.nextRetryAt - now, sheet ?? 0, 0);
  }

  /** Entries cached, reads by how they were answered, and the worst staleness served in the last minute. */
  figures(): Record<string, number> {
    const now = this.clock.now();
    let maxStale = 0;
    let failing = 0;
    for (const st of this.states.values()) {
      if (st.lastServedAt > now - 60_000) maxStale = Math.max(maxStale, st.lastServedStale);
      // Its last fetch failed (and a read asked for it since its background retries gave up), or
      // the fetch in flight had an attempt fail and waits to retry: counted from that first
      // failed attempt (SHEETS_TIMEOUT into a hang), not only once all of Google's retries failed.
      if ((st.failingSince !== undefined && !st.unasked) || st.retrying !== undefined) failing++;
    }
    return {
      cacheHits: this.counts.fresh + this.counts.stale,
      cacheFreshHits: this.counts.fresh,
      cacheStaleHits: this.counts.stale,
      cacheMisses: this.counts.miss,
      upstreamReads: this.counts.upstream,
      sharedReads: this.counts.shared,
      sharedFetchWaits: this.counts.sharedWaits,
      upstreamReadErrors: this.counts.upstreamErrors,
      rangesCached: this.states.size,
      rangesFailing: failing,
      maxStaleSeconds: Math.round(maxStale),
    };
  }

  /** Aborts in-flight fetches; idempotent. */
  close(): void {
    this.abort.abort(new Error('keeper closing'));
    for (const st of this.states.values()) {
      this.clock.clearTimeout(st.retryTimer);
      st.retryTimer = undefined;
    }
  }
}

/** `transient` for a failure a retry may mend, else its code: another cause is another line (see RangeState.failureCause). */
function failureCauseOf(err: unknown): string {
  const e = err as { retryable?: unknown; code?: unknown } | undefined;
  return e?.retryable === false && typeof e.code === 'string' ? e.code : 'transient';
}
