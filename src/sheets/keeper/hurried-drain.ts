// The deadline of a keeper's drain asked for again with less time: a QUIT after the TERM whose
// drain it is carrying out. The master kills a draining child once its new order's time and the
// master's exit margin have passed (master/drain.ts: drainDeadline), 2 s for a QUIT's 0 ms. Ended
// by the order's time less the keeper's own exit margin, as a first drain is, a QUIT's hurried
// drain ended at once: the flush was cut, and so was the cache's handoff to the next keeper
// (keeper.ts hands it over only before the deadline), with 2 s of the master's still to run.

import { EXIT_MARGIN_MS as MASTER_EXIT_MARGIN_MS } from '../../master/drain.js';

/** Left of the graceful timeout for closing files and exiting. */
export const KEEPER_EXIT_MARGIN_MS = 500;

/** The deadline, on the keeper's clock at `now`, of a drain hurried by an order of `gracefulMs`. */
export function hurriedDrainDeadline(now: number, gracefulMs: number): number {
  return now + Math.max(0, gracefulMs) + MASTER_EXIT_MARGIN_MS - KEEPER_EXIT_MARGIN_MS;
}
