// The dashboard's memory: a ring buffer of samples (default one per 5 s for 10 minutes) of
// requests/s, 5xx answers/s, connections refused/s (the cap's 503s), p99, CPU, RAM, connections and upstream calls per minute. Rates come
// from cumulative counters per process, so a recycled worker does not make the rate jump backwards.
//
// Samples are timed on the monotonic clock (src/clock.ts) and shown on the wall clock as it reads
// at the latest sample: a step of the wall clock (NTP, `date -s`) between two samples made the
// rates of the one after it unknown (a step back) or near 0 (a step forward), and left the samples
// before it an hour after (or before) the ones that followed, which the charts drew as a line
// running back across the hour.

import { monotonicNow } from '../../clock.js';
import type { HostSample } from '../host-monitor.js';
import { sheetsFiguresOf } from './sheets-figures.js';
import { perSecond, servedTotalsOf } from './rates.js';
import type { AdminView } from './view.js';

export interface HistorySample {
  /** Epoch ms, on the wall clock as it read at the latest sample (its age is on the monotonic clock). */
  readonly t: number;
  readonly rps: number | null;
  /** Requests answered with a 5xx per second (Google failing, the keeper down, a handler throwing). */
  readonly errors_per_s: number | null;
  /**
   * Connections answered `503 server full` by the connection cap per second: not requests served
   * nor 5xx answers (the cap refuses before any request is read), so without it a host at FULL
   * showed 0 req/s and 0 5xx/s while it turned hundreds of clients away.
   */
  readonly refused_per_s: number | null;
  /**
   * The p99 of every request answered between the previous sample and this one, all workers' (those
   * that exited since included), from the bucket counts of their beats (request-latency.ts): 0 when
   * none was, null with no worker. It was the worst worker's p99 of its last beat, one second of the
   * five, so slow requests in the other four never showed.
   */
  readonly p99_ms: number | null;
  readonly cpu: number | null;
  readonly ram: number | null;
  /** Open connections of the workers that reported; null before any did (not 0: nothing was measured). */
  readonly connections: number | null;
  readonly upstream_per_min: number | null;
}

/** Monotonic total of a per-process cumulative counter across processes that come and go. */
export class CounterAcrossProcesses {
  private readonly last = new Map<number, number>();
  private total = 0;

  /** Feeds the current value of every live process; returns the running total. */
  observe(values: ReadonlyMap<number, number>): number {
    for (const [pid, v] of values) {
      const prev = this.last.get(pid) ?? 0;
      this.total += v >= prev ? v - prev : v;
      this.last.set(pid, v);
    }
    for (const pid of [...this.last.keys()]) if (!values.has(pid)) this.last.delete(pid);
    return this.total;
  }
}

export interface History {
  /**
   * `now`: the wall clock (epoch ms), Date.now() unless given; `steady`: the monotonic clock the
   * rates and the samples' ages are taken on, monotonicNow() when `now` is not given, else `now`
   * (a caller that gives one time gives the same to both).
   */
  record(view: AdminView, host: HostSample | undefined, now?: number, steady?: number): HistorySample;
  samples(): HistorySample[];
  latest(): HistorySample | undefined;
}

export function createHistory(options: { capacity?: number } = {}): History {
  const capacity = options.capacity ?? 120;
  // Each sample's `t` is on the monotonic clock here; `wallOffset` turns it into the wall clock's,
  // in whole milliseconds as Date.now() gives them (the monotonic clock has fractions).
  const ring: HistorySample[] = [];
  let wallOffset = 0;
  const onWallClock = (s: HistorySample): HistorySample => ({ ...s, t: Math.round(s.t + wallOffset) });
  const upstream = new CounterAcrossProcesses();
  let prev: { t: number; requests: number; errors: number; refused: number; upstream: number } | undefined;
  /** The last beat whose request durations a sample counted (request-latency.ts). */
  let beatCursor = 0;
  return {
    record(view, host, wall, steady) {
      const now = steady ?? wall ?? monotonicNow();
      wallOffset = (wall ?? Date.now()) - now;
      const children = view.children();
      const workers = children.filter((c) => c.role === 'worker' && c.figures);
      const keeper = children.find((c) => c.role === 'keeper');
      const sheets = sheetsFiguresOf(children);
      const served = servedTotalsOf(view);
      const upTotal = upstream.observe(new Map(keeper && sheets.upstream_calls_total !== null ? [[keeper.pid, sheets.upstream_calls_total]] : []));
      const dt = prev ? (now - prev.t) / 1000 : 0;
      const rate = (total: number, before: number) => (prev && dt > 0 ? perSecond(total - before, dt * 1000) : null);
      const rps = rate(served.requests, prev?.requests ?? 0);
      const errorsPerSecond = rate(served.errors, prev?.errors ?? 0);
      const refusedPerSecond = rate(served.refused, prev?.refused ?? 0);
      const upDerived = prev && dt > 0 && sheets.upstream_calls_total !== null ? Math.round(((upTotal - prev.upstream) / dt) * 60 * 10) / 10 : null;
      const { buckets: latency, cursor } = view.latency().since(beatCursor);
      beatCursor = cursor;
      prev = { t: now, ...served, upstream: upTotal };
      const sample: HistorySample = {
        t: now,
        rps,
        errors_per_s: errorsPerSecond,
        refused_per_s: refusedPerSecond,
        p99_ms: workers.length > 0 || latency.count > 0 ? Math.round((latency.percentileMs(0.99) ?? 0) * 100) / 100 : null,
        cpu: host?.cpuPercent ?? null,
        ram: host?.ramPercent ?? null,
        connections: workers.some((w) => w.figures !== undefined) ? workers.reduce((a, w) => a + (w.figures?.activeConnections ?? 0), 0) : null,
        upstream_per_min: sheets.upstream_calls_per_minute ?? upDerived,
      };
      ring.push(sample);
      if (ring.length > capacity) ring.splice(0, ring.length - capacity);
      return onWallClock(sample);
    },
    samples: () => ring.map(onWallClock),
    latest: () => {
      const last = ring.at(-1);
      return last && onWallClock(last);
    },
  };
}
