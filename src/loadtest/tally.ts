// Counts and an HDR latency histogram for one slice of the run (a step, a second, a route).

import { build, type Histogram } from 'hdr-histogram-js';
import type { Sample } from './client.js';
import { CRITERIA } from './criteria.js';

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
  /**
   * On the side of CRITERIA.p95Ms that the exact counts put it (Tally.p95Under): compared with
   * the limit, it gives the criterion's judgement, and a figure said is never across it.
   */
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

/** The p95 criterion in µs, the unit latencies are recorded in. */
const P95_LIMIT_US = CRITERIA.p95Ms * 1000;

/** The highest figure under the limit a p95 judged under it is said as: 1 µs, the unit measured, below. */
const UNDER_LIMIT_MS = (P95_LIMIT_US - 1) / 1000;

/**
 * Whether the p95 of `n` samples is under a limit `reaching` of them are at or above. The p95 is
 * the nearest-rank one HdrHistogram's getValueAtPercentile answers: the sample of rank
 * ceil(0.95 n) in ascending order (at least the first). It is under the limit when that many are,
 * that is when at most n - ceil(0.95 n) = floor(n / 20) reach it: more than 5 % at or above the
 * limit, and the p95 is not under it.
 */
export function p95UnderLimit(reaching: number, n: number): boolean {
  const rank = Math.max(1, Math.ceil((95 * n) / 100));
  return reaching <= n - rank;
}

/**
 * Of a latency and the samples the coordinated-omission correction adds for it, those at or above
 * `limitUs`: HdrHistogram's recordValueWithExpectedInterval adds value - k * every (k = 1, 2, ...)
 * while that is at least `every`, so those reaching the limit are the k up to
 * (value - max(every, limit)) / every. Latencies and paces are whole µs: the count is exact.
 */
export function reachingLimit(valueUs: number, everyUs: number, limitUs: number): number {
  const own = valueUs >= limitUs ? 1 : 0;
  if (everyUs <= 0) return own;
  return own + Math.max(0, Math.floor((valueUs - Math.max(everyUs, limitUs)) / everyUs));
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
  /**
   * Of the samples in #hist and #raw, those at or above the p95 limit, counted exactly: near
   * 500 ms an HDR bucket is 256 µs wide and its highest value is what a percentile reads, so a true
   * p95 of 499.98 ms read 500.2 ms and failed the step. The criterion is judged on these.
   */
  #reaching = 0;
  #rawReaching = 0;

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
    if (s.latencyUs >= P95_LIMIT_US) this.#rawReaching++;
    const pace = s.paceUs ?? 0;
    const every = pace > 0 ? Math.max(pace, MIN_CORRECTED_PACE_US) : 0;
    if (every > 0) h.recordValueWithExpectedInterval(s.latencyUs, every);
    else h.recordValue(s.latencyUs);
    this.#reaching += reachingLimit(s.latencyUs, every, P95_LIMIT_US);
  }

  /** Latency of answered requests in milliseconds; undefined when nothing was answered. */
  latency(): LatencySummary | undefined {
    const h = this.#hist;
    if (!h || h.totalCount === 0) return undefined;
    const raw = this.#raw;
    const p95 = this.#p95();
    // Below the p95, as it is: a p50 in the same bucket as a p95 said under the limit read 500.2 ms.
    return { p50: Math.min(this.#at(50), p95), p95, p99: this.#at(99), max: ms(h.maxValue), mean: ms(Math.max(h.mean, raw?.mean ?? 0)) };
  }

  p95(): number | undefined {
    const h = this.#hist;
    return h && h.totalCount > 0 ? this.#p95() : undefined;
  }

  /**
   * The p95 criterion, judged exactly on the counts of samples at or above its limit: the
   * corrected p95 and the answers' own both under it (a percentile is said as the higher of the
   * two). Undefined when nothing was answered.
   */
  p95Under(): boolean | undefined {
    const h = this.#hist;
    if (!h || h.totalCount === 0) return undefined;
    const raw = this.#raw;
    return p95UnderLimit(this.#reaching, h.totalCount) && (!raw || raw.totalCount === 0 || p95UnderLimit(this.#rawReaching, raw.totalCount));
  }

  /**
   * The p95 in ms, said on the side of the limit the counts judge it on: HDR's figure is its
   * bucket's highest value, an upper bound, so one judged under the limit is at most 1 µs under it
   * (a figure the display never rounds up to it), and one judged at or over it is at least the limit.
   */
  #p95(): number {
    const at = this.#at(95);
    return this.p95Under() ? Math.min(at, UNDER_LIMIT_MS) : Math.max(at, CRITERIA.p95Ms);
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
    this.#reaching += other.#reaching;
    this.#rawReaching += other.#rawReaching;
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
