// What a keeper does with its predecessor's grants of the last window (the quota ledger's: a
// reload, a crash) in the window shared through Redis (shared-quota.ts). The ledger hands them
// over with what the predecessor knew of the window: its last reading (every host's calls, and
// Redis's `since`, which marks the window's state: a Redis that lost its data begins it again),
// and which of its grants the window did not hold (made alone while Redis was away, or lost by
// Redis and not yet written back).
//
// - The reading counts as this keeper's own until Redis answers it: started while Redis is away,
//   it counts the other hosts' calls against its share (without it, a successor started during an
//   outage spent its share on top of a window the others had already spent: 15 of 10).
// - The grants the window did not hold are written back once Redis answers, as this keeper's own
//   made alone (under new members).
// - The rest are written back when the window's state is not the one the predecessor last heard
//   (Redis lost them): without it, a successor said it was present holding nothing and the other
//   host was granted the whole minute on top of them (21 of 12). When the ledger names no state
//   (a file from before these fields, or a predecessor that never heard Redis), those made before
//   the state began are written back: Redis cannot hold them. A grant written back twice (the
//   predecessor wrote it back after a loss, under its own member) is counted twice: the hosts
//   spend less that minute, never more.

import type { KindState, WindowReading } from './quota-kind-state.js';

/** What the predecessor left of a kind's window in the quota ledger. */
export interface WindowLeft {
  /** Its last reading of the window; absent when it never heard Redis (or an older ledger). */
  readonly reading?: WindowReading;
  /** Its grants (times, this keeper's clock) that the window did not hold. */
  readonly unshared: readonly number[];
}

/** A new grant's member in the shared window (WindowAsks.nextMember). */
export type NextMember = () => string;

/** Takes in what the predecessor left, as the keeper starts (before Redis answered it). */
export function adoptPredecessor(st: KindState, left: WindowLeft | undefined, nextMember: NextMember): void {
  if (left?.reading) {
    st.seen.record(left.reading.redisAt, left.reading.counts, left.reading.at, false);
    st.inheritedSince = left.reading.since;
  }
  const inherited = [...st.inherited];
  for (const at of left?.unshared ?? []) {
    // Each is one of the inherited grants (the host bucket's): counted once, as this keeper's own.
    const same = inherited.indexOf(at);
    if (same >= 0) inherited.splice(same, 1);
    st.recent.push({ member: nextMember(), at, written: false });
  }
  st.recent.sort((a, b) => a.at - b.at);
  st.inherited = inherited;
  st.inheritedOpen = inherited.length > 0;
}

/**
 * At an answer of Redis (its time `redisAt`, the window's state begun at `since`, received at `at`
 * in this keeper's clock): the inherited grants the window cannot hold become this keeper's own
 * not yet written, and the next ask or presence writes them back.
 */
export function judgeInherited(st: KindState, redisAt: unknown, since: unknown, at: number, nextMember: NextMember): void {
  if (typeof redisAt !== 'number' || typeof since !== 'number') return;
  st.inheritedOpen = false;
  // When the state began, in this keeper's clock (late by the answer's way at most: a grant made
  // just after it may be written back twice, which only spends less).
  const began = at - (redisAt - since);
  const known = st.inheritedSince;
  st.inheritedSince = since;
  const lost = st.inherited.filter((t) => (known !== undefined ? known !== since : t < began));
  if (lost.length === 0) return;
  st.inherited = st.inherited.filter((t) => !lost.includes(t));
  for (const t of lost) {
    st.recent.push({ member: nextMember(), at: t, written: false });
    st.recorder?.unshared(st.kind, t);
  }
  st.recent.sort((a, b) => a.at - b.at);
}
