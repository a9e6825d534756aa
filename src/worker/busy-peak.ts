// The most busy connections a worker held at once since its last heartbeat. The capacity status
// was read from one count per worker per beat (about a second), taken while the event loop sat
// between requests: a burst that filled the cap and was refused for half a second never showed,
// and the host read LOW while clients got `503 server full`. Busy connections only grow when a
// connection is accepted or a request begins on one, so looking then sees every peak.
//
// Looking must stay cheap, since it runs per connection and per request. Busy connections are at
// most the open ones, so nothing is counted while those are no more than the peak so far (a
// worker at its peak, under a steady load, counts nothing). Otherwise the idle ones are counted
// (idle-connections.ts count(): one pass over the idle lists, at most the worker's cap), at most
// once per PEAK_LOOK_MS unless more connections are open than at the last count: a peak that
// lasts less than that between two looks may be missed, by the requests begun within it.

import type { IdleConnections } from './idle-connections.js';

/** How often the idle connections are counted at most, while the open ones do not grow. */
export const PEAK_LOOK_MS = 20;

export interface BusyPeak {
  /** Busy connections may have grown: a connection was accepted, or a request began on one. */
  rose(open: number, now: number): void;
  /** The peak since the last take (at least `busyNow`); the next interval starts from `busyNow`. */
  take(busyNow: number): number;
}

export function createBusyPeak(idle: IdleConnections): BusyPeak {
  let peak = 0;
  let lookedAt = -Infinity;
  let openAtLook = 0;
  return {
    rose(open, now) {
      if (open <= peak) return;
      if (open <= openAtLook && now - lookedAt < PEAK_LOOK_MS) return;
      lookedAt = now;
      openAtLook = open;
      const busy = open - idle.count(now);
      if (busy > peak) peak = busy;
    },
    take(busyNow) {
      const seen = Math.max(peak, busyNow);
      peak = busyNow;
      return seen;
    },
  };
}
