// The master's background watch: host CPU/RAM sampling, capacity/host alerts and the served
// totals behind the stats' rates (every second), and the dashboard history (every 5 s). Runs whether or not the admin listener is on; timers are
// unref'd and every step is a cheap read of snapshots the arbiter already holds.
//
// A history sample is recorded as the host's CPU/RAM sample lands, not on a timer of its own: the
// host's CPU share is measured over the interval before its sample, and a history timer firing
// beside the host's read the figure of the interval before that (the measurement is asynchronous
// and landed a few milliseconds later), so the CPU and RAM charts ran one sample (5 s) behind the
// requests, 5xx and p99 charts of the same instant.

import { monotonicNow } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import { createAlerts, type Alerts } from '../alerts.js';
import { createHostMonitor, hostSampleStale, type HostMonitor, type HostMonitorOptions } from '../host-monitor.js';
import { capacityFromView } from './figures.js';
import { createHistory, type History } from './history.js';
import { RateWindow, servedTotalsOf, type Rates } from './rates.js';
import type { AdminView } from './view.js';

export interface Monitoring {
  readonly host: HostMonitor;
  readonly alerts: Alerts;
  readonly history: History;
  /** The served totals of the last seconds, which the stats' rates are taken from. */
  readonly rates: RateWindow;
  /** Runs the alert check now (the timers call it; tests and the arbiter may too); `now` on the monotonic clock, as host samples are timed. */
  checkAlerts(now?: number): void;
  /** Records one history sample now. */
  recordHistory(now?: number): void;
  /** Records the served totals now (the timer calls it every second). */
  recordRates(now?: number): void;
  /** Requests, 5xx answers and refused connections per second over the last 5 s, read now; the caller settles the view first. */
  ratesNow(now?: number): Rates;
  close(): void;
}

export interface MonitoringOptions {
  readonly alertIntervalMs?: number;
  /**
   * The history's interval: a sample is recorded with the first host sample that lands this long
   * (less a fifth, for timer jitter) after the previous one, or without one when none landed in
   * one and a half intervals (the host's measurement hangs).
   */
  readonly historyIntervalMs?: number;
  /** How often the served totals are recorded for the stats' rates. */
  readonly ratesIntervalMs?: number;
  readonly hostIntervalMs?: number;
  /** Samples kept (default 10 minutes' worth at the history interval). */
  readonly historySamples?: number;
  /** Host RAM reader (tests stand in a failing one). */
  readonly readMemory?: HostMonitorOptions['readMemory'];
}

/** A host sample landing this share of the history's interval after its last sample records the next one. */
const HISTORY_DUE_FRACTION = 0.8;
/** With no host sample landing for this share of the interval, the history records without one. */
const HISTORY_OVERDUE_FRACTION = 1.5;

export function startMonitoring(view: AdminView, logger: Logger, options: MonitoringOptions = {}): Monitoring {
  const historyIntervalMs = options.historyIntervalMs ?? 5000;
  // Host CPU/RAM that cannot be read (a /proc hidden by a sandbox, systeminformation failing): the
  // dashboard and the RAM alert keep the last figures, so the log says why they stopped moving.
  const sampling = new RepeatedFailure();
  /** When the last history sample was recorded (monotonic ms). */
  let historyAt = -Infinity;
  const historyDue = (fraction: number) => monotonicNow() - historyAt >= historyIntervalMs * fraction;
  const host = createHostMonitor({
    intervalMs: options.hostIntervalMs ?? 5000,
    ...(options.readMemory ? { readMemory: options.readMemory } : {}),
    onSample: (err) => {
      // A failed measurement records one too: its figures are then the last ones, or unknown once stale.
      if (historyDue(HISTORY_DUE_FRACTION)) monitoring.recordHistory();
      if (err === undefined) {
        sampling.ended((failed) => logger.info({ event: 'host.sample_recovered', failed }, `host CPU/RAM read again after ${failed} failed samples`));
        return;
      }
      sampling.failed((failed, total) =>
        logger.warn({ event: 'host.sample_failed', err, failed, failed_total: total }, 'cannot read host CPU/RAM: the figures shown are the last ones read'),
      );
    },
  });
  const alerts = createAlerts(logger, {
    // Read on every check so a reload that changes the threshold applies at once.
    get ramAlertPercent() {
      return view.settings().CORRAL_RAM_ALERT_PERCENT;
    },
  });
  const history = createHistory({ capacity: options.historySamples ?? Math.ceil(600_000 / historyIntervalMs) });
  const rates = new RateWindow();
  // A step that fails fails at every tick (every second for the alerts): its first failure is
  // said with the error, then at most once a minute with the count, and once when it works again.
  const failures = new Map<string, RepeatedFailure>();
  const safe = (what: string, fn: () => void) => {
    let failure = failures.get(what);
    if (!failure) {
      failure = new RepeatedFailure();
      failures.set(what, failure);
    }
    try {
      fn();
    } catch (err) {
      failure.failed((failed) => logger.error({ event: 'monitor.error', code: 'CORRAL_ERR_MASTER_STEP', what, err, failed }, `monitoring step ${what} failed`));
      return;
    }
    failure.ended((failed) => logger.info({ event: 'monitor.recovered', what, failed }, `monitoring step ${what} works again after ${failed} failures`));
  };
  const monitoring: Monitoring = {
    host,
    alerts,
    history,
    rates,
    // Settled first, as the admin API reads: the connections and the worker count of one state.
    checkAlerts: (now = monotonicNow()) =>
      safe('alerts', () => {
        view.settle();
        // A stale sample neither fires nor clears a host alert: its figures are no longer the
        // host's (a /proc/stat that hung left host.cpu_high judged on a minute-old 97 %).
        const latest = host.latest();
        alerts.observe(capacityFromView(view), latest && !hostSampleStale(latest, host.intervalMs, now) ? latest : undefined);
      }),
    // Given a time (tests), the history takes it on both its clocks; else the wall clock's and the
    // monotonic one's (history.ts).
    recordHistory: (now?: number) =>
      safe('history', () => {
        historyAt = monotonicNow();
        view.settle();
        // A stale sample is no figure of the host's at `now`: recorded as unknown, the charts show
        // a gap while sampling fails rather than a line that carries the last figures across it.
        const latest = host.latest();
        history.record(view, latest && !hostSampleStale(latest, host.intervalMs, now ?? monotonicNow()) ? latest : undefined, now);
      }),
    // Rates on the monotonic clock: a step of the wall clock (NTP) between two records read as
    // seconds that never passed (a rate near 0 for a read after a step forward; none after a step
    // back). Their times are never shown.
    recordRates: (now = monotonicNow()) =>
      safe('rates', () => {
        view.settle();
        rates.observe(servedTotalsOf(view), now);
      }),
    ratesNow: (now = monotonicNow()) => rates.ratesAt(servedTotalsOf(view), now),
    close() {
      clearInterval(alertTimer);
      clearInterval(historyTimer);
      clearInterval(ratesTimer);
      host.close();
    },
  };
  const alertTimer = setInterval(() => monitoring.checkAlerts(), options.alertIntervalMs ?? 1000);
  // Only for a host measurement that never ends: every other sample lands through onSample.
  const historyTimer = setInterval(() => {
    if (historyDue(HISTORY_OVERDUE_FRACTION)) monitoring.recordHistory();
  }, historyIntervalMs / 2);
  const ratesTimer = setInterval(() => monitoring.recordRates(), options.ratesIntervalMs ?? 1000);
  alertTimer.unref();
  historyTimer.unref();
  ratesTimer.unref();
  monitoring.recordHistory();
  monitoring.recordRates();
  return monitoring;
}
