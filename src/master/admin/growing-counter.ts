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

/**
 * The same for counts by labels: `totals()` gives every series' count now, and each scrape adds
 * what came since the last. A series is shown from the first scrape that names it, at 0 until its
 * first increment: rate() and increase() need the series before it, or the first one is never
 * seen as an increase.
 */
export function growingLabelledCounter<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  registers: Registry[],
  totals: () => Iterable<{ labels: Record<L, string>; count: number }>,
): Counter<L> {
  const seen = new Map<string, number>();
  return new Counter<L>({
    name,
    help,
    labelNames,
    registers,
    collect() {
      for (const { labels, count } of totals()) {
        const key = labelNames.map((l) => labels[l]).join('|');
        const before = seen.get(key);
        if (before === undefined || count > before) this.inc(labels, count - (before ?? 0));
        seen.set(key, Math.max(count, before ?? 0));
      }
    },
  });
}
