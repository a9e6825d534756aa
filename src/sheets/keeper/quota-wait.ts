// Reads with no copy to serve that would wait long for a read token, answered at once instead
// (the app's 503 with Retry-After) while their fetch goes on, for the read tier (read-tier.ts):
// asked of the host's quota before the read joins or starts its fetch (answerIfWaits), and told by
// the window the sheet's hosts share (REDIS_URL) while the fetch waits for its slot (unlessWaits).
// A file of its own: it decides only whether a client waits, never what is fetched or when, and
// says the answers it gave in one line a minute.

import { RetryLaterError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import type { CachedValue } from './cached-value.js';
import type { Clock } from './clock.js';
import type { RangeState } from './range-state.js';
import type { ReadCause } from './read-cause.js';

/**
 * Longest a read with no copy to serve waits for a read token: past it, it is answered at once
 * (the app's 503 with Retry-After), its fetch queued so that the retry finds the copy. A copy past
 * SHEET_CACHE_MAX_STALE whose refresh waited for the quota held every request 15 s (the worker's
 * bound), then answered 503 all the same, where the README promises 503 at once.
 */
export const QUOTA_ANSWER_MS = 1000;

export class QuotaWaits {
  /** Reads answered at once for want of a read token: said at the first, then once a minute with the count. */
  private readonly said = new RepeatedFailure(() => this.clock.now());

  /** `waitMs`: the tier's readQuotaWaitMs (ReadTierOptions); absent, the quota is never asked. */
  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly waitMs: ((joined: ReadCause | undefined) => number) | undefined,
  ) {}

  /**
   * For a new fetch of the range: the cause's waitsForSlot, which the hosts' shared window calls
   * with the wait for its slot, and the promise it resolves (st.slotTold) at a wait over
   * QUOTA_ANSWER_MS.
   */
  slotListener(st: RangeState): { readonly told: Promise<void>; readonly waitsForSlot: (waitMs: number) => void } {
    let tellSlot: () => void = () => undefined;
    const told = new Promise<void>((resolve) => (tellSlot = resolve));
    const waitsForSlot = (waitMs: number): void => {
      if (st.slotTold === told) st.slotFreesAt = this.clock.now() + waitMs;
      if (waitMs > QUOTA_ANSWER_MS) tellSlot();
    };
    return { told, waitsForSlot };
  }

  /**
   * Throws RetryLaterError when this read would wait longer than QUOTA_ANSWER_MS for a read token:
   * its fetch (`fetch()`: joined, so it goes before background reads) goes on without it. A fetch
   * in flight whose token was granted is at Google: waited for, as before.
   */
  answerIfWaits(range: string, st: RangeState, fetch: () => Promise<CachedValue>): void {
    if (!this.waitMs || st.cause?.granted === true) return;
    // A fetch already queued is joined where it stands: its turn is not a new read's at the back
    // of the queue (a second reader of the range was answered 503 "30 s" with its fetch 0.4 s
    // from its token), nor the head's (one ten places back was told 0.3 s and held 15 s).
    const waitMs = this.waitMs(st.inflight !== undefined ? st.cause : undefined);
    if (waitMs <= QUOTA_ANSWER_MS) return;
    fetch().catch(() => undefined);
    throw this.answer(range, waitMs);
  }

  /**
   * The fetch's value; or RetryLaterError at once when, before its token was granted, the window
   * the sheet's hosts share (REDIS_URL) told it its slot is over QUOTA_ANSWER_MS away: this
   * host's bucket had a token, so answerIfWaits let the read through, and it was held up to
   * the worker's bound. The fetch goes on; the copy comes with it.
   */
  async unlessWaits(range: string, st: RangeState, flight: Promise<CachedValue>): Promise<CachedValue> {
    const told = st.slotTold;
    if (!told || st.cause?.granted === true) return flight;
    const first = await Promise.race([flight.then((value) => ({ value })), told.then(() => ({}))]);
    if ('value' in first) return first.value;
    // What is left of the wait, not the wait as first told: a client joining 1.4 s into a 1.5 s
    // wait was answered 503 "2 s" with the slot 0.1 s away.
    const waitMs = (st.slotFreesAt ?? 0) - this.clock.now();
    if (waitMs <= QUOTA_ANSWER_MS) return flight;
    throw this.answer(range, waitMs);
  }

  /** The answer to a read with no copy that would wait `waitMs` for its token (said once a minute). */
  private answer(range: string, waitMs: number): RetryLaterError {
    this.said.failed((reads) =>
      this.logger.warn(
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
}
