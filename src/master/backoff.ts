// Exponential backoff with full jitter for respawning children that fail to boot or crash-loop.

export interface Backoff {
  /** Delay before the next attempt, given the number of failures in a row (1 = first failure). */
  delayMs(failures: number): number;
}

export function exponentialBackoff(baseMs: number, capMs: number, random: () => number = Math.random): Backoff {
  return {
    delayMs(failures) {
      if (failures <= 0) return 0;
      const ceiling = Math.min(capMs, baseMs * 2 ** (failures - 1));
      // Half fixed, half random: spreads retries without ever retrying immediately.
      return Math.round(ceiling / 2 + random() * (ceiling / 2));
    },
  };
}
