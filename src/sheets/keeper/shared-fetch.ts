// One fetch of a range for all the sheet's hosts (REDIS_URL), for the read tier (read-tier.ts):
// another host's copy is taken when it will do; else one host claims the fetch and reads Google,
// and the others wait for the value it shares, up to a deadline. A file of its own: the claim's
// protocol and its waits are the hosts' business, while what a copy taken is worth, and how it is
// installed, stay with the tier (adopt) and shared-copy.ts. Without sharing, the fetch is this
// host's alone.

import type { CachedValue } from './cached-value.js';
import { sleepOn, type Clock } from './clock.js';
import type { Adopted } from './range-state.js';
import type { SharedRanges } from './shared-ranges.js';

/** How often a host waiting for another's fetch looks for its value. */
const SHARED_POLL_MS = 50;

export interface HostsFetch {
  /** Ranges shared with the other hosts of the sheet; absent = this host alone. */
  readonly shared: SharedRanges | undefined;
  readonly clock: Clock;
  /** The tier's close: a wait for another host's fetch ends with it. */
  readonly signal: AbortSignal;
  /**
   * After this long, a range still claimed by another host when this one looks again (its first
   * holder's fetch failed, and another host claimed it) is fetched here. A claim held is waited
   * for as long as its holder renews it.
   */
  readonly waitMs: number;
  /** Another host's copy of the range, installed when newer than this host's (the tier's adoptShared). */
  readonly adopt: () => Promise<Adopted>;
  /** Reads the range from Google on this host. */
  readonly fetchHere: () => Promise<CachedValue>;
  /** This host waits for another's fetch (counted in the tier's figures). */
  readonly waiting: () => void;
}

/** The range's value: another host's copy, or the one this host fetched. */
export async function fetchAmongHosts(range: string, f: HostsFetch): Promise<CachedValue> {
  const shared = f.shared;
  if (!shared) return f.fetchHere();
  const adopted = await f.adopt();
  if (adopted === 'not-shared') return f.fetchHere();
  if (adopted && f.clock.now() < adopted.expiresAt) return adopted;
  // One host fetches; the others wait for its value, up to the claim's deadline (a holder that
  // died, or one whose fetch failed, then leaves the fetch to whoever claims it next).
  const waitUntil = f.clock.now() + f.waitMs;
  for (;;) {
    const claim = await shared.claim(range);
    if (claim.result === 'won') {
      const renewing = renewWhileFetching(shared, range, claim.token, f);
      try {
        return await f.fetchHere();
      } finally {
        renewing.abort();
        // Not awaited: a slow Redis must not hold the answer; the claim lapses by itself anyway.
        void shared.release(range, claim.token);
      }
    }
    if (claim.result === 'unavailable' || f.clock.now() >= waitUntil) return f.fetchHere();
    f.waiting();
    // Waited for as long as the claim holds: its holder renews it while its fetch goes on
    // (renewWhileFetching), so a fetch that waits for a slot of the shared quota window is not
    // fetched again by every host that waited SHEETS_TIMEOUT; a dead holder's claim lapses within
    // that. Only the claim is polled: looking for the value at every poll fetched the copy Redis
    // still holds, the one this host took or fetched itself (kept TTL + max stale), whole and
    // parsed every 50 ms, for nothing: 14 GETs of a 1.7 MB range (24 MB) in one second of one
    // host's wait, on Redis's one thread and the keeper's.
    do {
      await sleepOn(f.clock, SHARED_POLL_MS, f.signal);
    } while (await shared.claimed(range));
    // The claim is gone: a holder that fetched shared its value before it released the claim (one
    // connection, in order).
    const last = await f.adopt();
    if (last === 'not-shared') return f.fetchHere();
    if (last && f.clock.now() < last.expiresAt) return last;
  }
}

/**
 * Renews this host's claim every third of it until aborted (the fetch settled), so that the claim
 * holds while the fetch waits for its quota: the shared window full, a read may wait up to a
 * minute for a slot, and a claim that lapsed after SHEETS_TIMEOUT had every waiting host claim the
 * range in turn and queue a read of its own, each sent once a slot freed: one read per host of a
 * range, just when the quota was short.
 */
function renewWhileFetching(shared: SharedRanges, range: string, token: string, f: HostsFetch): { abort(): void } {
  // One controller, which the tier's close aborts too: a listener on the tier's one signal,
  // removed with the fetch, so nothing is left on it per fetch.
  const done = new AbortController();
  const stop = (): void => done.abort();
  f.signal.addEventListener('abort', stop, { once: true });
  void (async () => {
    for (;;) {
      try {
        await sleepOn(f.clock, shared.renewEveryMs, done.signal);
      } catch {
        return;
      }
      await shared.renew(range, token);
    }
  })();
  return {
    abort() {
      f.signal.removeEventListener('abort', stop);
      done.abort();
    },
  };
}
