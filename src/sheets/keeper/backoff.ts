// Google's truncated exponential backoff: 2^n s plus up to 1 s of jitter, capped at 32 s.
// https://developers.google.com/sheets/api/limits#exponential

export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(32_000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.min(32_000, base + Math.floor(random() * 1000));
}
