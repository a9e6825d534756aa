// The points a chart draws: every one up to MAX_CHART_POINTS, else each stretch's lowest and
// highest. A chart is 880 px wide; a day of per-second points drew 86,400 of them per series, a
// 49 MB report (22 MB of it chart paths) that a browser took seconds to draw, and whose hover
// parsed every series' values at each move of the pointer. Two points per stretch, the extremes in
// the order they came, keep the line's envelope to the pixel: a single second of 5xx, a stall of
// the throughput, a latency spike are drawn at their exact value within a stretch's width of their
// time. The result JSON (and the copy embedded in the report) keeps every second.

/** Two points per horizontal pixel of the plot, at the most. */
export const MAX_CHART_POINTS = 1760;

export interface ChartPoints {
  readonly xs: readonly number[];
  /** One list per series, aligned with xs. */
  readonly values: readonly (readonly (number | null)[])[];
  /** Points each drawn pair stands for; 1: every point is drawn. */
  readonly perStretch: number;
}

/** How many points each stretch holds for `n` points (1: drawn as they are). */
export function pointsPerStretch(n: number, max = MAX_CHART_POINTS): number {
  return n <= max ? 1 : Math.ceil(n / Math.floor(max / 2));
}

/** The extremes of `values[from..to)` in the order they came; nulls when every one is null. */
function extremes(values: readonly (number | null)[], from: number, to: number): [number | null, number | null] {
  let lo = -1;
  let hi = -1;
  for (let i = from; i < to; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (lo < 0 || v < (values[lo] as number)) lo = i;
    if (hi < 0 || v > (values[hi] as number)) hi = i;
  }
  if (lo < 0) return [null, null];
  const [first, second] = lo <= hi ? [lo, hi] : [hi, lo];
  return [values[first] as number, values[second] as number];
}

/**
 * `xs` and the series' values as a chart draws them. Past `max` points, consecutive points are
 * taken in stretches of pointsPerStretch(), each drawn as two: at the stretch's first and last x,
 * the series' lowest and highest value there, in the order they came (a stretch with no value
 * stays a gap).
 */
export function chartPoints(xs: readonly number[], series: readonly (readonly (number | null)[])[], max = MAX_CHART_POINTS): ChartPoints {
  const per = pointsPerStretch(xs.length, max);
  if (per === 1) return { xs, values: series, perStretch: 1 };
  const outXs: number[] = [];
  const outValues: (number | null)[][] = series.map(() => []);
  for (let from = 0; from < xs.length; from += per) {
    const to = Math.min(xs.length, from + per);
    outXs.push(xs[from] as number, xs[to - 1] as number);
    series.forEach((values, s) => {
      const [first, second] = extremes(values, from, to);
      (outValues[s] as (number | null)[]).push(first ?? null, second ?? null);
    });
  }
  return { xs: outXs, values: outValues, perStretch: per };
}
