// The seeds' success criteria (seeds/001 "Critères de succès": response time < 500 ms, 0 errors
// 503, 0 timeouts, CPU < 80 %, RAM < 50 %), and how a figure judged against one is said. A file of
// its own: the progress line, the checks before the load, the result and the report read the limits
// and say figures by them without judging anything (segment-judgement.ts and verdict.ts judge).

export const CRITERIA = Object.freeze({ p95Ms: 500, cpuPercent: 80, ramPercent: 50 });

/**
 * The fewest requests other than logins a step is judged a pass on (and at least one per user of
 * its peak): under it, its p95 is its slowest request or two, and logins alone show only that the
 * login route answers, not what N users doing something cost. Such a step can fail, never pass.
 */
export const MIN_APP_REQUESTS = 10;

/**
 * A figure under its limit whose rounding would reach it shows a truncated decimal instead:
 * "p95 500 ms < 500 ms" or a passing "CPU 80 %" reads as a contradiction of the verdict.
 */
function belowLimit(n: number, limit: number | undefined): string | undefined {
  return limit !== undefined && n < limit && Math.round(n) >= limit ? (Math.floor(n * 10) / 10).toFixed(1) : undefined;
}

/** Milliseconds; with the limit it is judged against, never rounded up to that limit. */
export function formatMs(ms: number, limit?: number): string {
  const near = belowLimit(ms, limit);
  if (near !== undefined) return `${near} ms`;
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** A percentage; with the limit it is judged against, never rounded up to that limit. */
export function formatPercent(n: number, limit?: number): string {
  return `${belowLimit(n, limit) ?? Math.round(n)} %`;
}
