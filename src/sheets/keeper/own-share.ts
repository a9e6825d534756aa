// This keeper's part of the limit when it cannot count on the shared window (shared-quota.ts): the
// limit over the keepers present, less what the window held. While Redis is away it is a bucket
// of this host's own (takeAlone: every host's calls the window held at the last answer, this
// keeper's own, its predecessor's and the others' unheard ones counted against it, share-counts.ts
// and unheard-calls.ts); while the window, after Redis lost its data, lacks grants not yet
// written back, Redis is told whether this keeper is under it (underShare). A file of its own:
// what a share is worth is decided here from a kind's state (quota-kind-state.ts) and the keepers
// counted, the quota only asks.

import type { RedisLink } from '../../redis/link.js';
import type { Clock } from './clock.js';
import { QUOTA_WINDOW_MS, QuotaBucket } from './quota.js';
import { prune, type Grant, type KindState } from './quota-kind-state.js';
import { shareCounts, shareOf } from './share-counts.js';
import { RECENT_PACE_MS, unheardCalls } from './unheard-calls.js';

/**
 * Whether this keeper is under its share of what the window may still hold: the limit less the
 * window's grants of every keeper at an answer of Redis (each until it leaves the window), over
 * the keepers present, less this keeper's grants since that answer and its asks in flight. Taken
 * from the last answer and, for a window after Redis lost its data, from the last one before the
 * loss too (the smaller): Redis decides by it only while not every keeper has written back.
 * `keepers`: the most counted lately, present or making calls of this kind through Redis.
 */
export function underShare(st: KindState, now: number, keepers: number): boolean {
  const room = (times: readonly number[], at: number): number => {
    const held = st.inherited.length + times.filter((t) => now - t < QUOTA_WINDOW_MS).length;
    return Math.floor((st.perMinute - held) / keepers) - st.recent.filter((g) => g.at > at).length;
  };
  let free = room(st.seen.times(), st.seen.at);
  if (st.lost && now - st.lost.at < QUOTA_WINDOW_MS) free = Math.min(free, room(st.lost.times, st.lost.at));
  return free - st.asking > 0;
}

/** What takeAlone needs besides the kind's state. */
export interface AloneContext {
  readonly clock: Clock;
  /** How long Redis has been failing (failingForMs), when the share is made. */
  readonly link: Pick<RedisLink, 'failingForMs'>;
  /** The most keepers counted lately: present, or making calls of this kind through Redis. */
  readonly keepers: (st: KindState) => number;
  /** A new grant's member in the window (window-ask.ts). */
  readonly nextMember: () => string;
}

/** A slot of this host's share while Redis is away, if one is free now: its grant. */
export function takeAlone(st: KindState, o: AloneContext): Grant | undefined {
  if (!st.fallback) {
    // The share is fixed for the outage: the count of keepers is Redis's, and Redis is away.
    st.fallback = new QuotaBucket({ name: `sheets ${st.kind}s (this host's share while Redis is away)`, perMinute: share(st, o), maxQueue: 0, clock: o.clock });
    // What the window held before the outage counts against the share, every host's calls
    // until they leave it, and more (share-counts.ts).
    st.fallback.restore(shareCounts({ seen: st.seen.times(), heard: st.seen.known, own: st.recent, inherited: st.inherited, unheard: unheard(st, o) }));
  }
  if (!st.fallback.tryAcquire()) return undefined;
  const now = o.clock.now();
  st.aloneAt = now;
  prune(st, now);
  const grant: Grant = { member: o.nextMember(), at: now, written: false };
  st.recent.push(grant);
  // Kept by the quota ledger until written back: a successor writes it back if this keeper cannot.
  st.recorder?.unshared(st.kind, now);
  return grant;
}

/** This keeper's part of the limit when it cannot count on the shared window: the limit over the keepers present. */
function share(st: KindState, o: AloneContext): number {
  return shareOf(st.perMinute, o.keepers(st));
}

/** The others' calls since this keeper's last reading, until Redis went away (unheard-calls.ts). */
function unheard(st: KindState, o: AloneContext): number[] {
  // The link's clock is the system's; only the difference is taken, so a test's clock works too.
  const until = o.clock.now() - o.link.failingForMs;
  const at = st.seen.at;
  const ownRecent = st.recent.filter((g) => g.written && g.at <= at && at - g.at < RECENT_PACE_MS).length;
  return unheardCalls({ seen: st.seen, perMinute: st.perMinute, keepers: o.keepers(st), ownRecent, until });
}
