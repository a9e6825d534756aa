// The Sheets figures the admin API shows, read from the keeper's heartbeat `extra` and every
// worker's L1 counts (plus what exited processes counted). Apart from the stats document because
// they read what the Sheets layer reports under its own key names (src/sheets/keeper/*,
// src/sheets/worker-client.ts), not the arbiter's own figures, and because the stats are one
// reader of three: the dashboard history (history.ts) and the /metrics gauges (sheets-metrics.ts)
// take them too.

import type { ChildFigures } from '../../ipc/messages.js';
import type { ExitedSheetsCounts } from '../child-exits.js';
import type { ChildSnapshot } from './view.js';

/** A heartbeat's `extra`: the Sheets layer's own figures, by its own names. */
export type Extra = NonNullable<ChildFigures['extra']>;

function num(extra: Extra | undefined, ...names: string[]): number | undefined {
  if (!extra) return undefined;
  for (const n of names) {
    const v = extra[n];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** Sheets figures as the admin stats show them; null where no process reports one. */
export interface SheetsFigures {
  /** Reads answered from a cache tier: a worker's L1, or the keeper's host tier (fresh or stale). */
  readonly cache_hits: number | null;
  /** Reads that waited for an upstream fetch (the keeper's misses). */
  readonly cache_misses: number | null;
  /**
   * cache_hits / (cache_hits + cache_misses): the share of the app's reads that did not wait for
   * Google. A read an L1 misses goes to the keeper, whose tier then counts it as a hit or a miss,
   * so it is counted once; L1 misses that joined another in-flight read of the same worker are
   * counted by that read. Counted since the master started: processes that exited count as of
   * their last heartbeat, so a reload that replaces the workers leaves the ratio as it was.
   */
  readonly cache_hit_ratio: number | null;
  readonly l1_hits: number | null;
  readonly l1_misses: number | null;
  /** Answers older than SHEET_CACHE_TTL: the keeper's stale hits plus workers' stale fallbacks. */
  readonly stale_answers: number | null;
  /** Every call that reached the Sheets API since the master started (exited keepers' included): retries and read-backs included. */
  readonly upstream_calls_total: number | null;
  readonly upstream_calls_per_minute: number | null;
  readonly quota_reads_left: number | null;
  /** Reads waiting for a token of the read quota: over 0 while the minute's quota is spent. */
  readonly quota_reads_queued: number | null;
  readonly quota_writes_left: number | null;
  readonly journal_backlog: number | null;
  /** Seconds since the oldest row not yet in Google was journaled (0 with none): rows stuck behind a failing append. */
  readonly journal_oldest_seconds: number | null;
  /** Rows journaled for another sheet (SHEET_ID changed while they waited): held, not sent (journal.held_for_other_sheet). */
  readonly journal_held_rows: number | null;
  readonly max_stale_seconds: number | null;
  /** Ranges whose last fetch from Google failed (served stale, or failing): Google is failing when over 0. */
  readonly ranges_failing: number | null;
  /** False from an append the journal could not write (disk full) until one is written again. */
  readonly journal_writable: boolean | null;
  /** Appends refused since the keeper started because the journal could not be written. */
  readonly journal_appends_refused: number | null;
  /** The keeper's link to Redis (REDIS_URL): up, down (this host alone), or null without REDIS_URL. */
  readonly redis_connected: boolean | null;
  /**
   * What Redis refuses the keeper (redis.misconfigured: `login`, `database`, `scripts`, `keys`,
   * `writes`, `command`), null while it refuses nothing and without REDIS_URL: a Redis that
   * answers but refuses is not down, and its fix is in that line, not in redis.unavailable.
   */
  readonly redis_refused: string | null;
  /** Ranges the keeper took from Redis instead of reading Google (fetched by another host). */
  readonly shared_reads: number | null;
}

function sumOver(extras: readonly (Extra | undefined)[], ...names: string[]): number | undefined {
  let total: number | undefined;
  for (const e of extras) total = sumDefined(total, num(e, ...names));
  return total;
}

/**
 * The keeper reports camelCase keys (src/sheets/keeper/*): cacheHits, cacheMisses, cacheStaleHits,
 * upstreamCallsTotal (its upstream meter, the same count as the per-minute figure),
 * upstreamCallsPerMinute, readTokensLeft, readQueue, writeTokensLeft, journalBacklogRows, journalOldestRowSeconds,
 * maxStaleSeconds.
 * Workers report their L1's l1Hits, l1Misses, l1StaleFallbacks and l1StaleHits (src/sheets/worker-client.ts).
 * A second spelling is accepted for some, so a rename does not blank the page.
 */
export function sheetsFigures(extra: Extra | undefined, workerExtras: readonly (Extra | undefined)[] = [], exited?: Readonly<ExitedSheetsCounts>): SheetsFigures {
  /** A live count with what exited processes counted; undefined while neither counted any. */
  const withExited = (live: number | undefined, name: keyof ExitedSheetsCounts) => {
    const gone = exited?.[name] ?? 0;
    return live === undefined && gone === 0 ? undefined : (live ?? 0) + gone;
  };
  const keeperHits = withExited(num(extra, 'cacheHits'), 'cacheHits');
  const misses = withExited(num(extra, 'cacheMisses'), 'cacheMisses');
  const l1Hits = withExited(sumOver(workerExtras, 'l1Hits'), 'l1Hits');
  const hits = sumDefined(keeperHits, l1Hits);
  const perMinute =
    num(extra, 'upstreamPerMinute', 'upstreamCallsPerMinute') ??
    sumDefined(num(extra, 'upstreamReadsPerMinute', 'readsPerMinute'), num(extra, 'upstreamWritesPerMinute', 'writesPerMinute'));
  return {
    cache_hits: hits ?? null,
    cache_misses: misses ?? null,
    cache_hit_ratio: hits !== undefined && misses !== undefined && hits + misses > 0 ? Math.round((hits / (hits + misses)) * 1000) / 1000 : null,
    l1_hits: l1Hits ?? null,
    l1_misses: withExited(sumOver(workerExtras, 'l1Misses'), 'l1Misses') ?? null,
    // Each read answered stale once, as cache_hits counts each read once: the keeper's stale hits
    // (L1 misses), the workers' fallbacks and their L1 hits of a stale copy.
    stale_answers:
      sumDefined(
        withExited(num(extra, 'cacheStaleHits'), 'cacheStaleHits'),
        sumDefined(withExited(sumOver(workerExtras, 'l1StaleFallbacks'), 'l1StaleFallbacks'), withExited(sumOver(workerExtras, 'l1StaleHits'), 'l1StaleHits')),
      ) ?? null,
    // Keepers that exited included, as corral_sheets_upstream_calls_total counts them: since the
    // keeper started, it went back to 0 at a keeper restart while the counter of the same name did not.
    upstream_calls_total: withExited(num(extra, 'upstreamCallsTotal'), 'upstreamCallsTotal') ?? null,
    upstream_calls_per_minute: perMinute ?? null,
    quota_reads_left: num(extra, 'readTokensLeft', 'quotaReadsLeft') ?? null,
    quota_reads_queued: num(extra, 'readQueue') ?? null,
    quota_writes_left: num(extra, 'writeTokensLeft', 'quotaWritesLeft') ?? null,
    journal_backlog: num(extra, 'journalBacklogRows', 'journalBacklog') ?? null,
    journal_oldest_seconds: num(extra, 'journalOldestRowSeconds') ?? null,
    journal_held_rows: num(extra, 'journalHeldRows') ?? null,
    max_stale_seconds: num(extra, 'maxStaleSeconds', 'staleSeconds') ?? null,
    ranges_failing: num(extra, 'rangesFailing') ?? null,
    journal_writable: typeof extra?.journalWritable === 'boolean' ? extra.journalWritable : null,
    journal_appends_refused: num(extra, 'journalAppendsRefused') ?? null,
    redis_connected: typeof extra?.redisConnected === 'boolean' ? extra.redisConnected : null,
    shared_reads: typeof extra?.redisConnected === 'boolean' ? (num(extra, 'sharedReads') ?? null) : null,
    redis_refused: typeof extra?.redisRefused === 'string' ? extra.redisRefused : null,
  };
}

/**
 * The Sheets figures of these children: the keeper's, with every worker's L1 counts added, and
 * the cache counts of those that exited when `exited` is given.
 */
export function sheetsFiguresOf(children: readonly ChildSnapshot[], exited?: Readonly<ExitedSheetsCounts>): SheetsFigures {
  const keeper = children.find((c) => c.role === 'keeper');
  return sheetsFigures(
    keeper?.figures?.extra,
    children.filter((c) => c.role === 'worker').map((c) => c.figures?.extra),
    exited,
  );
}

function sumDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0);
}
