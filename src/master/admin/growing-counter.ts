// A Prometheus counter over a total the master adds up at scrape time (live processes' own counts
// plus what exited ones reported last). That sum can dip for a moment (a process killed between
// two heartbeats loses what it counted since its last one, or a count is reported lower), and a
// counter must never go back: each scrape adds the growth past the highest total seen.

import { Counter, type Registry } from 'prom-client';

export function growingCounter(name: string, help: string, registers: Registry[], total: () => number): Counter {
  let seen = 0;
  return new Counter({
    name,
    help,
    registers,
    collect() {
      const now = total();
      if (now > seen) this.inc(now - seen);
      seen = Math.max(seen, now);
    },
  });
}
