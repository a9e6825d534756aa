// What a keeper counts against its share of the limit while Redis is away (REDIS_URL,
// own-share.ts), each call until it leaves the window: a fresh share on top of the window's
// calls would let the hosts spend up to twice the limit that minute.
//
// - Every call of the window as Redis last told this keeper of it, every host's and not only its
//   own (window-seen.ts: each dated at the latest it can have been made).
// - Its own calls made alone since (no reading holds them); before any reading, all its own.
// - Its predecessor's (the quota ledger's): which of them the window holds is not known.
// - The calls the others may have made since its reading (unheard-calls.ts).
//
// Every host counts every call, so a call is counted once per host: two hosts whose window held
// 40 of 60 calls each wait until 10 of them have left it, where (60 - 40) / 2 = 10 each would be
// exact. Counting each call about once over the hosts (a host its own calls whole, of the others'
// only what they spent over their shares, split among the other keepers) was tried and simulated
// (test/unit/sheets-share-counts.test.ts's scenarios): it spent about 70 % more in the first
// 10-20 s of an outage, and went over the limit in 16 of 400 scenarios, by up to a fifth of it.
// What a keeper does not know, the others' calls after its last reading (up to 5 s of them), is
// estimated from their pace; a host with a backlog of appends takes each slot as it frees, which
// no pace before the reading shows, and the exact count left nothing over for it. Counting every
// call covers those in all 2000 scenarios tried; with the estimate raised until the exact count
// covered them too, it spent less than this.

export interface OwnGrant {
  /** When it was made, in this host's clock. */
  readonly at: number;
  /** In the shared window (granted there, or written back), as opposed to made alone. */
  readonly written: boolean;
}

export interface ShareCountsInput {
  /** The window's calls, every host's, at this keeper's last reading (WindowSeen.times()). */
  readonly seen: readonly number[];
  /** Whether Redis has answered this keeper since it started (WindowSeen.known). */
  readonly heard: boolean;
  /** This keeper's grants of the last window. */
  readonly own: readonly OwnGrant[];
  /** Its predecessor's grants of the last window (the quota ledger's). */
  readonly inherited: readonly number[];
  /** The others' calls since its reading, as estimated (unheard-calls.ts). */
  readonly unheard: readonly number[];
}

/** This keeper's share of the limit while Redis is away: the limit over the keepers counted. */
export function shareOf(perMinute: number, keepers: number): number {
  return Math.max(1, Math.floor(perMinute / Math.max(1, keepers)));
}

/** The times of the calls a keeper's share counts while Redis is away. */
export function shareCounts(o: ShareCountsInput): number[] {
  // The reading holds its grants in the window; those it made alone since are not in it.
  const own = o.heard ? o.own.filter((g) => !g.written) : o.own;
  return [...o.inherited, ...o.seen, ...own.map((g) => g.at), ...o.unheard];
}
