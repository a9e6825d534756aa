// Events that come in bursts (connections refused by the cap, idle connections closed to make
// room) are told twice per burst, at its first event and after a quiet spell, never one by one: a
// log line per event would cost what the cap is there to save.

/** A burst ends after this long without an event. */
export const BURST_QUIET_MS = 2000;

export interface BurstReport<F> {
  /** The first event of a burst, with what the caller knows at that moment. */
  started(fields: F): void;
  /** `count` events from the first to the last, `ms` apart. */
  ended(fields: { count: number; ms: number }): void;
}

export interface Burst<F> {
  /** One event; `fields` is evaluated only at the start of a burst. */
  count(fields: () => F): void;
}

export function createBurst<F>(report: BurstReport<F> | undefined): Burst<F> {
  let current: { startedAt: number; lastAt: number; count: number; quiet: NodeJS.Timeout } | undefined;
  return {
    count(fields) {
      if (!report) return;
      if (current) {
        current.count++;
        current.lastAt = Date.now();
        current.quiet.refresh();
        return;
      }
      report.started(fields());
      const quiet = setTimeout(() => {
        const ended = current;
        current = undefined;
        if (ended) report.ended({ count: ended.count, ms: ended.lastAt - ended.startedAt });
      }, BURST_QUIET_MS).unref();
      const now = Date.now();
      current = { startedAt: now, lastAt: now, count: 1, quiet };
    },
  };
}
