// Read-only views computed from AdminView snapshots: capacity, the stats document, and the
// Sheets figures found in the keeper's heartbeat `extra`. They only read: the caller settles the
// view first (AdminView.settle), so a document is computed from one state.

import { heartbeatIntervalMs, lateAfterMs } from '../../heartbeat-interval.js';
import type { ExitedSheetsCounts } from '../child-exits.js';
import { computeCapacity, type Capacity } from '../capacity.js';
import { hostSampleStale, type HostSample } from '../host-monitor.js';
import { LATENCY_WINDOW_MS, type RequestLatencyReader } from '../request-latency.js';
import type { Rates } from './rates.js';
import type { AdminView, ChildSnapshot } from './view.js';

type Extra = Readonly<Record<string, number | string | boolean | null>>;

/**
 * Same inputs as the arbiter's own capacity(): every worker's connections against the expected
 * count, UNAVAILABLE while health says unavailable (no worker ready and beating) or a stop has begun.
 */
export function capacityFromView(view: AdminView): Capacity {
  const s = view.settings();
  const workers = view.children().filter((c) => c.role === 'worker');
  return computeCapacity({
    activeConnections: workers.map((c) => c.figures?.activeConnections ?? 0),
    idleConnections: workers.map((c) => c.figures?.idleConnections ?? 0),
    peakBusyConnections: workers.map((c) => c.figures?.peakBusyConnections ?? 0),
    refusedInInterval: workers.map((c) => c.figures?.connectionsRefusedInInterval ?? 0),
    idleClosedInInterval: workers.map((c) => c.figures?.idleClosedInInterval ?? 0),
    workers: view.expectedWorkers(),
    workerConnections: view.workerConnections?.() ?? s.CORRAL_WORKER_CONNECTIONS,
    maxConnections: s.CORRAL_MAX_CONNECTIONS,
    serving: workersReadiness(view).ready > 0 && !view.stopping(),
  });
}

/** The backoff holding the next fork, as the admin API answers it; null when none does. */
export function respawnOf(view: AdminView): { in_ms: number; crash_loop: number; boot_failures: number } | null {
  const wait = view.respawnWait();
  return wait ? { in_ms: wait.inMs, crash_loop: wait.crashLoop, boot_failures: wait.bootFailures } : null;
}

/** The crash backoff holding the keeper's next start, as the admin API answers it; null when none does. */
export function keeperRespawnOf(view: AdminView): { in_ms: number; crash_loop: number; failures: number } | null {
  const wait = view.keeperRespawnWait();
  return wait ? { in_ms: wait.inMs, crash_loop: wait.crashLoop, failures: wait.failures } : null;
}

/**
 * Ready workers that still beat, and ready workers that stopped (a blocked loop, a stopped
 * process): those answer nobody until the master replaces them at CORRAL_TIMEOUT, so they are not
 * counted ready. With every worker stuck, health says unavailable rather than ok.
 */
export function workersReadiness(view: AdminView, now = view.now()): { ready: number; notBeating: number } {
  let ready = 0;
  let notBeating = 0;
  for (const c of view.children()) {
    if (c.role !== 'worker' || c.state !== 'ready') continue;
    if (heartbeatLate(c, now)) notBeating++;
    else ready++;
  }
  return { ready, notBeating };
}

/**
 * Where the keeper stands, as health and corral_keeper_ready read it; undefined when this master
 * runs none. Anything but `ready` means the host's reads that miss a worker's own copy fail and
 * no write can be journaled until it is back.
 */
export type KeeperStatus = 'ready' | 'not_running' | 'booting' | 'not_beating' | 'draining' | 'killing';

export function keeperStatus(view: AdminView, now = view.now()): KeeperStatus | undefined {
  const keeper = keeperOf(view);
  if (!keeper) return view.keeperExpected() ? 'not_running' : undefined;
  if (keeper.state !== 'ready') return keeper.state;
  return heartbeatLate(keeper, now) ? 'not_beating' : 'ready';
}

/**
 * Why the journal takes no event, as the ready keeper last reported: `not_writable` (an append it
 * could not write: a full disk, an I/O error) or `full` (SHEETS_JOURNAL_MAX_MB of rows not yet in
 * the sheet); undefined while it takes them, or with no keeper reporting.
 */
