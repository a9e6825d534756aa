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
// A failing range is also retried in the background, at most UNASKED_RETRIES times after the
// last read that asked for it (range-failures.ts: the backoff, the lines and those retries).
//
// A fetch some client waits for (a range with no copy, or one too stale to serve) takes the next
// read token before the fetches nobody waits for (stale-while-revalidate, background retries):
// each fetch runs with its cause (read-cause.ts), and a client that joins a background fetch
// still waiting for its token makes it one that a client waits for. A client that would wait
// long for its token is answered at once (quota-wait.ts).
//
// Beside this file: a range's state (range-state.ts), its fetch in flight (fetch-flight.ts), the
// memory budget (cache-budget.ts), the fetch shared by the sheet's hosts (shared-fetch.ts, with
// shared-copy.ts), and the figures (tier-figures.ts).

import { LRUCache } from 'lru-cache';
import type { Logger } from '../../log/logger.js';
import type { RetryListener, SheetsBackend } from '../backend.js';
import type { HandedValue } from './cache-handoff.js';
import { CacheBudget, type CacheBudgetOptions } from './cache-budget.js';
import { cachedValue, type CachedValue } from './cached-value.js';
import { fromWallTime, systemClock, toWallTime, type Clock } from './clock.js';
import { CopyNumbers } from './copy-identity.js';
import { EvictedCopies } from './evicted-copies.js';
import { firstAttempt, joinFlight, startFlight } from './fetch-flight.js';
import { QuotaWaits } from './quota-wait.js';
import { RangeFailures } from './range-failures.js';
import { RangeMemory } from './range-memory.js';
import { newRangeState, type Adopted, type RangeState } from './range-state.js';
import type { ReadCause } from './read-cause.js';
import { SheetFailure } from './sheet-failure.js';
import { sharedAbortController } from './shared-abort.js';
import { SharedCopies, type SharedCopyOptions } from './shared-copy.js';
import { fetchAmongHosts } from './shared-fetch.js';
import type { SharedRanges } from './shared-ranges.js';
import { newReadCounts, tierFigures } from './tier-figures.js';

export interface TierRead {
  readonly value: CachedValue;
  readonly stale: boolean;
  readonly staleSeconds: number;
  /** How the answer was obtained. */
  readonly via: 'fresh' | 'stale' | 'miss';
}

/** With SharedCopyOptions' acceptShared, for the copies of other hosts, and CacheBudgetOptions' maxBytes. */
export interface ReadTierOptions extends SharedCopyOptions, CacheBudgetOptions {
  /** Paced by the host-wide read quota (see pacing.ts). */
  readonly backend: SheetsBackend;
  readonly logger: Logger;
  readonly ttlMs: number;
  readonly maxStaleMs: number;
  readonly clock?: Clock;
  /** Called when a range's upstream value changed (push invalidation of the L1s). */
  readonly onChange?: (range: string) => void;
  /** Ranges shared with the other hosts of the sheet (REDIS_URL); absent = this host alone. */
  readonly shared?: SharedRanges;
  /** HostsFetch.waitMs (shared-fetch.ts): after it, a range claimed again by another host is fetched here. */
  readonly sharedWaitMs?: number;
  /**
   * How long a read a client waits for would wait for its read token (the host's read quota, and
   * the hosts' shared window); absent: never asked. `joined`: the cause of the fetch in flight the
   * read joins, whose place in the queue is its own (QuotaBucket.msUntilTurn(true, joined): behind
   * the client reads queued before it, not the head's wait); undefined: it queues a new fetch,
   * behind every client read queued (QuotaBucket.msUntilTurn(true)).
   */
  readonly readQuotaWaitMs?: (joined: ReadCause | undefined) => number;
}

export class ReadTier {
  private readonly states: LRUCache<string, RangeState>;
  /**
   * Ranges filled at least once by this keeper. A first fill is no change: no worker can hold a
   * copy from this keeper yet (older copies go with the previous keeper's epoch), and a notice
   * would only make the workers drop the answer to the very read that caused the fill. A range
   * evicted, then filled again, does notify.
   */
  private readonly everFilled = new RangeMemory();
  private readonly clock: Clock;
  private readonly now = (): number => this.clock.now();
  private readonly abort = sharedAbortController();
  /** The sheet refused as a whole (404, 403, the key): held host-wide, not range by range. */
  private readonly sheet: SheetFailure;
  private readonly sharedCopies: SharedCopies;
  private readonly budget: CacheBudget;
  private readonly failures: RangeFailures;
  private readonly quotaWaits: QuotaWaits;
  /** Copies taken from a draining keeper (restore): served to reads, never to getFresh. */
  private readonly handedOver = new WeakSet<CachedValue>();
  private readonly counts = newReadCounts();
  /**
   * States the LRU evicted while their fetch was in flight (one queued for a read token while other
   * ranges filled the budget), kept until it settles: a read of the range meanwhile joins that
   * fetch. Without them a new state was made and fetched the range a second time at once, and the
   * first fetch's install put its old state back over the new one.
   */
  private readonly evictedInFlight = new Map<string, RangeState>();
  /** The numbers that name this tier's values in the keeper's answers (copy-identity.ts). */
  readonly copyNumbers = new CopyNumbers();
  /** Copies the budget pushed out: filled again with the same bytes, they keep their name. */
  private readonly evictedCopies = new EvictedCopies();

