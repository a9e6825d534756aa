// Read-only views computed from AdminView snapshots: capacity, the backoffs holding a fork, where
// reloads stand, and the stats document. They only read: the caller settles the view first
// (AdminView.settle), so a document is computed from one state. Whether the children serve (health,
// heartbeat lateness) is judged in health.ts, and the Sheets figures of the heartbeats' `extra` are
// read in sheets-figures.ts: the stats show both, and other readers take them without the stats.

import { monotonicNow } from '../../clock.js';
import { lateAfterMs } from '../../heartbeat-interval.js';
import { computeCapacity, connectionInputs, type Capacity } from '../capacity.js';
import { hostSampleStale, type HostSample } from '../host-monitor.js';
import { LATENCY_WINDOW_MS, type RequestLatencyReader } from '../request-latency.js';
import type { Rates } from './rates.js';
import { healthOf, heartbeatLate, heartbeatLateAfterMs, workersReadiness } from './health.js';
import { sheetsFiguresOf } from './sheets-figures.js';
import type { AdminView, ChildSnapshot } from './view.js';

/**
 * Same inputs as the arbiter's own capacity(): every worker's connections against the expected
 * count, UNAVAILABLE while health says unavailable (no worker ready and beating) or a stop has begun.
 */
export function capacityFromView(view: AdminView): Capacity {
  const s = view.settings();
  const workers = view.children().filter((c) => c.role === 'worker');
  const now = view.now();
  return computeCapacity({
    // A worker not beating counts the connections it held, not its last interval's figures.
    ...connectionInputs(workers.map((c) => ({ figures: c.figures, late: c.state !== 'booting' && heartbeatLate(c, now) }))),
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
  const health = healthOf(view, now);
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
      starting: view.starting() && !view.stopping(),
    },
    reload: reloadOf(view, true),
    // A sample's `at` is on the monotonic clock (host-monitor.ts): its age is read on the same
    // clock; its time of day is the wall clock's reading then, the same in every answer (corral
    // loadtest counts a measurement once by it). `stale`: measurements keep failing, so these are
    // the last figures read.
    host: h
      ? {
          cpu_percent: h.cpuPercent,
          ram_percent: h.ramPercent,
          ram_used_bytes: h.ramUsedBytes,
          ram_total_bytes: h.ramTotalBytes,
          // 'cgroup': the figures are of the memory limit corral runs under (a container, MemoryMax=), not the machine's.
          ram_from: h.ramFrom ?? 'host',
          // 'cgroup': cpu_percent is the cgroup's usage of its CPU quota (a container's --cpus,
          // CPUQuota=), and cpus the quota's, not the busy share of the machine's CPUs.
          cpu_from: h.cpuFrom ?? 'host',
          cpus: h.cpuCount,
          sampled_at: new Date(h.wallAt ?? h.at).toISOString(),
          sampled_s_ago: Math.max(0, Math.round((monotonicNow() - h.at) / 100) / 10),
          stale: extras.hostIntervalMs === undefined ? false : hostSampleStale(h, extras.hostIntervalMs),
        }
      : null,
    capacity: capacityFromView(view),
    workers_expected: view.expectedWorkers(),
    workers_ready: readiness.ready,
    workers_not_beating: readiness.notBeating,
    health: health.status,
    // Why, as GET /api/admin/health says it: the dashboard's badge named neither a journal at
    // SHEETS_JOURNAL_MAX_MB nor a keeper that exited with no restart pending.
    health_keeper: health.keeper ?? null,
    health_journal: health.journal ?? null,
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
