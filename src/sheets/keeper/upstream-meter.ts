// Counts calls to the backend over the last minute, for the heartbeat and the admin stats
// ("upstream calls per minute": the figure the old setup blew past 300 on).

import { systemClock, type Clock } from './clock.js';

export type CallKind = 'read' | 'write';

export class UpstreamMeter {
  private readonly times: Record<CallKind, number[]> = { read: [], write: [] };
  private readonly totals: Record<CallKind, number> = { read: 0, write: 0 };

  constructor(private readonly clock: Clock = systemClock) {}

  record(kind: CallKind): void {
    this.totals[kind]++;
    const list = this.times[kind];
    list.push(this.clock.now());
    // Bounded even when nobody reads the figures.
    if (list.length > 10_000) this.prune(list, this.clock.now());
  }

  private prune(list: number[], now: number): void {
    let i = 0;
    while (i < list.length && (list[i] ?? 0) <= now - 60_000) i++;
    if (i > 0) list.splice(0, i);
  }

  /** Calls in the last 60 s. */
  perMinute(kind: CallKind): number {
    const list = this.times[kind];
    this.prune(list, this.clock.now());
    return list.length;
  }

  total(kind: CallKind): number {
    return this.totals[kind];
  }
}
