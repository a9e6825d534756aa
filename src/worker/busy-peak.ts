// The most busy connections a worker held at once since its last heartbeat. The capacity status
// was read from one count per worker per beat (about a second), taken while the event loop sat
// between requests: a burst that filled the cap and was refused for half a second never showed,
// and the host read LOW while clients got `503 server full`. Busy connections only grow when a
// connection is accepted or a request begins on one, so looking then sees every peak.
//
// Looking must stay cheap, since it runs per connection: open minus the keep-alive connections
// listed between requests bounds the busy count from above, and only a bound over the peak so far
// is counted exactly (idle-connections.ts count(), one pass over the idle lists, at most the
// worker's cap). The bound can miss by the listed connections whose answer is still on its way
// out (not idle yet): each of those was counted busy when its request began.

import type { IdleConnections } from './idle-connections.js';

export interface BusyPeak {
  /** Busy connections may have grown: a connection was accepted, or a request began on one. */
  rose(open: number, now: number): void;
  /** The peak since the last take (at least `busyNow`); the next interval starts from `busyNow`. */
  take(busyNow: number): number;
}

export function createBusyPeak(idle: IdleConnections): BusyPeak {
  let peak = 0;
  return {
    rose(open, now) {
      if (open - idle.keepAliveListed() <= peak) return;
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
