// Time as the keeper's parts see it, so unit tests can drive the quota window, TTLs and backoff
// with a fake clock instead of sleeping.

import { monotonicNow } from '../../clock.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /**
   * How far the wall clock (Date.now()) is from now(): what steps of the system clock (and a
   * host's suspend, which a monotonic clock does not count) moved it since the process started.
   * Absent: 0 (a test's clock, which is its own wall clock).
   */
  wallOffset?(): number;
}

export const systemClock: Clock = {
  // The wall clock at process start, then monotonic time: a step of the system clock (NTP, a
  // `date -s`) moves neither the quota window nor TTLs and backoffs. With Date.now() a step back of
  // an hour held every quota token for an hour (no read reached Google), a step forward emptied
  // the window at once. Times still read as wall-clock milliseconds; what one keeper writes for
  // another (the quota ledger, the journal, the cache handoff, Redis's shared copies) is moved onto
  // the wall clock and back (toWallTime, fromWallTime), since after a step each keeper's clock is
  // off the wall clock by the steps since its own start.
  now: monotonicNow,
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending quota or backoff timer must never keep a draining process alive.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  wallOffset: () => Date.now() - monotonicNow(),
};

/**
 * A time of `clock` as the wall clock tells it, for a file another keeper reads (the quota ledger,
 * the journal's records, the cache handoff) or another host (Redis's shared copies):
 * each keeper's clock starts from the wall clock at its own start, so after a step of the system
 * clock (or a suspend) two keepers' readings of one moment differ by it.
 */
export function toWallTime(clock: Pick<Clock, 'wallOffset'>, t: number): number {
  return t + (clock.wallOffset?.() ?? 0);
}

/** A wall-clock time read from a file, as a time of `clock` (the inverse of toWallTime). */
export function fromWallTime(clock: Pick<Clock, 'wallOffset'>, t: number): number {
  return t - (clock.wallOffset?.() ?? 0);
}

/** Waits `ms` on `clock`; rejects with the signal's reason when it aborts first (or already has). */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
