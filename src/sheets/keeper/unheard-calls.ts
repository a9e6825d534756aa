// The calls the other hosts may have made between a keeper's last reading of the shared window
// and Redis going away: no reading holds them, yet they are in Google's minute. A keeper that had
// not called Google for 27 s went alone on a reading that old and, counting none of them, the
// hosts spent 450 reads in a minute of 300. Keepers now hear the window every 5 s (their
// presence), and going alone each counts these too, dated at the outage's start (the latest they
// can be, so they are held longest): made at the pace of the others' share of the limit, or at
// the window's pace over the RECENT_PACE_MS before the reading (the keeper's own calls left out)
// when that was faster, and no more than the window had room for. A burst of theirs in those
// seconds, faster than both, is not seen: the hosts may then together go over the limit by that.

import { QUOTA_MINUTE_MS, QUOTA_WINDOW_MS } from './quota.js';
import type { WindowSeen } from './window-seen.js';

/** The pace of the window before a keeper's last reading is taken over this long. */
export const RECENT_PACE_MS = 10_000;

export interface UnheardInput {
  /** What the window held at this keeper's last answer from Redis. */
  readonly seen: WindowSeen;
  readonly perMinute: number;
  /** The keepers a share is taken over (this one included). */
  readonly keepers: number;
  /** This keeper's own grants among those the reading held in its last RECENT_PACE_MS. */
  readonly ownRecent: number;
  /** When Redis stopped answering, in the keeper's clock. */
  readonly until: number;
}

/** The times to count the others' unheard calls at, in the keeper's share while Redis is away. */
export function unheardCalls(o: UnheardInput): number[] {
  if (!o.seen.known) return [];
  const gap = o.until - o.seen.at;
  if (gap <= 0) return [];
  const othersShare = (o.perMinute * (o.keepers - 1)) / o.keepers / QUOTA_MINUTE_MS;
  const recentPace = Math.max(0, o.seen.recent(RECENT_PACE_MS) - o.ownRecent) / RECENT_PACE_MS;
  const stillHeld = o.seen.times().filter((t) => o.until - t < QUOTA_WINDOW_MS).length;
  const room = Math.max(0, o.perMinute - stillHeld);
  // Whole calls: a reading a few ms old (a busy keeper's last ask) counts none.
  const n = Math.min(room, Math.floor(Math.max(othersShare, recentPace) * gap));
  return new Array<number>(n).fill(o.until);
}
