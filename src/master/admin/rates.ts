// Requests, 5xx answers and refused connections per second over the last 5 s, as of the moment
// the stats are asked for. The stats used to answer the history's last sample, taken every 5 s:
// up to 5 s late at both ends, it showed 548 req/s in a load's last second, then 9368 for 5 s
// after the traffic stopped. The monitor records the running totals every second; a rate is the
// totals now less those of the newest record at least 5 s old, over the time between them.

import type { AdminView } from './view.js';

/** Counts since the master started, exited workers' included: they never go back. */
export interface ServedTotals {
  readonly requests: number;
  /** Requests answered with a 5xx by the app or the worker (not the connection cap's refusals). */
  readonly errors: number;
  /** Connections answered `503 server full` by the connection cap: in neither count above. */
  readonly refused: number;
}

/** Exited workers' last reports plus each live worker's figures of its last heartbeat (up to a second old). */
export function servedTotalsOf(view: AdminView): ServedTotals {
  const exited = view.servedByExited();
  let requests = exited.requests;
  let errors = exited.errors;
  let refused = exited.refused;
  for (const c of view.children()) {
    if (c.role !== 'worker' || !c.figures) continue;
    requests += c.figures.requestsServed;
    errors += c.figures.errorsServed;
    refused += c.figures.connectionsRefused ?? 0;
  }
  return { requests, errors, refused };
}

export interface Rates {
  readonly requests_per_second: number | null;
  readonly errors_per_second: number | null;
  readonly connections_refused_per_second: number | null;
}

const NO_RATES: Rates = { requests_per_second: null, errors_per_second: null, connections_refused_per_second: null };

/** Per second over `dt` ms, to one decimal; never negative. */
export function perSecond(delta: number, dtMs: number): number {
  return Math.max(0, Math.round((delta / (dtMs / 1000)) * 10) / 10);
}

export class RateWindow {
  private readonly points: { readonly t: number; readonly totals: ServedTotals }[] = [];

  /**
   * @param windowMs the span a rate is taken over.
   * @param minSpanMs the shortest span a rate is given for: in the master's first seconds the
   *   rate is over the time since its first record, and none before this much has passed.
   */
  constructor(
    readonly windowMs = 5000,
    private readonly minSpanMs = 1000,
  ) {}

  /** Records the totals at `t` (ms, on the clock ratesAt is given). */
  observe(totals: ServedTotals, t: number): void {
    // In time order, whatever order they come in (a test may record an earlier one).
    let at = this.points.length;
    while (at > 0 && (this.points[at - 1]?.t ?? -Infinity) > t) at--;
    this.points.splice(at, 0, { t, totals });
    // Kept: the newest record at least a window old and every one after it.
    while (this.points.length >= 2 && (this.points[1]?.t ?? Infinity) <= t - this.windowMs) this.points.shift();
  }

  /** The rates from the newest record at least a window before `t` up to `totals`, read at `t`. */
  ratesAt(totals: ServedTotals, t: number): Rates {
    let base: (typeof this.points)[number] | undefined;
    for (let i = this.points.length - 1; i >= 0; i--) {
      const p = this.points[i];
      if (p && p.t <= t - this.windowMs) {
        base = p;
        break;
      }
    }
    base ??= this.points[0];
    if (!base || t - base.t < this.minSpanMs) return NO_RATES;
    const dt = t - base.t;
    return {
      requests_per_second: perSecond(totals.requests - base.totals.requests, dt),
      errors_per_second: perSecond(totals.errors - base.totals.errors, dt),
      connections_refused_per_second: perSecond(totals.refused - base.totals.refused, dt),
    };
  }
}
