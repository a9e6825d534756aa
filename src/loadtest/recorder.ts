// Everything measured during a run: per segment (the verdict), per second (the charts), per
// request kind and route (the report), and overall.

import type { RequestKind, Sample } from './client.js';
import { segmentIndexAt, type Schedule } from './schedule.js';
import { Tally, throughput, type Counts, type LatencySummary } from './tally.js';

/**
 * A last bucket shorter than this is folded into the second before it rather than divided by its
 * own length: the requests that end with the run (all at its last instant) over a tail of a few
 * milliseconds read as a spike of thousands of requests per second.
 */
const MIN_TAIL_S = 0.1;

export interface SecondPoint {
  /** Seconds since the start of the run (start of the bucket). */
  readonly t: number;
  /** Bucket length in seconds (the last one may be shorter, or up to MIN_TAIL_S longer). */
  readonly span: number;
  /** Most virtual users active during the second. */
  readonly users: number;
  /** Requests that finished in the bucket, the unanswered ones included. */
  readonly requests: number;
  /** Requests per second of the bucket, leaving out the unanswered ones: a stall is a dip. */
  readonly rps: number;
  readonly errors: number;
  readonly status5xx: number;
  readonly status429: number;
  readonly statusOther: number;
  readonly timeouts: number;
  readonly connection: number;
  /** Still waiting when the run ended, after longer than the p95 criterion (only in the last second). */
  readonly unanswered: number;
  /** Not sent: this machine could not open the connection (EMFILE, ...); no error of the target. */
  readonly generator: number;
  /** Milliseconds; null when nothing was answered in that second. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export class Recorder {
  readonly overall = new Tally();
  readonly segments: Tally[];
  readonly segmentUsersMax: number[];
  /** Per segment, the finished requests other than logins: what its verdict may rest on. */
  readonly segmentAppRequests: number[];
  readonly kinds = new Map<RequestKind, Tally>();
  readonly routes = new Map<string, Tally>();
  readonly actions = new Map<string, number>();
  readonly timeline: SecondPoint[] = [];
  readonly #schedule: Schedule;
  #sec = 0;
  #secTally = new Tally();
  /** The last flushed second's tally, kept until the next one is flushed: finish() may add a tail to it. */
  #lastTally: Tally | undefined;
  #secUsers = 0;
  #users = 0;
  #finished = false;

  constructor(schedule: Schedule) {
    this.#schedule = schedule;
    this.segments = schedule.segments.map(() => new Tally());
    this.segmentUsersMax = schedule.segments.map(() => 0);
    this.segmentAppRequests = schedule.segments.map(() => 0);
  }

  record(s: Sample): void {
    if (this.#finished) return;
    this.overall.record(s);
    // A request belongs to the step it started in: that is the load it was sent under.
    const segment = segmentIndexAt(this.#schedule, s.startMs);
    this.segments[segment]?.record(s);
    // Counted as Tally counts requests: finished, not cut by the end nor left unsent by this machine.
    if (s.kind !== 'login' && s.outcome !== 'aborted' && s.outcome !== 'generator' && this.segmentAppRequests[segment] !== undefined) this.segmentAppRequests[segment]++;
    this.#tallyFor(this.kinds, s.kind).record(s);
    this.#tallyFor(this.routes, s.route).record(s);
    if (s.outcome === 'aborted') return;
    this.#advance(s.endMs);
    this.#secTally.record(s);
  }

  actionStarted(name: string): void {
    this.actions.set(name, (this.actions.get(name) ?? 0) + 1);
  }

  /** Called on every scheduler tick with the active user count. */
  users(count: number, tMs: number): void {
    if (this.#finished) return;
    this.#advance(tMs);
    this.#users = count;
    this.#secUsers = Math.max(this.#secUsers, count);
    const seg = segmentIndexAt(this.#schedule, tMs);
    this.segmentUsersMax[seg] = Math.max(this.segmentUsersMax[seg] ?? 0, count);
  }

  /** Requests per second over the last complete second (the progress line). */
  lastRps(): number {
    return this.timeline[this.timeline.length - 1]?.rps ?? 0;
  }

  /** Closes the last (partial) second at endMs. */
  finish(endMs: number): void {
    if (this.#finished) return;
    this.#advance(endMs);
    const span = endMs / 1000 - this.#sec;
    const last = this.timeline[this.timeline.length - 1];
    if (span < MIN_TAIL_S && last && this.#lastTally) {
      this.#lastTally.absorb(this.#secTally);
      this.#secTally.release();
      this.timeline[this.timeline.length - 1] = this.#point(last.t, last.span + span, Math.max(last.users, this.#secUsers), this.#lastTally);
    } else {
      // Never leave the charts without a point, even for a run stopped at once.
      this.#flush(Math.max(span, 0.001));
    }
    this.#lastTally?.release();
    this.#lastTally = undefined;
    this.#finished = true;
  }

  segmentLatency(i: number): LatencySummary | undefined {
    return this.segments[i]?.latency();
  }

  segmentCounts(i: number): Counts | undefined {
    return this.segments[i]?.counts;
  }

  #tallyFor<K>(map: Map<K, Tally>, key: K): Tally {
    let t = map.get(key);
    if (!t) {
      t = new Tally();
      map.set(key, t);
    }
    return t;
  }

  #advance(tMs: number): void {
    const sec = Math.floor(tMs / 1000);
    while (this.#sec < sec) this.#flush(1);
  }

  #flush(span: number): void {
    this.timeline.push(this.#point(this.#sec, span, this.#secUsers, this.#secTally));
    this.#lastTally?.release();
    this.#lastTally = this.#secTally;
    this.#secTally = new Tally();
    this.#secUsers = this.#users;
    this.#sec++;
  }

  #point(t: number, span: number, users: number, tally: Tally): SecondPoint {
    const c = tally.counts;
    const lat = tally.latency();
    return {
      t,
      span: Math.round(span * 1000) / 1000,
      users,
      requests: c.requests,
      rps: throughput(c, span),
      errors: c.errors,
      status5xx: c.status5xx,
      status429: c.status429,
      statusOther: c.statusOther,
      timeouts: c.timeouts,
      connection: c.connection,
      unanswered: c.unanswered,
      generator: c.generator,
      p50: lat?.p50 ?? null,
      p95: lat?.p95 ?? null,
      p99: lat?.p99 ?? null,
    };
  }
}
