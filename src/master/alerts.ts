// Capacity and host alerts in the log, once per crossing. A level fires when the figure reaches it
// and re-arms only after the figure falls a band below it (hysteresis), so a value hovering at the
// threshold gives one line, not one per tick. A capacity level also re-arms only once the figure
// has stayed under that band for CAPACITY_RECOVER_MS: under steady overload the refusals fall in
// some heartbeat intervals and not in others, so the figure swings between 100 % and the busy
// share from one beat to the next, and every swing gave three alerts (two of them errors) and
// three recoveries: 57 alert lines in 40 s of one overloaded host.

import type { Logger } from '../log/logger.js';
import { counted } from '../counted.js';
import { busyConnections, type Capacity } from './capacity.js';
import type { HostSample } from './host-monitor.js';
import { bytesText } from '../bytes-text.js';

/** The seeds' alert levels: 80 % warn, 95 % urgent, 100 % full. */
export const CAPACITY_LEVELS = [80, 95, 100] as const;
export const CPU_ALERT_PERCENT = 80;
/** How far below a level a figure must fall before that level can fire again. */
export const HYSTERESIS_POINTS = 5;
/** How long a capacity figure must stay under a level's band before that level is recovered. */
export const CAPACITY_RECOVER_MS = 15_000;

export interface AlertOptions {
  readonly ramAlertPercent: number;
  /** CAPACITY_RECOVER_MS unless given (tests of the bands alone give 0); host.cpu_normal waits as long. */
  readonly recoverAfterMs?: number;
  /** Monotonic milliseconds (performance.now by default). */
  readonly now?: () => number;
}

export interface Alerts {
  /** Call every tick (or every sample); logs only on crossings. */
  observe(capacity: Capacity, host: HostSample | undefined): void;
  /** Levels currently fired, for the stats page. */
  active(): { capacity: number[]; cpu: boolean; ram: boolean };
}

