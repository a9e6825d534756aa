// Request durations as a histogram that adds up: each worker counts its requests per heartbeat in
// buckets 1 % wide, sends the counts with the beat, and the master adds the beats of any interval
// (the history's 5 s, the stats' and /metrics' last minute) to take that interval's p99. A p99 per
// beat cannot be merged: the history used to chart the p99 of the last beat before each sample,
// one second in five, and a burst of slow requests in the other four never showed.
//
// Bucket i holds the durations in (1.01^(i-1), 1.01^i] µs (bucket 0: up to 1 µs); a percentile is
// read as its bucket's upper bound, so it is at most 1 % above the true one, never below. A beat
// sends only the buckets it used, as flat [bucket, count, ...] pairs: a few dozen numbers for a
// busy worker, however many requests it served.

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Guards the bucket of an exact power of GROWTH from a rounding error in the logarithm. */
const EPSILON = 1e-9;
/** Buckets above this (1.01^2500 µs, about 2 × 10^4 h) are clamped to it. */
const MAX_BUCKET = 2500;

/** The bucket of a duration in µs. */
export function bucketOf(us: number): number {
  if (!(us > 1)) return 0;
  return Math.min(MAX_BUCKET, Math.ceil(Math.log(us) / LOG_GROWTH - EPSILON));
}

/** The largest duration, in ms, that bucket `i` holds. */
export function bucketUpperMs(i: number): number {
  return GROWTH ** i / 1000;
}

export class LatencyBuckets {
  private readonly counts = new Map<number, number>();
  private total = 0;

  /** Requests counted. */
  get count(): number {
    return this.total;
  }

  recordMs(ms: number): void {
    this.addBucket(bucketOf(ms * 1000), 1);
  }

  /**
   * Adds counts sent as [bucket, count, ...] pairs (toPairs()). A pair that is not two
   * non-negative integers is skipped: the numbers come over IPC.
   */
  addPairs(pairs: readonly number[]): void {
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const bucket = pairs[i] as number;
      const n = pairs[i + 1] as number;
      if (Number.isInteger(bucket) && Number.isInteger(n) && bucket >= 0 && n > 0) this.addBucket(Math.min(bucket, MAX_BUCKET), n);
    }
  }

  add(other: LatencyBuckets): void {
    for (const [bucket, n] of other.counts) this.addBucket(bucket, n);
  }

  /** The [bucket, count, ...] pairs of the buckets used, lowest bucket first. */
  toPairs(): number[] {
    const out: number[] = [];
    for (const bucket of [...this.counts.keys()].sort((a, b) => a - b)) out.push(bucket, this.counts.get(bucket) as number);
    return out;
  }

  /**
   * The duration in ms that a share `q` (0.99 for the p99) of the requests took at most: the
   * upper bound of the bucket holding the request of rank ceil(q × count). Undefined when empty.
   */
  percentileMs(q: number): number | undefined {
    if (this.total === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    const buckets = [...this.counts.keys()].sort((a, b) => a - b);
    for (const bucket of buckets) {
      seen += this.counts.get(bucket) as number;
      if (seen >= rank) return bucketUpperMs(bucket);
    }
    return bucketUpperMs(buckets.at(-1) as number);
  }

  reset(): void {
    this.counts.clear();
    this.total = 0;
  }

  private addBucket(bucket: number, n: number): void {
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + n);
    this.total += n;
  }
}