  constructor(private readonly o: ReadTierOptions) {
    this.clock = o.clock ?? systemClock;
    this.sheet = new SheetFailure(o.logger, this.clock);
    this.sharedCopies = new SharedCopies(o);
    this.budget = new CacheBudget(o);
    this.quotaWaits = new QuotaWaits(o.logger, this.clock, o.readQuotaWaitMs);
    this.failures = new RangeFailures({
      logger: o.logger,
      clock: this.clock,
      ttlMs: o.ttlMs,
      maxStaleMs: o.maxStaleMs,
      sheet: this.sheet,
      signal: this.abort.signal,
      idle: (range, st) => this.states.peek(range) === st && !st.inflight,
      retry: (range, st) => void this.refresh(range, st, false).catch(() => undefined),
    });
    this.states = new LRUCache<string, RangeState>({
      maxSize: o.maxBytes,
      sizeCalculation: (st) => this.budget.sizeOf(st.value),
      dispose: (st, range, reason) => {
        if (reason !== 'evict') return;
        if (st.inflight) this.evictedInFlight.set(range, st);
        if (st.value) this.evictedCopies.remember(range, st.value.jsonBytes, this.copyNumbers.of(st.value.jsonBytes));
      },
    });
  }

  private state(range: string): RangeState {
    // An evicted state whose fetch is still in flight: joined, and back in the LRU when it installs.
    let st = this.states.get(range) ?? this.evictedInFlight.get(range);
    if (!st) {
      st = newRangeState(this.now);
      this.states.set(range, st);
    }
    return st;
  }

  /**
   * Every state whose value a read may be answered from: the LRU's, and those it evicted while
   * their fetch is in flight (state() serves them until it settles). The journal's retention
   * (hasValueFetchedBy), the handoff and holdsServable must see what get() serves: left out, a
   * done row was forgotten while a copy from before it was still answered (read-your-writes).
   */
  private *servedStates(): IterableIterator<[string, RangeState]> {
    yield* this.states.entries();
    for (const [range, st] of this.evictedInFlight) if (!this.states.has(range)) yield [range, st];
  }

  /** Whether get(range) answers at once from the copy held here: fresh, or stale within maxStaleMs. */
  holdsServable(range: string): boolean {
    const v = (this.states.peek(range) ?? this.evictedInFlight.get(range))?.value;
    return v !== undefined && this.clock.now() - v.expiresAt <= this.o.maxStaleMs;
  }

