// Why a read goes to Google: a client waits for its answer (a range with no copy, or one too
// stale to serve), or nobody does (a stale-while-revalidate refresh, a background retry of a
// failing range, the flusher's read-back of unsure appends). The read quota serves the first kind
// before the second (pacing.ts), so a client is not kept waiting, and refused after its timeout,
// by refreshes whose readers were answered already.
//
// The cause travels with the call as async context rather than as an argument: the read crosses
// the backend (SheetsBackend, the Google client's retry loop) before it reaches the pacer, which
// has no business knowing why it reads. It is a mutable object so that a client joining a refresh
// already queued for its token makes that refresh urgent (the bucket reads it when a token frees).

import { AsyncLocalStorage } from 'node:async_hooks';

export interface ReadCause {
  /** A client waits for this read's answer. */
  clientWaits: boolean;
  /** Its quota token was granted (pacing.ts): it is at Google, not queued for the quota. */
  granted?: boolean;
  /**
   * Told by the window the sheet's hosts share (shared-quota.ts) that its slot frees in `waitMs`,
   * with this host's token in hand: the read tier answers its clients at once past a second.
   */
  waitsForSlot?: (waitMs: number) => void;
}

const causes = new AsyncLocalStorage<ReadCause>();

/** Runs `fn` (and everything it starts) as a read with this cause. */
export function withReadCause<T>(cause: ReadCause, fn: () => T): T {
  return causes.run(cause, fn);
}

/** The cause of the read being made here; undefined outside any (counted as nobody waiting). */
export function currentReadCause(): ReadCause | undefined {
  return causes.getStore();
}
