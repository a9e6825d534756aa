// GET /metrics: Prometheus text built at scrape time from the heartbeat figures the master already
// holds (no extra IPC). Per-worker series carry a `worker` label, the worker's slot (reused by its
// replacement, so recycling does not grow the series); totals are sums; the request
// counters add what exited workers served (the arbiter keeps it), so they never lose requests.
// The caller settles the view before render(): the collectors only read, and render runs them in
// one turn (promises, no timers), so one scrape never mixes the state before and after an intent.

import { Counter, Gauge, Registry } from 'prom-client';
import { hostSampleStale, type HostSample } from '../host-monitor.js';
import { capacityFromView } from './figures.js';
import { heartbeatAgeMs, keeperStatus, workersReadiness } from './health.js';
import { growingCounter, growingLabelledCounter } from './growing-counter.js';
import { registerSheetsMetrics } from './sheets-metrics.js';
import { ratioOfPercent, secondsOfMs } from './metric-value.js';
import { EXIT_REASONS, USUAL_DEATH_SIGNALS } from '../exit-reasons.js';
import type { AdminView, ChildSnapshot } from './view.js';

const ROLES = ['worker', 'keeper'] as const;

export interface AdminMetrics {
  readonly contentType: string;
  render(): Promise<string>;
}

const STATUSES = ['UNAVAILABLE', 'LOW', 'HEALTHY', 'WARNING', 'FULL'] as const;

/**
 * @param hostIntervalMs the host monitor's sampling interval: a sample older than three of them is
 *   stale (hostSampleStale), and the host gauges then have no sample.
 */
