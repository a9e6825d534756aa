// The request durations of the workers' beats, kept for a minute, so that each reader takes the
// p99 of every request answered in its own interval: the history the 5 s before its sample, the
// stats and /metrics the last minute. Each beat carries the durations of the requests its worker
// answered since its previous beat (latency-buckets.ts); a beat is kept whole, so it counts in
// exactly one history sample. The beats of workers that exited since count too (a drained worker
// beats a last time), as they do in the request totals.

import { LatencyBuckets } from '../latency-buckets.js';

/** The stats' and /metrics' latency window, and how long beats are kept. */
export const LATENCY_WINDOW_MS = 60_000;

interface Beat {
  /** Numbered in arrival order from 1: a reader's cursor (since()). */
  readonly seq: number;
  /** On the arbiter's clock. */
  readonly at: number;
  readonly pid: number;
  readonly pairs: readonly number[];
}

/** What the admin API reads. */
export interface RequestLatencyReader {
  /**
   * The durations of the beats received after the one numbered `cursor` (0: all those kept), and
   * the cursor to pass next time: each beat is counted in exactly one of a reader's intervals, even
   * one received in the very millisecond of the reader's previous call.
   */
  since(cursor: number): { readonly buckets: LatencyBuckets; readonly cursor: number };
  /** The p99 in ms of the requests answered in the last LATENCY_WINDOW_MS before `now` (one worker's, with `pid`); 0 when none. */
  p99Ms(now: number, pid?: number): number;
}

export class RequestLatency implements RequestLatencyReader {
  /** In arrival order, so by time. */
  private beats: Beat[] = [];
  private seq = 0;
  /** The p99s of the beats kept, while `key` (the last beat's seq, the first's) names them. */
  private p99s: { key: string; all: number; byPid: Map<number, number> } | undefined;

  constructor(private readonly keepMs = LATENCY_WINDOW_MS) {}

  /** A beat's durations (ChildFigures.latencyBuckets), received at `at`. */
  add(pid: number, pairs: readonly number[] | undefined, at: number): void {
    this.prune(at);
    if (!Array.isArray(pairs) || pairs.length === 0) return;
    this.beats.push({ seq: ++this.seq, at, pid, pairs });
  }

  since(cursor: number): { readonly buckets: LatencyBuckets; readonly cursor: number } {
    const buckets = new LatencyBuckets();
    for (const b of this.beats) if (b.seq > cursor) buckets.addPairs(b.pairs);
    return { buckets, cursor: this.seq };
  }

  p99Ms(now: number, pid?: number): number {
    this.prune(now);
    const key = `${this.seq}:${this.beats[0]?.seq ?? 0}`;
    if (this.p99s?.key !== key) this.p99s = { key, ...this.p99sOfBeats() };
    return pid === undefined ? this.p99s.all : (this.p99s.byPid.get(pid) ?? 0);
  }

  /**
   * The p99s of every worker and of all, in one pass over the beats, kept until a beat comes or
   * goes: the stats and each /metrics scrape ask one per worker, and a pass over every beat for
   * each of them cost the master's loop 56 ms a call at 128 workers (260 ms at 512).
   */
  private p99sOfBeats(): { all: number; byPid: Map<number, number> } {
    const all = new LatencyBuckets();
    const perPid = new Map<number, LatencyBuckets>();
    for (const b of this.beats) {
      all.addPairs(b.pairs);
      let own = perPid.get(b.pid);
      if (!own) perPid.set(b.pid, (own = new LatencyBuckets()));
      own.addPairs(b.pairs);
    }
    const p99 = (buckets: LatencyBuckets) => Math.round((buckets.percentileMs(0.99) ?? 0) * 100) / 100;
    return { all: p99(all), byPid: new Map([...perPid].map(([pid, buckets]) => [pid, p99(buckets)])) };
  }

  private prune(now: number): void {
    const from = now - this.keepMs;
    let drop = 0;
    while (drop < this.beats.length && (this.beats[drop] as Beat).at <= from) drop++;
    if (drop > 0) this.beats = this.beats.slice(drop);
  }
}
