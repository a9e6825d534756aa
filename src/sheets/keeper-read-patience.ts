// How long a worker's read waits for the keeper (worker-client.ts): a read with a copy in L1 it
// may serve waits KEEPER_PATIENCE_MS and then serves the copy; one with none waits
// keeperAnswerWaitMs (one Google attempt and a margin) and then fails; and the keeper's errors
// after which that copy serves rather than the error (FALL_BACK_ON). A file of its own: these are
// the bounds a user's wait is measured against (the tests import them), apart from the client's
// bookkeeping of its copies and flights.

import type { L1Entry } from './l1-cache.js';

/** Errors after which a stale L1 copy is better than no answer. */
export const FALL_BACK_ON: ReadonlySet<string> = new Set([
  'CORRAL_ERR_KEEPER_UNAVAILABLE',
  'CORRAL_ERR_QUEUE_FULL',
  // The keeper has no copy (restarted after a crash, or evicted) and its read token is over a
  // second away: answered at once, where it used to hold the read past the patience. Without it
  // here, a worker's aged copy was not served and the read answered 503 until the keeper's refill.
  'CORRAL_ERR_SHEETS_QUOTA_WAIT',
  'CORRAL_ERR_SHEETS_UNAVAILABLE',
  'CORRAL_ERR_SHEETS_PROXY',
  'CORRAL_ERR_SHEETS_TIMEOUT',
  'CORRAL_ERR_SHEETS_QUOTA',
  'CORRAL_ERR_SHEETS_UPSTREAM',
  // A tab grown past the size a read may have: the copy from before it still serves.
  'CORRAL_ERR_SHEETS_TOO_LARGE',
  // The whole sheet refused (not found, not shared, the key refused, not a Google Sheet): the
  // keeper serves the copies it holds until SHEET_CACHE_MAX_STALE (sheet-failure.ts), and so does a
  // worker whose copy the keeper lacks (it was restarted). Before, that worker answered 503.
  'CORRAL_ERR_SHEETS_NOT_FOUND',
  'CORRAL_ERR_SHEETS_FORBIDDEN',
  'CORRAL_ERR_SHEETS_AUTH',
  'CORRAL_ERR_SHEETS_NOT_A_SHEET',
]);

/**
 * How long a read with an aged copy in L1 waits for the keeper before serving that copy. The keeper
 * answers from its own cache within milliseconds; longer means it is stalled or waiting on Google.
 */
export const KEEPER_PATIENCE_MS = 1000;

/**
 * How much longer than one Google attempt (SHEETS_TIMEOUT) a read with no copy this worker may
 * serve (none yet, or one from before an acknowledged write) waits for the keeper, before it fails
 * with CORRAL_ERR_KEEPER_SLOW (the app's 503 sheets_unavailable, Retry-After): room for the wait
 * for a read token and a first retry. Without a bound such a read waited as long as the keeper,
 * whose answer may wait for Google's retries (15 s to over a minute) and, after a restart, for the
 * read quota the keeper before it spent: in the chaos soak (SHEETS_TIMEOUT=3), an export read back
 * on a poster's connection after a kill -9 of the keeper and a reload got no answer in 20 s (a new
 * keeper started with 60 of 60 reads spent, and every read waited ~16 s for a token), and
 * requests on a worker a TTOU drained meanwhile were cut at the graceful timeout. The read goes
 * on, so the client's retry finds its answer in L1.
 */
export const KEEPER_ANSWER_MARGIN_MS = 5000;

/** The longest a read with no copy to serve waits for the keeper: one Google attempt and the margin. */
export function keeperAnswerWaitMs(sheetsTimeoutS: number): number {
  return sheetsTimeoutS * 1000 + KEEPER_ANSWER_MARGIN_MS;
}

/** The fetch's entry if it comes within `ms`, else undefined (it goes on). */
export async function within(flight: Promise<L1Entry>, ms: number): Promise<L1Entry | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const patience = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([flight, patience]);
  } finally {
    clearTimeout(timer);
  }
}
