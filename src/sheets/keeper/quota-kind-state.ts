// What the shared quota (shared-quota.ts) holds per kind of call, reads and writes: the window's
// keys in Redis, this keeper's grants of the last window, what Redis last said the window holds
// (and held before it lost its data), the write-back owed, and this host's share while Redis is
// away. One plain record per kind; the parts that act on it (window-ask.ts, quota-presence.ts,
// own-share.ts) each read and write their own fields of it, through the few functions below that
// more than one of them needs. A file of its own so that they share the one shape without
// importing the quota.

import { judgeInherited, type NextMember } from './inherited-grants.js';
import { QUOTA_WINDOW_MS, type QuotaBucket, type QuotaKind } from './quota.js';
import { WindowSeen } from './window-seen.js';

/**
 * A grant this close to leaving the window is not asked after: Redis may have let it go already
 * (its clock and this host's differ a little), which is no loss.
 */
const PROBE_MARGIN_MS = 5000;

/** The most keepers Redis counted in about the last two windows, and when. */
export interface Peak {
  keepers: number;
  at: number;
}

/**
 * Counts `keepers` into `peak`: a higher count at once, a lower one once the peak is two windows
 * old (as long as Redis keeps a silent keeper counted).
 */
export function raise(peak: Peak, keepers: number, now: number): void {
  if (keepers >= peak.keepers || now - peak.at >= 2 * QUOTA_WINDOW_MS) {
    peak.keepers = keepers;
    peak.at = now;
  }
}

/** One of this keeper's grants of the last window. */
export interface Grant {
  /** Its member in the shared window. */
  readonly member: string;
  /** When it was made, in this host's clock. */
  readonly at: number;
  /** In the shared window: granted there, or written back (made while Redis was away: not yet). */
  written: boolean;
}

/** A reading of the window as the quota ledger keeps it for the next keeper (inherited-grants.ts). */
export interface WindowReading {
  /** When the window's state began (Redis's time): another value, Redis lost the window between. */
  readonly since: number;
  /** Redis's time at the answer. */
  readonly redisAt: number;
  /** When it was received, in this keeper's clock. */
  readonly at: number;
  /** The window's grants by age (WindowSeen.counts). */
  readonly counts: readonly number[];
}

/** Hears what the quota ledger keeps of a window (quota-ledger.ts). */
export interface WindowRecorder {
  /** A reading of the window. */
  heard(kind: QuotaKind, reading: WindowReading): void;
  /** A grant the window does not hold (made alone, or inherited and lost by Redis): to be written back. */
  unshared(kind: QuotaKind, at: number): void;
  /** Such a grant written back. */
  shared(kind: QuotaKind, at: number): void;
}

export interface KindState {
  readonly kind: QuotaKind;
  readonly key: string;
  /**
   * The keepers that made calls of this kind lately, or said they are present holding none of
   * its window (per kind: a keeper Redis knows from its writes may still have reads of the window
   * to write back).
   */
  readonly keepersKey: string;
  /** When the window's state began, in Redis (a Redis that lost its data begins it again). */
  readonly sinceKey: string;
  /** When each grant went into the window, in Redis's time (quota-reserve-lua.ts). */
  readonly insertedKey: string;
  /** What each keeper last read of the window, and its calls since (quota-reserve-lua.ts). */
  readonly readingsKey: string;
  /**
   * The most keepers that made calls of this kind in about the last two windows: while Redis
   * counts fewer in a state younger than a window, it lost its data and not every keeper has
   * written its grants back yet.
   */
  readonly peak: Peak;
  readonly perMinute: number;
  /** This keeper's grants of the last window, about oldest first (concurrent asks may swap two). */
  recent: Grant[];
  /**
   * The previous keeper's grants of the last window (the quota ledger's) that the window may hold:
   * they count against the share. Those it cannot hold are moved to `recent`, to be written back
   * (inherited-grants.ts).
   */
  inherited: readonly number[];
  /** The window's state (Redis's `since`) the inherited grants were last known under; undefined: not known. */
  inheritedSince: number | undefined;
  /**
   * Inherited grants not judged yet (Redis has not answered): this keeper says it holds grants,
   * so Redis does not count it as a keeper with nothing to write back.
   */
  inheritedOpen: boolean;
  /** The quota ledger's ear, if any. */
  recorder: WindowRecorder | undefined;
  /** Asks sent and not answered: each may be granted, so each counts against the share. */
  asking: number;
  /** When this keeper last made a call of this kind alone (Redis away), in its clock. */
  aloneAt: number;
  /** What the shared window held (every host's grants) at Redis's last answer. */
  readonly seen: WindowSeen;
  /**
   * What the window held at Redis's last answer before it lost its data (`since`: when the state
   * that followed began, Redis's time): the answers since hold only what was written back.
   */
  lost: { readonly since: number; readonly at: number; readonly times: readonly number[] } | undefined;
  /** Redis did not know this keeper, or lacked its newest grant: the next ask writes them all back. */
  restore: boolean;
  /**
   * That write-back is of grants Redis held and lost (it had answered this keeper before), as
   * opposed to a keeper's first word to Redis (it started, or its login was refused, while Redis
   * was away or refusing it, and made its calls alone): only a loss is said
   * (sheets.quota_window_restored). Said of a first word, the warning had operators look into
   * Redis's persistence after a keeper merely connected late.
   */
  restoreIsLoss: boolean;
  /** When a write-back was last said (concurrent calls may each write back the same grants). */
  restoreSaidAt: number;
  /** This host's share while Redis is away; made at an outage's first call, dropped when it ends. */
  fallback: QuotaBucket | undefined;
  /** When the last call told to wait was told a slot frees (Redis's window, or this host's share while Redis is away). */
  slotFreesAt: number;
}

