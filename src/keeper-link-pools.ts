// How many connections one worker may hold to the keeper: its link's pools (sheets/keeper-link.ts
// says why each is apart). A leaf, so that the master's open-files check (fd-limit.ts), which may
// not import sheets/, sizes the keeper by the same figures the workers open: with CPU x 4 workers
// the keeper holds more descriptors than any worker (128 workers: up to 3,712, twice that while a
// reload runs two generations), and a keeper past its limit fails every accept and file open.

/** Connections of each pool of one worker's keeper link, at most. */
export const KEEPER_LINK_POOLS = {
  /** Reads of ranges the worker holds (misses are single-flighted before this). */
  reads: 8,
  /** Reads of ranges it holds no copy of, which may wait for Google. */
  firstFills: 8,
  /** Appends, answered once journaled. */
  writes: 8,
  /** The change feed's long poll. */
  watch: 1,
  /** Brief calls (login counts, figures), each answered in about a millisecond. */
  brief: 4,
} as const;

/** The most connections one worker holds to the keeper at once: every pool full. */
export const KEEPER_LINK_MAX_CONNECTIONS = Object.values(KEEPER_LINK_POOLS).reduce((a, b) => a + b, 0);
