// The read tier's figures (read-tier.ts): reads counted by how they were answered, and what its
// ranges' states say (cached, failing, the worst staleness served in the last minute). A file of
// its own: what counts as failing is decided here, in one place, not where the reads are served.

import type { RangeState } from './range-state.js';

/** Reads and fetches since the tier began, counted as they happen. */
export interface ReadCounts {
  fresh: number;
  stale: number;
  miss: number;
  upstream: number;
  upstreamErrors: number;
  shared: number;
  sharedWaits: number;
}

export function newReadCounts(): ReadCounts {
  return { fresh: 0, stale: 0, miss: 0, upstream: 0, upstreamErrors: 0, shared: 0, sharedWaits: 0 };
}

/** The figures of `counts` and of the `rangesCached` states, at `now`. */
export function tierFigures(counts: ReadCounts, states: Iterable<RangeState>, rangesCached: number, now: number): Record<string, number> {
  let maxStale = 0;
  let failing = 0;
  for (const st of states) {
    if (st.lastServedAt > now - 60_000) maxStale = Math.max(maxStale, st.lastServedStale);
    // Its last fetch failed (and a read asked for it since its background retries gave up), or
    // the fetch in flight had an attempt fail and waits to retry: counted from that first
    // failed attempt (SHEETS_TIMEOUT into a hang), not only once all of Google's retries failed.
    if ((st.failingSince !== undefined && !st.unasked) || st.retrying !== undefined) failing++;
  }
  return {
    cacheHits: counts.fresh + counts.stale,
    cacheFreshHits: counts.fresh,
    cacheStaleHits: counts.stale,
    cacheMisses: counts.miss,
    upstreamReads: counts.upstream,
    sharedReads: counts.shared,
    sharedFetchWaits: counts.sharedWaits,
    upstreamReadErrors: counts.upstreamErrors,
    rangesCached,
    rangesFailing: failing,
    maxStaleSeconds: Math.round(maxStale),
  };
}