export function createAdminMetrics(view: AdminView, host: () => HostSample | undefined, hostIntervalMs?: number): AdminMetrics {
  const registry = new Registry();
  const registers = [registry];
  const workers = (): ChildSnapshot[] => view.children().filter((c) => c.role === 'worker');

  const perWorker = (name: string, help: string, pick: (c: ChildSnapshot) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['worker', 'role'],
      registers,
      collect() {
        this.reset();
        for (const c of view.children()) {
          const v = pick(c);
          if (v !== undefined) this.set({ worker: String(c.slot), role: c.role }, v);
        }
      },
    });

  // What exited workers served (the master adds each one's last report) plus what the live ones
  // report: it only grows, whichever workers come and go between two scrapes.
  const total = (name: string, help: string, pick: (c: ChildSnapshot) => number, exited: () => number) =>
    growingCounter(name, help, registers, () => exited() + workers().reduce((sum, w) => sum + pick(w), 0));

  new Gauge({ name: 'corral_up', help: 'The master answers (always 1 when scraped).', registers, collect() { this.set(1); } });
  new Gauge({ name: 'corral_generation', help: 'Current worker generation (bumped by each reload).', registers, collect() { this.set(view.generation()); } });
  new Gauge({ name: 'corral_workers_expected', help: 'Worker count the master steers towards.', registers, collect() { this.set(view.expectedWorkers()); } });
  new Gauge({
    name: 'corral_workers',
    help: 'Live workers by state; not_beating: ready but without a heartbeat for over three beats (a blocked loop), counted as health counts them; killing: sent SIGKILL (silent past CORRAL_TIMEOUT, or a drain past its deadline), not yet exited.',
    labelNames: ['state'],
    registers,
    collect() {
      const ws = workers();
      const { ready, notBeating } = workersReadiness(view);
      this.set({ state: 'booting' }, ws.filter((w) => w.state === 'booting').length);
      this.set({ state: 'ready' }, ready);
      this.set({ state: 'not_beating' }, notBeating);
      this.set({ state: 'draining' }, ws.filter((w) => w.state === 'draining').length);
      this.set({ state: 'killing' }, ws.filter((w) => w.state === 'killing').length);
    },
  });
  // The keeper answers every worker's cache misses and journals every write: an alert needs a
  // series that says it is missing, not one that disappears with it.
  new Gauge({
    name: 'corral_keeper_ready',
    help: 'The keeper is ready and beating (1), or not running, booting or not beating (0).',
    registers,
    collect() {
      this.set(keeperStatus(view) === 'ready' ? 1 : 0);
    },
  });
  new Gauge({ name: 'corral_connections_active', help: 'Open client connections, summed over workers.', registers, collect() { this.set(capacityFromView(view).current_connections); } });
  new Gauge({ name: 'corral_connections_idle', help: 'Of the open connections, idle ones (keep-alive between requests, or silent for 1 s), which give their slot to a new client at the cap.', registers, collect() { this.set(capacityFromView(view).idle_connections); } });
  new Gauge({ name: 'corral_connections_max', help: 'Host-wide connection cap.', registers, collect() { this.set(capacityFromView(view).max_connections); } });
  new Gauge({ name: 'corral_connections_busy_peak', help: 'The most busy connections (open, not idle) at once over the workers\' last heartbeat interval, summed over workers: what the capacity status counts.', registers, collect() { this.set(capacityFromView(view).peak_busy_connections); } });
  new Gauge({ name: 'corral_capacity_used_ratio', help: 'Busy connections at their peak over the last heartbeat interval, over the cap (1 or more = FULL: every slot busy, or a connection refused in that interval; over 1 when a reload lowered the cap below the connections held).', registers, collect() { this.set(ratioOfPercent(capacityFromView(view).percent_used)); } });
  new Gauge({
    name: 'corral_capacity_status',
    help: 'Capacity status (1 for the current one): UNAVAILABLE (no worker ready and beating, or stopping: nothing accepts a new connection), else by busy connections over the cap LOW < 50 %, HEALTHY < 80 %, WARNING < 100 %, FULL; at least WARNING when idle connections were closed to admit new ones over the last heartbeat interval, FULL when one was refused.',
    labelNames: ['status'],
    registers,
    collect() {
      const s = capacityFromView(view).status;
      for (const status of STATUSES) this.set({ status }, status === s ? 1 : 0);
    },
  });
  // Exits by role and reason: counts that only grow, so each scrape adds what came since the last.
  growingLabelledCounter(
    'corral_child_exits_total',
    'Children (workers, keeper) that exited since the master started, by reason: reload, shutdown, max_requests, memory and scale_down (asked for), uncaught (an exception), timeout (silent past CORRAL_TIMEOUT, killed), boot_failed (exited before ready), died (any other exit not asked for: a crash, kill -9, the OOM killer), other (asked for with a reason none of these names: not expected, worth a report).',
    ['role', 'reason'],
    registers,
    () => {
      const exits = view.childExits();
      return ROLES.flatMap((role) => EXIT_REASONS.map((reason) => ({ labels: { role, reason }, count: exits[role][reason] ?? 0 })));
    },
  );
  // Reloads by how they ended, every outcome from the first scrape: alert on
  // increase(corral_reloads_total{outcome!="completed"}[10m]) > 0, as the old workers serving on
  // after a reload that did not apply leave every other figure as it was.
  growingLabelledCounter(
    'corral_reloads_total',
    'Reloads that ended since the master started (HUP, systemctl reload, the admin API), by outcome: completed, refused (settings the master would not start with), rolled_back (the new workers could not boot; the old ones serve on), incomplete (they could not boot and no old worker was left to go back to).',
    ['outcome'],
    registers,
    () => Object.entries(view.reloadState().ended).map(([outcome, count]) => ({ labels: { outcome }, count })),
  );
  // The same for the exits a signal nobody in corral sent ended: the usual signals from the first
  // scrape, any other from its first death.
  growingLabelledCounter('corral_child_signal_deaths_total', 'Children that exited of a signal nobody in corral sent (among the died and boot_failed exits of corral_child_exits_total), by signal: SIGKILL is the kernel OOM killer or a kill -9, SIGSEGV, SIGBUS and SIGABRT a crash of Node or of a native addon.', ['role', 'signal'], registers, () => {
    const deaths = view.childSignalDeaths();
    return ROLES.flatMap((role) => [...new Set<string>([...USUAL_DEATH_SIGNALS, ...Object.keys(deaths[role])])].map((signal) => ({ labels: { role, signal }, count: deaths[role][signal] ?? 0 })));
  });
  total('corral_requests_total', 'Requests served by all workers, those that have exited included.', (w) => w.figures?.requestsServed ?? 0, () => view.servedByExited().requests);
  total('corral_request_errors_total', 'Requests answered with a 5xx by all workers, those that have exited included (not the connection cap\'s 503s: corral_connections_refused_total).', (w) => w.figures?.errorsServed ?? 0, () => view.servedByExited().errors);
  // Not in the two above, nor in the access log: a refusal costs no more than it must.
  total('corral_connections_refused_total', 'Connections answered 503 "server full" by the connection cap before any request was read (so in neither corral_requests_total nor corral_request_errors_total), all workers, those that have exited included.', (w) => w.figures?.connectionsRefused ?? 0, () => view.servedByExited().refused);
  total('corral_idle_connections_closed_total', 'Idle keep-alive connections closed at the connection cap to admit new ones, all workers, those that have exited included.', (w) => w.figures?.idleConnectionsClosed ?? 0, () => view.servedByExited().idleClosed);
  perWorker('corral_process_resident_memory_bytes', 'RSS of each child process.', (c) => c.figures?.rssBytes);
  perWorker('corral_process_heap_used_bytes', 'V8 heap used by each child process.', (c) => c.figures?.heapUsedBytes);
  perWorker('corral_event_loop_lag_seconds', 'Mean event-loop delay over the last heartbeat interval.', (c) => (c.figures ? secondsOfMs(c.figures.eventLoopLagMs) : undefined));
  perWorker('corral_worker_connections_active', 'Open connections per worker.', (c) => (c.role === 'worker' ? c.figures?.activeConnections : undefined));
  // A counter, per slot: the worker that takes a slot over starts from 0 again, which rate() and
  // increase() read as a counter reset. As a gauge, rate() on it drew PromQL's warning that it is
  // not a counter, and deriv() turned a replacement's drop to 0 into a large negative rate.
  new Counter({
    name: 'corral_worker_requests_total',
    help: 'Requests served by the worker process in this slot since it started (its replacement starts from 0: a counter reset).',
    labelNames: ['worker', 'role'],
    registers,
    collect() {
      this.reset();
      for (const c of workers()) {
        const served = c.figures?.requestsServed;
        if (served !== undefined) this.inc({ worker: String(c.slot), role: c.role }, served);
      }
    },
  });
  // Over the last minute, from the bucket counts of every beat (request-latency.ts): a scrape up to
  // a minute after the last sees every request. It was the p99 of the last beat alone, so a scrape
  // every 15 s saw one second in fifteen, and slow requests in the others never showed.
  perWorker('corral_worker_latency_p99_seconds', 'Request latency p99 of the worker in this slot over the last 60 s.', (c) => (c.role === 'worker' && c.figures ? secondsOfMs(view.latency().p99Ms(view.now(), c.pid)) : undefined));
  new Gauge({
    name: 'corral_request_latency_p99_seconds',
    help: "Request latency p99 over the last 60 s, every request of every worker (those that exited since included), from the handler's call to the answer's end (not the wait before a busy worker reads it); 0 with none answered.",
    registers,
    collect() {
      this.set(secondsOfMs(view.latency().p99Ms(view.now())));
    },
  });
  // The per-child figures above are those of its last heartbeat: a child whose loop is blocked
  // keeps showing them until the master kills it (CORRAL_TIMEOUT). This says how old they are.
  perWorker('corral_process_heartbeat_age_seconds', 'Seconds since each child last sent a heartbeat (since its fork before the first); over a few seconds its loop is blocked and its other figures are stale.', (c) => secondsOfMs(heartbeatAgeMs(c, view.now())));
  perWorker('corral_process_uptime_seconds', 'Seconds since each child was forked.', (c) => secondsOfMs(view.now() - c.startedAt));
  new Gauge({ name: 'corral_master_resident_memory_bytes', help: 'RSS of the master.', registers, collect() { this.set(process.memoryUsage().rss); } });
  // No sample line until the host monitor's first sample: prom-client starts an unlabelled gauge
  // at 0, which a dashboard or an alert would read as an idle host. An absent series is "unknown".
  // The same once the last sample is stale (measurements failing or hung): the stats say
  // `host.stale` and the history records null, where these went on serving the last figures read
  // as the host's now, for as long as the measurements failed.
  const hostGauge = (name: string, help: string, pick: (h: HostSample) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const h = host();
        const v = h && !(hostIntervalMs !== undefined && hostSampleStale(h, hostIntervalMs)) ? pick(h) : undefined;
        if (v !== undefined) this.set(v);
        else this.remove();
      },
    });
  hostGauge('corral_host_cpu_ratio', 'Host CPU busy share over the last sample (0..1), of the CPU quota under one (cpu_from in the stats); absent until the first sample, and while the last one is stale.', (h) => (h.cpuPercent === null ? undefined : ratioOfPercent(h.cpuPercent)));
  hostGauge('corral_host_memory_ratio', 'Host memory in use (0..1), page cache excluded; absent until the first sample, and while the last one is stale.', (h) => ratioOfPercent(h.ramPercent));
  registerSheetsMetrics(view, registers);

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
  };
}
