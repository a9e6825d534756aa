// Google's truncated exponential backoff: wait 2^n seconds plus up to one second of random
// jitter before retry n (n = 0, 1, 2, ...), never longer than 32 s, for a bounded number of tries.
// https://developers.google.com/sheets/api/limits#exponential

export interface RetryPolicy {
  /** Total HTTP attempts, the first included (1 = never retry). */
  readonly maxAttempts: number;
  /** 2^n multiplies this; Google's algorithm uses one second. */
  readonly baseDelayMs: number;
  /** Upper bound of the uniform random jitter added to each wait. */
  readonly jitterMs: number;
  /** Truncation: no wait exceeds this. */
  readonly maxDelayMs: number;
}

/** 5 attempts: waits of about 1, 2, 4 and 8 s (+ jitter) between them. */
export const GOOGLE_BACKOFF: RetryPolicy = Object.freeze({ maxAttempts: 5, baseDelayMs: 1000, jitterMs: 1000, maxDelayMs: 32_000 });

/** Wait before retry number `retry` (0 for the wait after the first failed attempt). */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponential = policy.baseDelayMs * 2 ** Math.min(retry, 30);
  return Math.min(exponential + random() * policy.jitterMs, policy.maxDelayMs);
}

/**
 * The wait before a retry within one call: the backoff, or longer if the server asked for it
 * (Retry-After). The client does not retry within the call when the server asked for more than
 * the truncation (client.ts), so the `min` here never cuts a wait Google asked for.
 */
export function retryDelay(retry: number, policy: RetryPolicy, retryAfterMs: number | undefined, random?: () => number): number {
  const backoff = backoffDelay(retry, policy, random);
  return retryAfterMs === undefined ? backoff : Math.min(Math.max(backoff, retryAfterMs), policy.maxDelayMs);
}

/**
 * The longest Retry-After honoured. Google's quota windows are a minute; a longer wait comes from
 * something else (a proxy, a clock far off for an HTTP date) and would hold a tab's journaled rows,
 * or the refresh of a cached range, for as long as it says.
 */
export const RETRY_AFTER_MAX_MS = 10 * 60_000;

/** Parses Retry-After (seconds or an HTTP date) into ms, at most RETRY_AFTER_MAX_MS. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, RETRY_AFTER_MAX_MS);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - now), RETRY_AFTER_MAX_MS);
}

/** setTimeout as a promise that rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
