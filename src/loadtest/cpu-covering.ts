// The server's CPU as the report charts it: at each fetch of the admin API, the figure that covers
// that moment. corral's master reports the busy share since its previous measurement (every 5 s),
// so the figure fetched at a moment describes the seconds before it: charted as fetched, the first
// seconds of a run showed the idle host before it (or, under load, a step's first seconds showed
// the step before), while the steps table, which judges each figure by the middle of its span
// (segments.ts), said otherwise.

import type { ServerSample } from './sampler.js';

/**
 * For each sample, the CPU figure of the first measurement taken at or after it (the one whose span
 * holds that moment), or null when none came after it yet (the run's last seconds). Undated figures
 * (a server that does not say when it measured) are charted as fetched.
 */
export function cpuCoveringEach(samples: readonly ServerSample[]): (number | null)[] {
  const measured = samples
    .filter((s) => s.hostDated && s.cpu !== null)
    .map((s) => ({ at: s.hostT, cpu: s.cpu as number }))
    .sort((a, b) => a.at - b.at);
  return samples.map((s) => (s.hostDated ? (measured[firstAtOrAfter(measured, s.t)]?.cpu ?? null) : s.cpu));
}

/**
 * The index of the first of `sorted` measured at or after `t` (its length when none is): a binary
 * search, as a long run has a fetch a second and a measurement every 5 s (a day: 86 400 and 17 280).
 */
export function firstAtOrAfter(sorted: readonly { readonly at: number }[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.at < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
