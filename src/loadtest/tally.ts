// Counts and an HDR latency histogram for one slice of the run (a step, a second, a route).

import { build, type Histogram } from 'hdr-histogram-js';
import type { Sample } from './client.js';

export interface Counts {
  /** Requests that finished (answered, timed out or failed); aborted ones are counted apart. */
  requests: number;
  ok: number;
  /** requests - ok */
  errors: number;
  status5xx: number;
  /** Of status5xx: 503, the "server full" answer the seeds count separately. */
  status503: number;
  /** Rate limited by the target (CORRAL_RATE_LIMIT). */
  status429: number;
  /** Any other non-2xx answer (400, 401, 404, ...): usually a test set-up problem. */
  statusOther: number;
  timeouts: number;
  connection: number;
  /**
   * Still waiting for an answer when the run ended, after longer than the p95 criterion: not an
   * error, but its wait so far counts as its latency (a lower bound).
   */
  unanswered: number;
  /** Cancelled by the end of the run sooner than that (or never sent); not an error of the target. */
  aborted: number;
  /**
   * Never sent: this machine could not open the connection (EMFILE, EADDRNOTAVAIL, ...). Not a
   * request nor an error of the target; the step it belongs to was not loaded as planned.
   */
  generator: number;
  bytes: number;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function emptyCounts(): Counts {
  return { requests: 0, ok: 0, errors: 0, status5xx: 0, status503: 0, status429: 0, statusOther: 0, timeouts: 0, connection: 0, unanswered: 0, aborted: 0, generator: 0, bytes: 0 };
}

/** Microsecond resolution with 3 significant digits; grows as needed (timeouts can be minutes). */
export function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** The shortest pace the latency correction steps by: at most ten requests kept back a second. */
const MIN_CORRECTED_PACE_US = 100_000;

function ms(us: number): number {
  return Math.round(us) / 1000;
}

export class Tally {
  readonly counts: Counts = emptyCounts();
  readonly statuses = new Map<number, number>();
  readonly errorCodes = new Map<string, number>();
  #hist: Histogram | undefined = newHistogram();
  /**
   * The same latencies without the correction. The requests a wait kept back each waited one pace
   * less, so they can sit below the criterion and dilute the slow answers they stand for: with
   * users pausing 100 ms, 6 % of the answers taking 520 ms added 420, 320, 220 and 120 ms each,
   * and the step passed on "p95 420 ms". A percentile is said as the higher of the two.
   */
  #raw: Histogram | undefined = newHistogram();

  record(s: Sample): void {
    const c = this.counts;
    if (s.outcome === 'aborted') {
      c.aborted++;
      return;
    }
    if (s.outcome === 'generator') {
      c.generator++;
      if (s.error) this.errorCodes.set(s.error, (this.errorCodes.get(s.error) ?? 0) + 1);
      return;
    }
    c.requests++;
    c.bytes += s.bytes;
    if (s.status > 0) this.statuses.set(s.status, (this.statuses.get(s.status) ?? 0) + 1);
    // A timeout is a latency too, the longest of all (its wait, at least --timeout): leaving it out
    // would report the p95 of the requests that were lucky. So is an unanswered request's wait (a
    // lower bound). A refused connection answered nothing.
    if (s.outcome !== 'connection') this.#recordLatency(s);
    switch (s.outcome) {
      case 'ok':
        c.ok++;
        return;
      case 'http':
        if (s.status >= 500) {
          c.status5xx++;
          if (s.status === 503) c.status503++;
        } else if (s.status === 429) {
          c.status429++;
        } else {
          c.statusOther++;
        }
        break;
      case 'timeout':
        c.timeouts++;
        break;
      case 'connection':
        c.connection++;
        break;
      case 'unanswered':
        // Not an error: its answer may have been on its way. Its wait so far is in the histogram,
        // so a target that stops answering fails p95 without one slow request at the deadline
        // failing a step that tolerates 5 % of them.
        c.unanswered++;
        return;
    }
    c.errors++;
    if (s.error) this.errorCodes.set(s.error, (this.errorCodes.get(s.error) ?? 0) + 1);
  }

  /**
   * A closed model's user waits for its answer before its next request, so a stall of 7 s was one
   * slow request per user among some 25 quick ones, and a target silent for the last quarter of a
   * step passed p95. Corrected as HdrHistogram corrects coordinated omission: a wait longer than
   * the user's pace also counts the requests it kept back, each having waited one pace less. The
   * pace is floored at MIN_CORRECTED_PACE_US (a user pausing 1 ms would add a sample per
   * millisecond of a 10 s timeout); a user that does not pause (--think-time 0) is not corrected.
   * The answers alone are kept too (#raw): percentiles are said as the higher of the two.
   */
  #recordLatency(s: Sample): void {
    const h = this.#hist;
    if (!h) return;
    this.#raw?.recordValue(s.latencyUs);
    const pace = s.paceUs ?? 0;
    if (pace > 0) h.recordValueWithExpectedInterval(s.latencyUs, Math.max(pace, MIN_CORRECTED_PACE_US));
    else h.recordValue(s.latencyUs);
  }

  /** Latency of answered requests in milliseconds; undefined when nothing was answered. */
  latency(): LatencySummary | undefined {
    const h = this.#hist;
    if (!h || h.totalCount === 0) return undefined;
    const raw = this.#raw;
    return { p50: this.#at(50), p95: this.#at(95), p99: this.#at(99), max: ms(h.maxValue), mean: ms(Math.max(h.mean, raw?.mean ?? 0)) };
  }

  p95(): number | undefined {
    const h = this.#hist;
    return h && h.totalCount > 0 ? this.#at(95) : undefined;
  }

  /** A percentile in ms: the corrected one, never below the answers' own (#raw). */
  #at(p: number): number {
    // HDR answers a bucket's highest equivalent value, which can pass the largest value recorded.
    const of = (h: Histogram | undefined): number => (h && h.totalCount > 0 ? Math.min(h.getValueAtPercentile(p), h.maxValue) : 0);
    return ms(Math.max(of(this.#hist), of(this.#raw)));
  }

  /** Adds another tally's counts, statuses, error codes and latencies to this one (a second's tail). */
  absorb(other: Tally): void {
    for (const key of Object.keys(this.counts) as (keyof Counts)[]) this.counts[key] += other.counts[key];
    for (const [k, v] of other.statuses) this.statuses.set(k, (this.statuses.get(k) ?? 0) + v);
    for (const [k, v] of other.errorCodes) this.errorCodes.set(k, (this.errorCodes.get(k) ?? 0) + v);
    if (this.#hist && other.#hist) this.#hist.add(other.#hist);
    if (this.#raw && other.#raw) this.#raw.add(other.#raw);
  }

  /** Frees the histogram once its figures are read (per-second tallies). */
  release(): void {
    this.#hist?.destroy();
    this.#hist = undefined;
    this.#raw?.destroy();
    this.#raw = undefined;
  }
}

/**
 * Requests per second over `seconds`, one decimal. Those still unanswered when the run ended are
 * left out: they are waits cut by the end, not answers, and all end at that one moment.
 */
export function throughput(c: Counts, seconds: number): number {
  return seconds > 0 ? Math.round(((c.requests - c.unanswered) / seconds) * 10) / 10 : 0;
}

export function sortedEntries<K extends string | number>(map: Map<K, number>): Record<string, number> {
  return Object.fromEntries([...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => [String(k), v]));
}
