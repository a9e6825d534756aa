// Host CPU and RAM use, sampled in the background every few seconds and cached, so readers (alerts,
// admin stats, the dashboard) never wait and the master's loop never blocks on a measurement.
//
// RAM comes from systeminformation's mem() (an async read of /proc/meminfo). CPU is computed here
// from /proc/stat deltas read asynchronously: systeminformation's currentLoad() runs
// `execSync('cat /proc/stat | grep cpu')` on Linux, a synchronous child process in the one loop
// that must stay responsive when everything else is stuck. Elsewhere, os.cpus() times are used.

import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import si from 'systeminformation';

export interface HostSample {
  /** Epoch ms of the sample. */
  readonly at: number;
  /**
   * Busy share of all CPUs since the previous sample, 0..100; null in the first sample, which is
   * only the baseline that share is measured from (a 0 there would read as an idle host).
   */
  readonly cpuPercent: number | null;
  /** Memory in use (total minus available, so page cache does not count), 0..100. */
  readonly ramPercent: number;
  readonly ramUsedBytes: number;
  readonly ramTotalBytes: number;
  readonly cpuCount: number;
}

export interface HostMonitor {
  /** Milliseconds between two samples. */
  readonly intervalMs: number;
  /** The newest sample, or undefined until the first one is taken (within one interval). */
  latest(): HostSample | undefined;
  /** Takes a sample now (also what the timer calls); concurrent calls share one measurement. */
  sample(): Promise<HostSample | undefined>;
  close(): void;
}

interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

async function cpuTimes(): Promise<CpuTimes> {
  try {
    const text = await readFile('/proc/stat', 'utf8');
    const line = text.split('\n', 1)[0] ?? '';
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length === 8 && f.every(Number.isFinite)) {
      const total = f.reduce((a, b) => a + b, 0);
      const idle = (f[3] ?? 0) + (f[4] ?? 0);
      return { busy: total - idle, total };
    }
  } catch {
    // Not Linux: fall through.
  }
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

export interface HostMonitorOptions {
  readonly intervalMs?: number;
  /** Total and available RAM (default: systeminformation's mem()). */
  readonly readMemory?: () => Promise<{ total: number; available: number }>;
  /**
   * Each measurement that failed (the last sample is kept, and ages: its `at` says when it was
   * taken), and each that worked; without it a failure left stale figures with no word of why.
   */
  readonly onSample?: (err: unknown | undefined) => void;
}

export function createHostMonitor(options: HostMonitorOptions = {}): HostMonitor {
  const intervalMs = options.intervalMs ?? 5000;
  const readMemory = options.readMemory ?? (() => si.mem());
  let last: HostSample | undefined;
  let prevCpu: CpuTimes | undefined;
  let inFlight: Promise<HostSample | undefined> | undefined;
  let closed = false;

  const measure = async (): Promise<HostSample | undefined> => {
    const [times, mem] = await Promise.all([cpuTimes(), readMemory()]);
    // Two readings too close for the clock to tick keep the previous share.
    let cpuPercent = last?.cpuPercent ?? null;
    if (prevCpu && times.total > prevCpu.total) {
      cpuPercent = round1(Math.min(100, Math.max(0, ((times.busy - prevCpu.busy) / (times.total - prevCpu.total)) * 100)));
    }
    prevCpu = times;
    const used = Math.max(0, mem.total - mem.available);
    last = {
      at: Date.now(),
      cpuPercent,
      ramPercent: mem.total > 0 ? round1((used / mem.total) * 100) : 0,
      ramUsedBytes: used,
      ramTotalBytes: mem.total,
      cpuCount: availableParallelism(),
    };
    return last;
  };

  const monitor: HostMonitor = {
    intervalMs,
    latest: () => last,
    sample() {
      if (closed) return Promise.resolve(last);
      inFlight ??= measure()
        .then(
          (sample) => {
            options.onSample?.(undefined);
            return sample;
          },
          (err: unknown) => {
            options.onSample?.(err);
            return last;
          },
        )
        .finally(() => {
          inFlight = undefined;
        });
      return inFlight;
    },
    close() {
      closed = true;
      clearInterval(timer);
    },
  };
  const timer = setInterval(() => void monitor.sample(), intervalMs);
  timer.unref();
  // First CPU figure needs two readings: take a baseline now, a real sample shortly after.
  void monitor.sample();
  setTimeout(() => void monitor.sample(), Math.min(1000, intervalMs)).unref();
  return monitor;
}

/**
 * A sample older than three intervals: that many measurements in a row failed (or never ran), and
 * its figures are no longer the host's. Three, not one, so a measurement that is merely late (a
 * busy master) is not called stale.
 */
export function hostSampleStale(sample: HostSample, intervalMs: number, now = Date.now()): boolean {
  return now - sample.at > 3 * intervalMs;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
