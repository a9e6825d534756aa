// How the tests judge "never over the quota": by the calls' arrivals at the emulator within any
// window of a minute, not by its fixed wall-clock minutes (which let up to twice the limit through
// across two of them) nor by the absence of a 429.

/**
 * The most of `arrivals` (ms) within any window of a minute less a second: the keepers count a
 * call's minute from its grant, a few ms before its arrival here.
 */
export function mostInAnyMinute(arrivals: readonly number[]): number {
  const at = [...arrivals].sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; last < at.length; last++) {
    while ((at[last] ?? 0) - (at[first] ?? 0) >= 59_000) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}
