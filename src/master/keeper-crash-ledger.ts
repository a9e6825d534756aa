// The keeper's crash accounting: its failures in a row, its quick crashes after ready, and the
// backoff they put on its next start. Apart from the workers' (crash-ledger.ts): there is one
// keeper, with no fork batches, and a reload that changes its settings starts its count again.

import { BACKOFF, QUICK_CRASH_MS, type BootError } from './crash-ledger.js';
import type { Backoff } from './backoff.js';

export class KeeperCrashLedger {
  private failed = 0;
  /** Keeper exits within QUICK_CRASH_MS of its ready, in a row: reset at its ready, `failures` does not see them. */
  private quick = 0;
  private spawnAt = 0;
  private lastError: BootError | undefined;

  constructor(private readonly backoff: Backoff = BACKOFF) {}

  /** Unexpected exits (kills as stuck included) since its last ready (or since its settings changed). */
  get failures(): number {
    return this.failed;
  }

  get quickCrashes(): number {
    return this.quick;
  }

  /** No keeper is started before this. */
  get nextSpawnAt(): number {
    return this.spawnAt;
  }

  get lastKeeperError(): BootError | undefined {
    return this.lastError;
  }

  ready(): void {
    this.failed = 0;
  }

  /** New settings: what failed with the old ones says nothing of them. */
  restarting(): void {
    this.failed = 0;
    this.quick = 0;
  }

  /** Back to the settings it ran with (a reload rolled back): started again at once. */
  spawnNow(): void {
    this.spawnAt = 0;
  }

  /**
   * The keeper exited unexpectedly, or was killed as stuck; returns how long its next start waits.
   * `failedAt`: when it stopped serving, when that was before its exit: for a keeper killed as
   * stuck, its last beat. Its kill comes CORRAL_TIMEOUT later (30 s by default), so one that hung
   * soon after every ready would never count as a quick crash.
   */
  exited(readyAt: number | undefined, error: BootError, now: number, failedAt: number = now): number {
    this.failed++;
    // `failures` starts again at each ready, so crashes soon after ready are counted apart,
    // as a worker's are: a keeper that crashed soon after every ready was restarted within
    // 250 ms, about once a second for good (each one with a cold cache, and a new Google token
    // for its first call). One that lived longer starts the count again.
    if (readyAt !== undefined) this.quick = failedAt - readyAt < QUICK_CRASH_MS ? this.quick + 1 : 0;
    this.lastError = error;
    const delay = this.backoff.delayMs(Math.max(this.failed, this.quick));
    this.spawnAt = now + delay;
    return delay;
  }
}
