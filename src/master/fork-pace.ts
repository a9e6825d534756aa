// How many of the workers due the tick forks now. fork() returns only once the child has started
// its program (libuv waits for the exec), a few milliseconds on an idle host and far more while
// the workers forked just before boot on every core. Forked in one loop, a start or a reload of
// CORRAL_WORKERS (CPU x 4) held the master's event loop for all of them: 128 workers on 2 cores
// took 9.4 s at start and 18.3 s at a reload, during which the admin API and health did not
// answer, signals waited, and heartbeats piled up unread (master.stalled then said the master
// "did not run"). Now a tick forks until FORK_BUDGET_MS has passed, at least one, and asks for
// another tick for the rest, which runs once the loop has read what came meanwhile.
//
// The workers forked over those ticks are one fork batch (crash-ledger.ts): they fail together
// for one reason, and one counted boot failure stands for all of them. Split into batches, a
// start of 128 workers that cannot boot would spend CORRAL_BOOT_ATTEMPTS at once.
// Once a failure or a crash was counted against the batch, the rest begin a batch of their own
// (the arbiter passes `failing` then): forked into a spent batch, their failures would share its
// count, uncounted and with no backoff, for as long as the budget kept cutting the round short.

/** Longest a tick goes on forking (it forks one at least): the master answers within about this. */
export const FORK_BUDGET_MS = 100;

export class ForkPace {
  /** The generation whose fork batch the budget cut short: the next tick's forks continue it. */
  private openFor: number | undefined;

  constructor(
    /** A real clock (performance.now): the arbiter's may be a test's, which forks do not advance. */
    private readonly clock: () => number,
    private readonly budgetMs: number = FORK_BUDGET_MS,
  ) {}

  /**
   * Forks up to `n` workers of `generation` with `fork`, within the budget; returns how many were
   * forked (fewer than `n`: the rest are due at the next tick). `newBatch` is called first unless
   * these continue a batch of the same generation that the budget cut short; forks after failures
   * (`failing`: one at a time, probing) always begin a batch of their own.
   */
  run(n: number, generation: number, failing: boolean, newBatch: () => void, fork: () => void): number {
    if (n <= 0) {
      this.openFor = undefined;
      return 0;
    }
    if (failing || this.openFor !== generation) newBatch();
    const until = this.clock() + this.budgetMs;
    let forked = 0;
    while (forked < n) {
      fork();
      forked++;
      if (this.clock() >= until) break;
    }
    this.openFor = forked < n ? generation : undefined;
    return forked;
  }
}
