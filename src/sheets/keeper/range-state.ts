// What the read tier (read-tier.ts) holds per range: its value, the fetch in flight and what it
// was told, the look for another host's copy, the failure and its background retries, and what
// was last served. One plain record per range, kept in the tier's LRU and counted against its
// budget (cache-budget.ts); the parts that act on it (fetch-flight.ts, range-failures.ts,
// quota-wait.ts) each read and write their fields of it, a few of them shared: firstFailedAt is set
// by fetch-flight.ts's retry listener and by range-failures.ts (which clears it); slotTold is set
// by fetch-flight.ts from quota-wait.ts's slot listener, which sets slotFreesAt (fetch-flight.ts
// clears both); and a read resets the unasked retries' fields (range-failures.ts's asked(), from
// the tier's get()). A file of its own so that they share the one shape without importing the tier.

import { RepeatedFailure } from '../../log/repeated-failure.js';
import type { CachedValue } from './cached-value.js';
import type { ReadCause } from './read-cause.js';

/** What a look for another host's copy of a range gave (the tier's adoptShared). */
export type Adopted = CachedValue | 'not-shared' | undefined;

export interface RangeState {
  value: CachedValue | undefined;
  inflight: Promise<CachedValue> | undefined;
  /** Why the fetch in flight reads: a client joining it sets clientWaits (joinFlight, fetch-flight.ts). */
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
   * QUOTA_ANSWER_MS (never, if none was): its clients are answered then (quota-wait.ts).
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
   * the error's code. Another such cause is said at once (range-failures.ts).
   */
  failureCause: string | undefined;
  /** The copy whose passing SHEET_CACHE_MAX_STALE while the range fails was said (range-failures.ts pastMaxStale). */
  pastMaxStaleSaid?: CachedValue | undefined;
  lastError: unknown;
  /** The background retry armed for `nextRetryAt` while failing (see UNASKED_RETRIES, range-failures.ts). */
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

/** A range's state before anything was read of it; `now` times its failure log. */
export function newRangeState(now: () => number): RangeState {
  return { value: undefined, inflight: undefined, cause: undefined, retrying: undefined, attemptFailed: undefined, adopting: undefined, adoptedStamp: undefined, failures: 0, failingSince: undefined, nextRetryAt: 0, failureLog: new RepeatedFailure(now), failureCause: undefined, lastError: undefined, retryTimer: undefined, unaskedRetries: 0, unaskedUncalled: 0, retryingUnasked: false, unasked: false, lastServedAt: 0, lastServedStale: 0 };
}
