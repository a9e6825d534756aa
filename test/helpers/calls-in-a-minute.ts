// How the tests judge "never over the quota": by the calls' arrivals at the emulator within any
// window of a minute, not by its fixed wall-clock minutes (which let up to twice the limit through
// across two of them) nor by the absence of a 429.

import { mostWithin } from '../../bench/lib/emulator-proc.js';

/**
 * The most of `arrivals` (ms) within any window of a minute less a second: the keepers count a
 * call's minute from its grant, a few ms before its arrival here.
 */
export function mostInAnyMinute(arrivals: readonly number[]): number {
  return mostWithin(arrivals, 59_000);
}