export type JournalRefusal = 'not_writable' | 'full';

export function journalRefusal(view: AdminView): JournalRefusal | undefined {
  const extra = keeperOf(view)?.figures?.extra;
  if (extra?.journalWritable === false) return 'not_writable';
  if (extra?.journalFull === true) return 'full';
  return undefined;
}

/**
 * GET /api/admin/health's verdict, which the stats carry too (the dashboard's header showed the
 * capacity status alone, a green LOW while a worker or the keeper had stopped beating):
 * `unavailable` with no worker ready and beating, `degraded` with fewer than expected, the keeper
 * not ready, or the journal refusing events, else `ok`.
 */
export interface HealthVerdict {
  readonly status: 'ok' | 'degraded' | 'unavailable';
  readonly ready: number;
  readonly expected: number;
  readonly notBeating: number;
  /** The keeper's state when it is not ready (absent when ready, or when this master runs none). */
  readonly keeper?: Exclude<KeeperStatus, 'ready'>;
  /** Why the journal refuses events, while the keeper is ready. */
  readonly journal?: JournalRefusal;
}

export function healthOf(view: AdminView, now = view.now()): HealthVerdict {
  const { ready, notBeating } = workersReadiness(view, now);
  const expected = view.expectedWorkers();
  // Without the keeper the workers still answer (cached reads from their own copies), but a
  // read their copies miss fails and no event can be saved: degraded, still 200, since
  // taking the host out of a load balancer would lose the reads that do work.
  const keeper = keeperStatus(view, now);
  const keeperDown = keeper !== undefined && keeper !== 'ready' ? keeper : undefined;
  // The same for a journal that refuses events (a full disk, the backlog cap): every write
  // answers 503 not_saved while reads go on, and health said ok.
  const journal = keeperDown ? undefined : journalRefusal(view);
  const status = ready === 0 ? 'unavailable' : ready < expected || keeperDown || journal ? 'degraded' : 'ok';
  return { status, ready, expected, notBeating, ...(keeperDown ? { keeper: keeperDown } : {}), ...(journal ? { journal } : {}) };
}

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
 * Workers report their L1's l1Hits, l1Misses and l1StaleFallbacks (src/sheets/worker-client.ts).
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
    stale_answers: sumDefined(withExited(num(extra, 'cacheStaleHits'), 'cacheStaleHits'), withExited(sumOver(workerExtras, 'l1StaleFallbacks'), 'l1StaleFallbacks')) ?? null,
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

export function keeperOf(view: AdminView): ChildSnapshot | undefined {
  return view.children().find((c) => c.role === 'keeper');
}

/** Milliseconds since the child's last heartbeat, or since its fork before the first one. */
export function heartbeatAgeMs(c: ChildSnapshot, now: number): number {
  return Math.max(0, now - (c.lastBeatAt ?? c.startedAt));
}

/**
 * Three of its own beats missed: the loop is blocked (or the process stopped) and the figures of
 * its last beat are no longer its state; the master kills it once CORRAL_TIMEOUT passes. Judged
 * by the interval the child was started with, as the master's murder step judges it
 * (stuck-judgement.ts): against the settings now in force, a keeper kept across a reload to
 * CORRAL_TIMEOUT=1 (late after 750 ms) but still beating every second was "not beating" for a
 * quarter of each second. A booting child is not judged by it: its boot has a deadline of its own.
 */
export function heartbeatLate(c: ChildSnapshot, now: number): boolean {
  return heartbeatAgeMs(c, now) > lateAfterMs(c.beatIntervalMs);
}

/** Three beats of a child started with the settings now in force (`heartbeat_late_after_s`). */
export function heartbeatLateAfterMs(timeoutSeconds: number): number {
  return lateAfterMs(heartbeatIntervalMs(timeoutSeconds));
}

