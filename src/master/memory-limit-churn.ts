// Workers recycled for memory one after another soon after they became ready: a
// CORRAL_MAX_WORKER_MEMORY_MB above what a worker weighs at ready (so worker.memory_limit_below_start
// is silent) but below what it weighs once it serves (its copies of the sheet read, its buffers
// grown). Every replacement then goes over after its first requests, and workers are recycled for
// good, each paying a cold start; each recycle was one worker.memory_limit warning, which reads as
// a worker that leaked, not as a limit set too low.

/** A worker over the limit this soon after its ready went over by serving, not by a leak. */
export const SOON_AFTER_READY_MS = 60_000;

/** Recycles in a row, each this soon after its ready, that say the limit is below a serving worker's size. */
export const IN_A_ROW = 3;

export interface MemoryLimitChurn {
  readonly limitMb: number;
  /** RSS of the last worker over the limit, and how long after its ready it went over. */
  readonly rssMb: number;
  readonly afterReadyMs: number;
  readonly inARow: number;
  /** A limit with room over a serving worker's size: 1.5 times its RSS, rounded up to 64 MiB. */
  readonly suggestedMb: number;
}

export class MemoryLimitChurnWatch {
  private soonInARow = 0;
  /** The limit the run was counted under: a reload that changes it starts the run over. */
  private runLimitMb: number | undefined;
  /** The limit churn was last said for: once per value, as a reload may change it. */
  private saidForMb: number | undefined;

  /**
   * A worker went over `limitMb` (it is recycled) `afterReadyMs` after it became ready: the churn
   * to say, once per limit value, after IN_A_ROW such recycles each within SOON_AFTER_READY_MS.
   */
  overLimit(limitMb: number, rssMb: number, afterReadyMs: number): MemoryLimitChurn | undefined {
    // Workers recycled under another value say nothing of this one: counted on, a reload that
    // raised the limit as the churn line asked had the next worker over it said to be the third
    // in a row "over it", of workers that had never reached it.
    if (limitMb !== this.runLimitMb) {
      this.runLimitMb = limitMb;
      this.soonInARow = 0;
    }
    if (afterReadyMs > SOON_AFTER_READY_MS) {
      // One that served a while first: growth over time (a leak, a large export), which the
      // recycle is for; the run of quick ones is over.
      this.soonInARow = 0;
      return undefined;
    }
    this.soonInARow++;
    if (this.soonInARow < IN_A_ROW || this.saidForMb === limitMb) return undefined;
    this.saidForMb = limitMb;
    return { limitMb, rssMb, afterReadyMs, inARow: this.soonInARow, suggestedMb: Math.ceil((rssMb * 1.5) / 64) * 64 };
  }
}
