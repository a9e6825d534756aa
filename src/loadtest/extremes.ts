// The largest and smallest of a list that grows with the run (one figure per second, per sample),
// by a loop. Math.max(...values) passes every value as an argument on the stack: a run of about
// 5 h (7 series × 17,600 s) overflowed it, RangeError, and the run ended with no result written.

/** The largest number of values (nulls skipped), and at least `floor`. */
export function maxOf(values: Iterable<number | null>, floor = -Infinity): number {
  let max = floor;
  for (const v of values) if (v !== null && v > max) max = v;
  return max;
}

/** The smallest number of values (nulls skipped), and at most `ceiling`. */
export function minOf(values: Iterable<number | null>, ceiling = Infinity): number {
  let min = ceiling;
  for (const v of values) if (v !== null && v < min) min = v;
  return min;
}