function childStats(c: ChildSnapshot, now: number, latency: RequestLatencyReader) {
  const f = c.figures;
  return {
    id: c.id,
    // The `worker` label of its /metrics series (ids grow with every replacement; slots are reused).
    slot: c.slot,
    role: c.role,
    pid: c.pid,
    generation: c.generation,
    state: c.state,
    // A ready worker marked for replacement serves until its successor is ready: `corral status`
    // said "ready" of four workers that were all on their way out after uncaught exceptions.
    retiring: c.retire ?? null,
    uptime_s: Math.max(0, Math.round((now - c.startedAt) / 1000)),
    last_beat_s_ago: c.lastBeatAt === undefined ? null : Math.max(0, Math.round((now - c.lastBeatAt) / 100) / 10),
    heartbeat_late: c.state !== 'booting' && heartbeatLate(c, now),
    // Its own: one started before a reload that changed CORRAL_TIMEOUT keeps its pace.
    heartbeat_late_after_s: lateAfterMs(c.beatIntervalMs) / 1000,
    rss_bytes: f?.rssBytes ?? null,
    heap_used_bytes: f?.heapUsedBytes ?? null,
    heap_total_bytes: f?.heapTotalBytes ?? null,
    event_loop_lag_ms: f ? Math.round(f.eventLoopLagMs * 100) / 100 : null,
    active_connections: f?.activeConnections ?? null,
    idle_connections: f?.idleConnections ?? null,
    requests_served: f?.requestsServed ?? null,
    errors_served: f?.errorsServed ?? null,
    connections_refused: f?.connectionsRefused ?? null,
    idle_connections_closed: f?.idleConnectionsClosed ?? null,
    // Over its last heartbeat interval, as the capacity counts them (capacity.ts).
    peak_busy_connections: f?.peakBusyConnections ?? null,
    refused_last_interval: f?.connectionsRefusedInInterval ?? null,
    idle_closed_last_interval: f?.idleClosedInInterval ?? null,
    latency_p99_ms: f && c.role === 'worker' ? latency.p99Ms(now, c.pid) : f ? Math.round(f.latencyP99Ms * 100) / 100 : null,
  };
}

export interface StatsExtras {
  readonly host: HostSample | undefined;
  /** The host monitor's sampling interval: a sample older than three of them is stale. */
  readonly hostIntervalMs?: number;
  /** Over the last 5 s, read when the stats are asked for (rates.ts); absent: unknown. */
  readonly rates?: Rates;
  readonly upstreamPerMinute: number | null;
  readonly alerts?: unknown;
}

/**
 * Where reloads stand: the generation a reload in progress boots, whether another waits behind it,
 * and how the latest one ended (`seq` counts the reloads ended since the master started).
 * `corral reload --wait` signals a reload, then reads this (GET /api/admin/reload, no token) until
 * a later one has ended and none is left in progress or queued. The message, which may quote the
 * settings, only with a token (the stats' `reload`).
 */
export function reloadOf(view: AdminView, withMessage: boolean) {
  const { inProgress, boundMs, queued, last } = view.reloadState();
  return {
    in_progress_generation: inProgress ?? null,
    // What `corral reload --wait` waits for a reload in progress: it gives up once this passes.
    in_progress_bound_ms: inProgress !== undefined && boundMs !== undefined ? Math.ceil(boundMs) : null,
    queued,
    last: last
      ? { seq: last.seq, outcome: last.outcome, generation: last.generation, code: last.code ?? null, restart_needed: last.restartNeeded, ...(withMessage ? { message: last.message } : {}), at: new Date(last.at).toISOString() }
      : null,
  };
}

