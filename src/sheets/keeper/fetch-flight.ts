// The one fetch in flight per range, shared by every caller (single-flight), for the read tier
// (read-tier.ts): it runs with its cause (read-cause.ts), keeps on the range's state what its
// readers look at while it runs (its first failed attempt, the error it retries after, the slot
// the hosts' window told it of), and clears them when it ends. A file of its own: when a fetch
// starts is the tier's to decide, and what it reads is shared-fetch.ts's; this is only how its
// callers join it and hear of its first attempt.

import type { RetryListener } from '../backend.js';
import type { CachedValue } from './cached-value.js';
import type { Clock } from './clock.js';
import type { RangeState } from './range-state.js';
import { withReadCause, type ReadCause } from './read-cause.js';

export interface FlightStart {
  readonly clock: Clock;
  /** The new fetch's ears for the hosts' shared window (QuotaWaits.slotListener). */
  readonly slot: { readonly told: Promise<void>; readonly waitsForSlot: (waitMs: number) => void };
  /** Told when the call starts and ends (SheetFailure: while the sheet fails, it is the one try). */
  readonly sheet: { started(): void; ended(): void };
}

/**
 * One upstream fetch for the range (`run`); every concurrent caller shares it. `clientWaits`: a
 * client waits for it (else it is background work, whose reads wait for the quota behind the others).
 */
export function startFlight(st: RangeState, clientWaits: boolean, s: FlightStart, run: (onRetry: RetryListener) => Promise<CachedValue>): Promise<CachedValue> {
  let tell: (err: unknown) => void = () => undefined;
  const attemptFailed = new Promise<unknown>((resolve) => (tell = resolve));
  const cause: ReadCause = { clientWaits, waitsForSlot: s.slot.waitsForSlot };
  const onRetry = (err: Error) => {
    if (st.attemptFailed !== attemptFailed) return;
    st.firstFailedAt ??= s.clock.now();
    st.retrying ??= err;
    // A range with a copy answers every read at once from here on, its copy or this error (the
    // tier's tooStale()): nobody waits for the retries, so they go as background reads. A range
    // with none keeps its readers waiting through them.
    if (st.value) cause.clientWaits = false;
    tell(err);
  };
  st.retrying = undefined;
  st.attemptFailed = attemptFailed;
  st.slotTold = s.slot.told;
  st.cause = cause;
  s.sheet.started();
  const p = withReadCause(cause, () => run(onRetry)).finally(() => {
    s.sheet.ended();
    st.inflight = undefined;
    st.cause = undefined;
    st.retrying = undefined;
    st.attemptFailed = undefined;
    st.slotTold = undefined;
    st.slotFreesAt = undefined;
  });
  st.inflight = p;
  return p;
}

/**
 * The fetch in flight, now one a client waits for (its reads not yet granted a token go before
 * the background ones), or undefined when none is.
 */
export function joinFlight(st: RangeState): Promise<CachedValue> | undefined {
  if (st.cause) st.cause.clientWaits = true;
  return st.inflight;
}

/** The fetch in flight's value, or at once the error of its first failed attempt. */
export function firstAttempt(st: RangeState, flight: Promise<CachedValue>): Promise<CachedValue> {
  const attemptFailed = st.attemptFailed?.then((err): never => {
    throw err;
  });
  return attemptFailed ? Promise.race([flight, attemptFailed]) : flight;
}
