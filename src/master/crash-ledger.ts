// The workers' crash accounting: failed boots and crashes after ready, and the backoff they put on
// the next fork. Its own object so the counting rules (a fork batch fails once, workers crashing
// together are one step of the loop, calm resets it) can be driven with a clock of one's own; the
// arbiter logs what it returns and forks when nextSpawnAt allows.

import { exponentialBackoff, type Backoff } from './backoff.js';
import type { ChildRecord } from './registry.js';

/** A crash this soon after ready counts towards the crash-loop backoff. */
export const QUICK_CRASH_MS = 10_000;
export const BACKOFF = exponentialBackoff(250, 30_000);

export type BootError = NonNullable<ChildRecord['bootError']>;

/** What a counted crash reports in its log line. */
export interface CrashCount {
  readonly uptime: number;
  readonly delay: number;
  /** The worker whose crash counted for this one too; undefined when this one counted. */
  readonly sharedWith: number | undefined;
}

export class CrashLedger {
  private failedBoots = 0;
  /** Failed boots since the master started, a fork batch counting once: never reset. */
  private failedBootsEver = 0;
  /** Every failed boot since the last ready worker (or the start) was lasting (worker/boot-lasting.ts). */
  private allLasting = true;
  /**
   * Workers are forked in numbered batches (one per round of forks: a start's or reload's workers
   * forked over several ticks are one, fork-pace.ts): see bootFailed().
   */
  private batch = 0;
  /** The batch of the last boot failure counted: others of that batch are the same attempt. */
  private lastFailedBatch = 0;
  private lastError: BootError | undefined;
  private quick = 0;
  private lastCrashAt = 0;
  /**
   * The last crash counted as a step of the crash loop: when, which worker, and the last fork
   * batch started before it. Workers of those batches that crash soon after it share its step.
   */
  private crashStep: { readonly at: number; readonly workerId: number; readonly lastBatch: number } | undefined;
  private spawnAt = 0;

  constructor(private readonly backoff: Backoff = BACKOFF) {}

  /** Failed boots in a row, a fork batch counting once. */
  get bootFailures(): number {
    return this.failedBoots;
  }

  /** Failed boots since the master started, a fork batch counting once (a ready worker resets bootFailures, not this). */
  get bootFailuresEver(): number {
    return this.failedBootsEver;
  }

  get lastBootError(): BootError | undefined {
    return this.lastError;
  }

  /** Quick crashes counted, eased by long lives and reset by calm: the crash loop's step. */
  get quickCrashes(): number {
    return this.quick;
  }

  /** No worker is forked before this. */
  get nextSpawnAt(): number {
    return this.spawnAt;
  }

  /** The batch the workers forked now belong to. */
  get forkBatch(): number {
    return this.batch;
  }

  /** Starts the next fork batch (a round of forks). */
  newForkBatch(): void {
    this.batch++;
  }

  /**
   * A boot failure or a crash step was counted against the current batch: workers forked into it
   * now would share that count (bootFailed, crashed), their failures uncounted and their backoff
   * skipped. A paced round of forks that meets this begins a batch of its own.
   */
  get forkBatchSpent(): boolean {
    return this.batch > 0 && (this.lastFailedBatch === this.batch || this.crashStep?.lastBatch === this.batch);
  }

  /** A worker reported ready: boots work again. */
  workerReady(): void {
    this.failedBoots = 0;
    this.allLasting = true;
  }

  /** A new generation (a reload, or the rollback of one) starts without the last one's backoff. */
  clearBootBackoff(): void {
    this.failedBoots = 0;
    this.spawnAt = 0;
    this.allLasting = true;
  }

  /**
   * Whether every failed boot of the run that bootFailures counts failed for a cause that lasts
   * until the files or settings change: not only the last one. A cause that went away meanwhile
   * (a deploy half-written at the first attempt) lets a later one fail otherwise.
   */
  get failuresAllLasting(): boolean {
    return this.failedBoots > 0 && this.allLasting;
  }

  /** A worker of `forkBatch` exited before it was ready. */
  bootFailed(forkBatch: number, error: BootError, now: number): void {
    // Workers forked together fail together, for the same reason (a database down at boot, a
    // port taken): one counted failure stands for its whole batch. Counted one by one, the
    // first batch of CORRAL_WORKERS ≥ CORRAL_BOOT_ATTEMPTS workers used up every attempt at
    // once, and the master exited 3 without a single retry.
    if (forkBatch > this.lastFailedBatch) {
      this.failedBoots++;
      this.failedBootsEver++;
      this.lastFailedBatch = forkBatch;
      this.spawnAt = now + this.backoff.delayMs(this.failedBoots);
    }
    if (error.lasting !== true) this.allLasting = false;
    this.lastError = error;
  }

  /**
   * Counts a worker's crash towards the crash-loop backoff: one soon after ready makes the next
   * fork wait longer, one after a long life eases it. Returns what the log line reports.
   *
   * Workers that crash together crash for one reason (a kill -9 of them all, a bad deploy that
   * throws on the first request, a dependency gone): a quick crash of a worker forked before the
   * last counted one, within QUICK_CRASH_MS of it, is part of that step (`sharedWith` names the
   * worker whose crash counted). Counted one by one, 8 workers dying at once made the 8th
   * replacement wait 15-30 s, with not one worker serving. A worker forked after the step was
   * counted is the retry: its crash is the next step, so a worker that keeps crashing on its own
   * still escalates (as boot failures count once per fork batch).
   */
  crashed(c: Pick<ChildRecord, 'id' | 'readyAt' | 'startedAt' | 'forkBatch'>, now: number, failedAt: number = now): CrashCount {
    // `failedAt`: when it stopped serving, for one killed as stuck its last beat, CORRAL_TIMEOUT
    // before the kill: its life is what it served, not the time it hung.
    const uptime = failedAt - (c.readyAt ?? c.startedAt);
    const step = this.crashStep;
    this.lastCrashAt = now;
    if (uptime < QUICK_CRASH_MS && step && c.forkBatch <= step.lastBatch && now - step.at < QUICK_CRASH_MS) {
      return { uptime, delay: Math.max(0, Math.ceil(this.spawnAt - now)), sharedWith: step.workerId };
    }
    if (uptime < QUICK_CRASH_MS) {
      this.quick++;
      this.crashStep = { at: now, workerId: c.id, lastBatch: this.batch };
    } else this.quick = Math.max(0, this.quick - 1);
    const delay = this.backoff.delayMs(this.quick);
    this.spawnAt = Math.max(this.spawnAt, now + delay);
    return { uptime, delay, sharedWith: undefined };
  }

  /** Run at the end of every reap: a calm spell ends the crash loop. */
  settle(now: number): void {
    // Calm means 2 × QUICK_CRASH_MS with no crash after the replacement was allowed to start:
    // counted from the last crash, a respawn delay near the 30 s cap was itself taken for calm,
    // and the loop started over at 250 ms.
    if (this.quick > 0 && now - Math.max(this.lastCrashAt, this.spawnAt) > 2 * QUICK_CRASH_MS) this.quick = 0;
  }
}