/** The `/api/admin/stats` document; `now` is on the arbiter's clock (AdminView.now), as its children's times are. */
export function statsOf(view: AdminView, extras: StatsExtras, now = view.now()) {
  const children = view.children();
  const workers = children.filter((c) => c.role === 'worker').sort((a, b) => a.id - b.id);
  const keeper = children.find((c) => c.role === 'keeper');
  const mem = process.memoryUsage();
  const exited = view.servedByExited();
  const sheets = sheetsFiguresOf(children, exited.sheets);
  const h = extras.host;
  const readiness = workersReadiness(view, now);
  const byLive = (pick: (f: NonNullable<ChildSnapshot['figures']>) => number | undefined) => workers.reduce((a, w) => a + ((w.figures && pick(w.figures)) ?? 0), 0);
  const requestsByLive = byLive((f) => f.requestsServed);
  const errorsByLive = byLive((f) => f.errorsServed);
  return {
    success: true,
    at: new Date().toISOString(),
    master: {
      pid: process.pid,
      generation: view.generation(),
      uptime_s: Math.round((now - view.startedAt) / 1000),
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      // A stop has begun: workers draining, a reload or a worker-count change is ignored.
      stopping: view.stopping(),
    },
    reload: reloadOf(view, true),
    // A sample's `at` is wall-clock time (Date.now()), not the arbiter's clock: its age is read on
    // the same clock. `stale`: measurements keep failing, so these are the last figures read.
    host: h
      ? {
          cpu_percent: h.cpuPercent,
          ram_percent: h.ramPercent,
          ram_used_bytes: h.ramUsedBytes,
          ram_total_bytes: h.ramTotalBytes,
          // 'cgroup': the figures are of the memory limit corral runs under (a container, MemoryMax=), not the machine's.
          ram_from: h.ramFrom ?? 'host',
          cpus: h.cpuCount,
          sampled_at: new Date(h.at).toISOString(),
          sampled_s_ago: Math.max(0, Math.round((Date.now() - h.at) / 100) / 10),
          stale: extras.hostIntervalMs === undefined ? false : hostSampleStale(h, extras.hostIntervalMs),
        }
      : null,
    capacity: capacityFromView(view),
    workers_expected: view.expectedWorkers(),
    workers_ready: readiness.ready,
    workers_not_beating: readiness.notBeating,
    health: healthOf(view, now).status,
    respawn: respawnOf(view),
    // A keeper in a crash loop is restarted after a backoff that grows to 30 s: when it comes back.
    keeper_respawn: keeperRespawnOf(view),
    // Why children exited since the master started (the log's worker.exit lines, counted): a
    // worker dying every few minutes shows here, not only as ids jumping.
    exits: view.childExits(),
    // Of those died or boot_failed, the ones a signal ended, by signal: SIGKILL is the OOM killer
    // (or a kill -9), which `died` alone does not tell from a crash.
    exits_by_signal: view.childSignalDeaths(),
    totals: {
      active_connections: workers.reduce((a, w) => a + (w.figures?.activeConnections ?? 0), 0),
      idle_connections: workers.reduce((a, w) => a + (w.figures?.idleConnections ?? 0), 0),
      // Every count here is since the master started, live workers' and those that exited, as
      // /metrics' corral_*_total counters: a live-only total went back at each replacement and
      // disagreed with corral_requests_total. The live workers' share is named as such.
      requests_served: exited.requests + requestsByLive,
      requests_served_by_live_workers: requestsByLive,
      errors_served: exited.errors + errorsByLive,
      errors_served_by_live_workers: errorsByLive,
      connections_refused: exited.refused + byLive((f) => f.connectionsRefused),
      idle_connections_closed: exited.idleClosed + byLive((f) => f.idleConnectionsClosed),
      requests_per_second: extras.rates?.requests_per_second ?? null,
      errors_per_second: extras.rates?.errors_per_second ?? null,
      connections_refused_per_second: extras.rates?.connections_refused_per_second ?? null,
      rss_bytes: workers.reduce((a, w) => a + (w.figures?.rssBytes ?? 0), 0),
      // Every request answered in the last minute, all workers' (those that exited included).
      latency_p99_ms: view.latency().p99Ms(now),
    },
    // The window of the p99s above (each worker's `latency_p99_ms` too).
    latency_window_s: LATENCY_WINDOW_MS / 1000,
    // For a child started with the settings now in force; each child's own is in its entry.
    heartbeat_late_after_s: heartbeatLateAfterMs(view.settings().CORRAL_TIMEOUT) / 1000,
    workers: workers.map((w) => childStats(w, now, view.latency())),
    keeper: keeper ? { ...childStats(keeper, now, view.latency()), extra: keeper.figures?.extra ?? {} } : null,
    sheets: { ...sheets, upstream_calls_per_minute: sheets.upstream_calls_per_minute ?? extras.upstreamPerMinute },
    alerts: extras.alerts ?? null,
  };
}