/** A kind's state as a keeper starts: `prefix` is the sheet's (keys.ts), `inherited` its predecessor's grants. */
export function newKindState(kind: QuotaKind, prefix: string, perMinute: number, inherited: readonly number[], recorder?: WindowRecorder): KindState {
  return {
    kind,
    key: `${prefix}:quota:${kind}s`,
    keepersKey: `${prefix}:keepers:${kind}s`,
    sinceKey: `${prefix}:quota:${kind}s:since`,
    insertedKey: `${prefix}:quota:${kind}s:inserted`,
    readingsKey: `${prefix}:quota:${kind}s:readings`,
    peak: { keepers: 1, at: -Infinity },
    perMinute,
    recent: [],
    inherited,
    inheritedSince: undefined,
    inheritedOpen: inherited.length > 0,
    recorder,
    asking: 0,
    aloneAt: -Infinity,
    seen: new WindowSeen(),
    lost: undefined,
    restore: false,
    restoreIsLoss: false,
    restoreSaidAt: -Infinity,
    fallback: undefined,
    slotFreesAt: 0,
  };
}

/**
 * Records what Redis said the window holds. When its state began after this keeper's last
 * answer (or its predecessor's last reading), Redis lost its data in between: what that answer
 * held is kept (`lost`), since the answers that follow hold only what was written back. The
 * inherited grants are judged against the state (inherited-grants.ts), and the reading kept by
 * the quota ledger.
 */
export function heard(st: KindState, redisAt: unknown, counts: unknown, since: unknown, at: number, nextMember: NextMember): void {
  if (typeof since === 'number' && st.seen.known && st.seen.redisAt < since && st.lost?.since !== since) {
    st.lost = { since, at: st.seen.at, times: st.seen.times() };
  }
  const recorded = st.seen.record(redisAt, counts, at);
  judgeInherited(st, redisAt, since, at, nextMember);
  if (recorded && typeof since === 'number') st.recorder?.heard(st.kind, { since, redisAt: st.seen.redisAt, at, counts: st.seen.counts });
}

/**
 * The reading of the window this keeper counts from if it goes alone, as Redis is told it (Redis's
 * time at that answer; 0 before any): Redis keeps room for what it may spend from it
 * (quota-reserve-lua.ts). Its predecessor's, until Redis has answered it.
 */
export function readingSent(st: KindState): number {
  return st.seen.known ? st.seen.redisAt : 0;
}

/** This keeper's newest grant in the shared window, unless it is about to leave it (''). */
export function newestWritten(st: KindState, now: number): string {
  for (let i = st.recent.length - 1; i >= 0; i--) {
    const g = st.recent[i];
    if (g?.written) return now - g.at < QUOTA_WINDOW_MS - PROBE_MARGIN_MS ? g.member : '';
  }
  return '';
}

/** Forgets this keeper's grants, and its predecessor's, that left the window. */
export function prune(st: KindState, now: number): void {
  if (st.recent.length > 0 && now - (st.recent[0]?.at ?? now) >= QUOTA_WINDOW_MS) st.recent = st.recent.filter((g) => now - g.at < QUOTA_WINDOW_MS);
  if (st.inherited.length > 0) st.inherited = st.inherited.filter((at) => now - at < QUOTA_WINDOW_MS);
}

/**
 * Has the next ask write back every grant of the window; `loss`: Redis had answered this keeper
 * before, so it lost them (said when written back), rather than hearing from it the first time.
 */
export function restoreAll(st: KindState, loss: boolean): void {
  st.restore = true;
  st.restoreIsLoss ||= loss;
}
