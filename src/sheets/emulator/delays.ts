// The injected latency's waits, which close() ends at once: a values call waiting out its latency
// then finds the emulator closing and answers nothing (server.ts), instead of close() waiting for
// its timer. Apart from server.ts as a small class with two calls, wait() and releaseAll().

export class Delays {
  readonly #timers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();

  /** Resolves after `ms` (at once when 0 or less), or on releaseAll(), whichever is first. */
  wait(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve();
        }, ms),
        done: resolve,
      };
      this.#timers.add(entry);
    });
  }

  /** Every pending wait resolved now, its timer cleared. */
  releaseAll(): void {
    for (const t of this.#timers) {
      clearTimeout(t.timer);
      t.done();
    }
    this.#timers.clear();
  }
}