  async get(range: string): Promise<TierRead> {
    const st = this.state(range);
    const now = this.clock.now();
    // Asked for: its background retries start again from none (and it counts as failing again).
    this.failures.asked(range, st);
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
    this.quotaWaits.answerIfWaits(range, st, () => this.clientFetch(range, st));
    const fetched = await this.quotaWaits.unlessWaits(range, st, this.clientFetch(range, st));
    return this.served(st, fetched, this.clock.now(), 'miss');
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
    return firstAttempt(st, st.inflight ?? this.refresh(range, st, false));
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
   * is answered at once when its token is over QUOTA_ANSWER_MS away (quota-wait.ts).
   */
  private async tooStale(range: string, st: RangeState, now: number): Promise<TierRead> {
    const failed = st.retrying ?? (st.failingSince !== undefined ? st.lastError : undefined);
    if (failed !== undefined) {
      if (!st.inflight && now >= st.nextRetryAt && this.sheet.holds(now) === undefined) this.refresh(range, st, false).catch(() => undefined);
      this.failures.pastMaxStale(range, st, failed);
      throw failed;
    }
    if (!st.inflight) this.refuseIfSheetFails(now);
    this.quotaWaits.answerIfWaits(range, st, () => this.clientFetch(range, st));
    const fetched = await this.quotaWaits.unlessWaits(range, st, firstAttempt(st, this.clientFetch(range, st)));
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

  /** The fetch a client waits for: the one in flight, joined, else a new one. */
  private clientFetch(range: string, st: RangeState): Promise<CachedValue> {
    return joinFlight(st) ?? this.refresh(range, st, true);
  }

  /** One upstream fetch for the range, shared by every concurrent caller (fetch-flight.ts). */
  private refresh(range: string, st: RangeState, clientWaits: boolean): Promise<CachedValue> {
    const flight = { clock: this.clock, slot: this.quotaWaits.slotListener(st), sheet: this.sheet };
    const fetched = startFlight(st, clientWaits, flight, (onRetry) => this.fetch(range, st, onRetry));
    // Settled either way: an evicted state kept for this fetch (evictedInFlight) is let go.
    const letGo = (): void => {
      if (this.evictedInFlight.get(range) === st) this.evictedInFlight.delete(range);
    };
    fetched.then(letGo, letGo);
    return fetched;
  }

  private fetch(range: string, st: RangeState, onRetry: RetryListener): Promise<CachedValue> {
    return fetchAmongHosts(range, {
      shared: this.o.shared,
      clock: this.clock,
      signal: this.abort.signal,
      waitMs: this.o.sharedWaitMs ?? 10_000,
      adopt: () => this.adoptShared(range, st),
      fetchHere: () => this.fetchUpstream(range, st, onRetry),
      waiting: () => void this.counts.sharedWaits++,
    });
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
    // Stamped on the wall clock by the host that fetched it, read onto this keeper's (see put).
    const onOurClock = { ...found, fetchStartedAt: fromWallTime(this.clock, found.fetchStartedAt), fetchedAt: fromWallTime(this.clock, found.fetchedAt) };
    const copy = this.sharedCopies.take(range, onOurClock, this.clock.now(), st);
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
    if (st.value) return st.value.jsonBytes !== value.jsonBytes && !st.value.jsonBytes.equals(value.jsonBytes);
    // Filled again after the budget pushed it out, with the bytes it had: the copy the workers
    // hold is this one, under the name it had (evicted-copies.ts).
    const carried = this.evictedCopies.take(range, value.jsonBytes);
    if (carried !== undefined) {
      this.copyNumbers.carry(value.jsonBytes, carried);
      return false;
    }
    return this.everFilled.has(range);
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
      this.failures.recovered(range, st, done);
      if (changed) this.o.onChange?.(range);
      // Not awaited (the callers have their value); Redis runs one connection's commands in order,
      // so the value lands before the claim's release that follows (fetch()). Stamped on the wall
      // clock: this keeper's is the wall clock at its start, then monotonic, and after a step of
      // the system clock (NTP at boot) or a suspend during its life, its own times would read that
      // much off to the other hosts (their copies too far ahead to it, its own too old to them:
      // neither taken, and "check NTP" said of clocks that agree).
      // Read back, the wall clock's offset (whole ms) may have moved by one: this host's own copy
      // is not taken back as another's a hair newer.
      if (this.o.shared) {
        const [s, f] = [toWallTime(this.clock, started), toWallTime(this.clock, done)];
        st.adoptedStamp = `${s}:${f}`;
        void this.o.shared.put(range, value.jsonBytes, s, f);
      }
      return value;
    } catch (err) {
      this.counts.upstreamErrors++;
      this.failures.failed(range, st, err);
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
    this.budget.warnIfLarge(value);
  }

  /**
   * Whether a cached value of a range that `matches` was fetched (begun) at or before `t`: such a
   * copy may lack what reached Google at `t` (the journal's rowsFor() uses the same bound).
   */
  hasValueFetchedBy(matches: (range: string) => boolean, t: number): boolean {
    // Only a value that can still be served counts: past its max staleness it never is again.
    const servableFrom = this.clock.now() - this.o.maxStaleMs;
    for (const [range, st] of this.servedStates()) {
      if (st.value && st.value.fetchStartedAt <= t && st.value.expiresAt >= servableFrom && matches(range)) return true;
    }
    return false;
  }

  /** The values that can still be served (within TTL + SHEET_CACHE_MAX_STALE), for the next keeper. */
  servableValues(): CachedValue[] {
    const servableFrom = this.clock.now() - this.o.maxStaleMs;
    const out: CachedValue[] = [];
    for (const [, st] of this.servedStates()) if (st.value && st.value.expiresAt >= servableFrom) out.push(st.value);
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
    return tierFigures(this.counts, this.states.values(), this.states.size, this.clock.now());
  }

  /** Aborts in-flight fetches; idempotent. */
  close(): void {
    this.abort.abort(new Error('keeper closing'));
    for (const st of this.states.values()) this.failures.disarm(st);
  }
}