export function createAlerts(logger: Logger, options: AlertOptions): Alerts {
  const fired = new Set<number>();
  // Since when each fired level's figure has been under its band, while it is.
  const underSince = new Map<number, number>();
  const recoverAfterMs = options.recoverAfterMs ?? CAPACITY_RECOVER_MS;
  const now = options.now ?? (() => performance.now());
  let cpuHigh = false;
  // Since when a fired host.cpu_high's figure has been under its band, while it is.
  let cpuUnderSince: number | undefined;
  let ramHigh = false;
  // The base (cgroup limit or machine) a fired host.ram_high's figure was last over its band on,
  // and since when the figure has been under the band on another base, while it is.
  let ramHighFrom: 'cgroup' | 'host' | undefined;
  let ramUnderSince: number | undefined;

  const observeCapacity = (c: Capacity) => {
    const p = c.percent_used;
    // Busy connections, as the status counts them: idle ones give way to new clients. A refusal
    // makes the status FULL whatever the busy count, and fires the 100 % level like any FULL.
    const busy = busyConnections(c);
    // Thresholds are judged on the exact ratio: percent_used is rounded, and 94.96 % has not passed 95.
    const share = Math.min(c.max_connections > 0 ? (busy / c.max_connections) * 100 : 100, 99.999);
    // WARNING with a lower share: idle connections were closed to admit new clients (capacity.ts).
    const exact = c.status === 'FULL' ? 100 : c.status === 'WARNING' ? Math.max(share, 80) : share;
    for (const level of CAPACITY_LEVELS) {
      if (!fired.has(level) && exact >= level) {
        fired.add(level);
        const fields = { event: 'capacity.alert', threshold: level, percent_used: p, current_connections: c.current_connections, idle_connections: c.idle_connections, peak_busy_connections: c.peak_busy_connections, refused_last_interval: c.refused_last_interval, idle_closed_last_interval: c.idle_closed_last_interval, max_connections: c.max_connections, status: c.status };
        const refusing = `${c.refused_last_interval > 0 ? `, ${c.refused_last_interval} refused` : ''}${c.idle_closed_last_interval > 0 ? `, ${c.idle_closed_last_interval} idle closed to admit new ones` : ''}`;
        // Reached by idle closures, not by the busy share: "at 5 % ... passed 80 %" read as a bug.
        const byClosures = share < level && c.status !== 'FULL' && c.refused_last_interval === 0 && c.idle_closed_last_interval > 0;
        const msg = byClosures
          ? `capacity tight: every slot was held, and ${counted(c.idle_closed_last_interval, 'idle connection')} closed to admit new ones (${busy}/${c.max_connections} busy, ${p}%, ${c.idle_connections} idle): counted as ${level}%`
          : `capacity at ${p}% (${busy}/${c.max_connections} busy, ${c.idle_connections} idle${refusing}): passed ${level}%`;
        if (level >= 100) logger.error({ ...fields, code: 'CORRAL_ERR_CAPACITY' }, `${msg}; new connections are refused`);
        else if (level >= 95) logger.error({ ...fields, code: 'CORRAL_ERR_CAPACITY' }, msg);
        else logger.warn(fields, msg);
      } else if (fired.has(level) && exact < level - HYSTERESIS_POINTS) {
        const t = now();
        const since = underSince.get(level) ?? t;
        underSince.set(level, since);
        if (t - since < recoverAfterMs) continue;
        fired.delete(level);
        underSince.delete(level);
        const underForS = Math.round((t - since) / 1000);
        const held = recoverAfterMs > 0 ? ` for ${underForS} s` : '';
        logger.info(
          { event: 'capacity.recovered', threshold: level, percent_used: p, current_connections: c.current_connections, idle_connections: c.idle_connections, peak_busy_connections: c.peak_busy_connections, refused_last_interval: c.refused_last_interval, idle_closed_last_interval: c.idle_closed_last_interval, max_connections: c.max_connections, status: c.status, under_for_s: underForS },
          `capacity back under ${level}% (${p}%)${held}`,
        );
      } else {
        // At or over the band again (or not fired): the time under it starts again from the next dip.
        underSince.delete(level);
      }
    }
  };

  /** The CPU figure is under its band: since when, and whether long enough to recover. */
  const heldUnder = (): boolean => {
    const t = now();
    cpuUnderSince ??= t;
    return t - cpuUnderSince >= recoverAfterMs;
  };

  /** The RAM figure is under its band on another base than it fired on: since when, and whether long enough to recover. */
  const ramHeldUnder = (): boolean => {
    const t = now();
    ramUnderSince ??= t;
    return t - ramUnderSince >= recoverAfterMs;
  };

  const observeHost = (h: HostSample) => {
    // Under a CPU quota the share is the quota's (cgroup-cpu.ts): "host CPU at 95 %" would send an
    // operator to `top`, which shows the machine's CPUs mostly idle.
    const cpuFrom = h.cpuFrom ?? 'host';
    const cpuOf = (p: number) => (cpuFrom === 'cgroup' ? `CPU at ${p}% of the cgroup's CPU quota (CPUQuota= of corral's unit or of a slice above it, or its container's CPU limit), not of the machine's CPUs` : `host CPU at ${p}%`);
    if (h.cpuPercent === null) {
      // The baseline sample: no CPU share yet.
    } else if (!cpuHigh && h.cpuPercent > CPU_ALERT_PERCENT) {
      cpuHigh = true;
      cpuUnderSince = undefined;
      logger.warn({ event: 'host.cpu_high', cpu_percent: h.cpuPercent, threshold: CPU_ALERT_PERCENT, cpu_from: cpuFrom, cpus: h.cpuCount }, `${cpuOf(h.cpuPercent)} (over ${CPU_ALERT_PERCENT}%)`);
    } else if (cpuHigh && h.cpuPercent >= CPU_ALERT_PERCENT - HYSTERESIS_POINTS * 2) {
      cpuUnderSince = undefined;
    } else if (cpuHigh && heldUnder()) {
      // Held under the band as a capacity level is: a bursty load (every worker rebuilding a
      // large sheet at each refresh) made every other 5 s sample high, and each swing was a
      // host.cpu_high and a host.cpu_normal, twelve lines a minute.
      cpuHigh = false;
      cpuUnderSince = undefined;
      logger.info({ event: 'host.cpu_normal', cpu_percent: h.cpuPercent, threshold: CPU_ALERT_PERCENT, cpu_from: cpuFrom }, cpuFrom === 'cgroup' ? `CPU back to ${h.cpuPercent}% of the cgroup's CPU quota` : `host CPU back to ${h.cpuPercent}%`);
    }
    const ramLimit = options.ramAlertPercent;
    // Under a cgroup memory limit the figures are the limit's (cgroup-memory.ts): "host RAM at
    // 88.8 %" sent an operator to `free`, which showed the machine's gigabytes mostly free.
    const ramFrom = h.ramFrom ?? 'host';
    const ofWhat = (p: number) => (ramFrom === 'cgroup' ? `RAM at ${p}% of the cgroup's memory limit (${bytesText(h.ramTotalBytes)}: MemoryMax= of corral's unit or of a slice above it, or its container's limit), not of the machine's RAM` : `host RAM at ${p}%`);
    if (!ramHigh && h.ramPercent > ramLimit) {
      ramHigh = true;
      ramHighFrom = ramFrom;
      ramUnderSince = undefined;
      logger.warn({ event: 'host.ram_high', ram_percent: h.ramPercent, threshold: ramLimit, ram_used_bytes: h.ramUsedBytes, ram_total_bytes: h.ramTotalBytes, ram_from: ramFrom }, `${ofWhat(h.ramPercent)} (over CORRAL_RAM_ALERT_PERCENT=${ramLimit}%)`);
    } else if (ramHigh && h.ramPercent >= ramLimit - HYSTERESIS_POINTS) {
      ramHighFrom = ramFrom;
      ramUnderSince = undefined;
    } else if (ramHigh && (ramFrom === ramHighFrom || ramHeldUnder())) {
      // Under the band on the base it was over on: at once. On another base, only once held under
      // the band as a capacity level is: the two bases read far apart for the same room (50 % of a
      // 2 GiB limit, 94 % of a 16 GiB machine), and a base changing back and forth near their
      // crossing was a host.ram_high and a host.ram_normal at each change, with no change in memory.
      ramHigh = false;
      ramHighFrom = undefined;
      ramUnderSince = undefined;
      logger.info({ event: 'host.ram_normal', ram_percent: h.ramPercent, threshold: ramLimit, ram_from: ramFrom }, ramFrom === 'cgroup' ? `RAM back to ${h.ramPercent}% of the cgroup's memory limit` : `host RAM back to ${h.ramPercent}%`);
    }
  };

  return {
    observe(capacity, host) {
      observeCapacity(capacity);
      if (host) observeHost(host);
    },
    active: () => ({ capacity: [...fired].sort((a, b) => a - b), cpu: cpuHigh, ram: ramHigh }),
  };
}
