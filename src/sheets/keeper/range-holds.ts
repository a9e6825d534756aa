// The flusher's backoff per target range. Each journal entry backs off after a failed attempt
// (its nextAttemptAt), but rows journaled after the failure were due at once: while Google kept
// refusing a range (a deleted or renamed tab, a sheet no longer shared, a 429 storm, an outage),
// every flush interval that had new rows called Google again and logged another error, up to
// twice a second for as long as the failure lasted, spending write quota on calls bound to fail.
// A range whose append or read-back failed is now left alone until its backoff has passed, for
// old and new rows alike, and the backoff grows with the failures in a row (Google's truncated
// exponential backoff, at most 32 s plus jitter) until an append to it succeeds.

export interface RangeHold {
  /** Failed calls in a row for the range since its last successful append. */
  readonly failures: number;
  /** Keeper-clock time before which the range is not tried. */
  readonly until: number;
}

export class RangeHolds {
  private readonly holds = new Map<string, RangeHold>();

  /** Whether the range is still waiting out a failure at `now`. */
  isHeld(range: string, now: number): boolean {
    return (this.holds.get(range)?.until ?? 0) > now;
  }

  /** Failures in a row for the range (0 when its last append succeeded or it never failed). */
  failures(range: string): number {
    return this.holds.get(range)?.failures ?? 0;
  }

  /** When the range may be tried again (0: at once). */
  until(range: string): number {
    return this.holds.get(range)?.until ?? 0;
  }

  /** A call for the range failed: hold it until `until`. */
  fail(range: string, until: number): void {
    this.holds.set(range, { failures: this.failures(range) + 1, until });
  }

  /** An append to the range succeeded: the next failure starts from the first backoff again. */
  succeed(range: string): void {
    this.holds.delete(range);
  }
}
