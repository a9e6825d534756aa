// The keeper's retry waits (failed flushes, failed refreshes) follow the same policy as the Google
// client's own retries: truncated exponential backoff, 2^n s plus up to 1 s of jitter, capped at
// 32 s (https://developers.google.com/sheets/api/limits#exponential). One formula, in retry.ts.

import { backoffDelay, GOOGLE_BACKOFF } from '../google/retry.js';

/** Wait after failed attempt number `attempt` (1 for the first failure), in whole ms. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.floor(backoffDelay(Math.max(0, attempt - 1), GOOGLE_BACKOFF, random));
}
