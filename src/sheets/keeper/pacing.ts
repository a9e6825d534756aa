// Every call that reaches the Sheets API pays one token of the host-wide quota first, retries
// included, and only those: the Google backend takes this as its `beforeAttempt` hook, which runs
// right before each HTTP request, once its access token is in hand (a call whose token fetch failed
// never reached Google and pays nothing). Backends without such a hook (the offline sheet, test
// fakes) are wrapped by `paced()`, one token per call.
//
// A read a client waits for goes before the reads nobody waits for in the host's read bucket
// (read-cause.ts), retries included. Writes have one taker, the flusher, and stay FIFO.

import type { SheetsBackend } from '../backend.js';
import type { QuotaBucket } from './quota.js';
import { currentReadCause } from './read-cause.js';
import type { UpstreamMeter } from './upstream-meter.js';

/**
 * Resolves once the call may leave; to a function the client calls when the request does leave
 * (connected, before its first byte), or nothing (a backend that never waits to send).
 */
export type BeforeAttempt = (info: { readonly kind: 'read' | 'write' }, signal?: AbortSignal) => Promise<(() => void) | void>;

/**
 * A grant the request left this much later is dated again when it leaves (QuotaBucket.sentAt).
 * Tokens are held QUOTA_WINDOW_MS, a second over Google's minute, for the spread of the time from
 * grant to arrival; a request that waited for a free connection of the HTTP pool (16 per origin)
 * behind calls Google was slow to answer left seconds after its grant, and its token came back
 * that much early: a burst granted together reached Google over several seconds, the next
 * minute's burst went out 61 s after the grants, and Google's minute held both (7 calls of 4 in
 * the test). Under this, the second covers it; re-dating every call would rewrite the ledger twice
 * per call.
 */
export const SENT_LATE_MS = 100;
/** The outcome of a call that paid its token (undefined: it succeeded): Google's 429s hold the bucket (quota-refusals.ts). */
export type AfterAttempt = (info: { readonly kind: 'read' | 'write' }, error: unknown) => void;

/**
 * The host's own bucket first (it caps this host whatever Redis says), then the window shared with
 * the sheet's other hosts when there is one (shared-quota.ts).
 *
 * The priority of reads a client waits for is the host bucket's alone. The shared window is no
 * queue: a call the host bucket let through asks Redis, and when told to wait, asks again once
 * Redis said a slot frees, as every host's calls do; this host's calls that hold a local grant
 * meet there as equals, so priority is kept only as far as the host bucket orders them. That
 * holds where it matters most: with one host, or a keeper restarted with its predecessor's grants
 * (restored in both the ledger and Redis's window), the host bucket is the tighter bound, it
 * grants one call per slot that frees, and that call, urgent first, is the one that asks Redis
 * for the slot freeing with it. Where the sheet's hosts together are the bound, the waits are on
 * Redis's window, shared with hosts whose clients this one cannot rank against its own, and the
 * calls waiting there go as they ask (unranked, as before).
 */
export function pacer(
  readQuota: QuotaBucket,
  writeQuota: QuotaBucket,
  meter: UpstreamMeter,
  shared?: (kind: 'read' | 'write', signal?: AbortSignal, onWait?: (waitMs: number) => void) => Promise<(() => void) | void> | undefined,
): BeforeAttempt {
  return async (info, signal) => {
    const bucket = info.kind === 'write' ? writeQuota : readQuota;
    // A read's rank is asked when a token frees, not now: a client may join it while it waits.
    const cause = info.kind === 'read' ? currentReadCause() : undefined;
    let grantedAt = await bucket.acquire(signal, cause && (() => cause.clientWaits), cause);
    const sharedWait = shared?.(info.kind, signal, cause?.waitsForSlot);
    let sentShared: (() => void) | void = undefined;
    if (sharedWait) {
      sentShared = await sharedWait;
      // Dated when it leaves, after the hosts' shared window let it (QuotaBucket.sentAt).
      grantedAt = bucket.sentAt(grantedAt);
    }
    if (cause) cause.granted = true;
    meter.record(info.kind);
    // Dated again if the request leaves late: it waited for a connection (SENT_LATE_MS). Its slot
    // of the hosts' shared window too: Google counts the call from now, whichever host asks next.
    return () => {
      if (bucket.sentAt(grantedAt, SENT_LATE_MS) !== grantedAt) sentShared?.();
    };
  };
}

/** Calls `call` after its token, and tells `after` how it ended. */
async function attempt<T>(kind: 'read' | 'write', before: BeforeAttempt, after: AfterAttempt | undefined, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
  await before({ kind }, signal);
  try {
    const result = await call();
    after?.({ kind }, undefined);
    return result;
  } catch (err) {
    after?.({ kind }, err);
    throw err;
  }
}

/** Wraps a backend that does not pace itself. */
export function paced(backend: SheetsBackend, before: BeforeAttempt, after?: AfterAttempt): SheetsBackend {
  return {
    kind: backend.kind,
    description: backend.description,
    source: backend.source,
    destination: backend.destination,
    getValues: (range, signal, onRetry) => attempt('read', before, after, signal, () => backend.getValues(range, signal, onRetry)),
    batchGetValues: (ranges, signal) => attempt('read', before, after, signal, () => backend.batchGetValues(ranges, signal)),
    appendValues: (range, rows, signal) => attempt('write', before, after, signal, () => backend.appendValues(range, rows, signal)),
    close: () => backend.close(),
  };
}
