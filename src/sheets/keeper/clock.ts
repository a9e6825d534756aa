// Time as the keeper's parts see it, so unit tests can drive the quota window, TTLs and backoff
// with a fake clock instead of sleeping.

import { monotonicNow } from '../../clock.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  // The wall clock at process start, then monotonic time: a step of the system clock (NTP, a
  // `date -s`) moves neither the quota window nor TTLs and backoffs. With Date.now() a step back of
  // an hour held every quota token for an hour (no read reached Google), a step forward emptied
  // the window at once. Times still read as wall-clock milliseconds, so the quota ledger of one
  // keeper reads right in the next.
  now: monotonicNow,
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending quota or backoff timer must never keep a draining process alive.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

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
