// Host CPU and RAM use, sampled in the background every few seconds and cached, so readers (alerts,
// admin stats, the dashboard) never wait and the master's loop never blocks on a measurement.
//
// RAM comes from systeminformation's mem() (an async read of /proc/meminfo), or from the cgroup's
// limit where one below the machine's RAM holds (a container, MemoryMax=: cgroup-memory.ts). CPU is computed here
// from /proc/stat deltas read asynchronously: systeminformation's currentLoad() runs
// `execSync('cat /proc/stat | grep cpu')` on Linux, a synchronous child process in the one loop
// that must stay responsive when everything else is stuck, and measures every CPU of the machine.
// Here it is the CPUs corral may run on (its affinity, cpu-times.ts), the same ones cpuCount
// counts: under `taskset -c 0` the one CPU corral has, busy, reads 100 %, not half of the machine.
// Elsewhere, os.cpus() times are used. Under a CPU quota below those CPUs (a container's --cpus, a
// Kubernetes CPU limit, CPUQuota=: cgroup-cpu.ts) it is the cgroup's own usage over the quota, and
// cpuCount the quota's CPUs: flat out on a 2-CPU quota of a 32-CPU host read about 6 % of the
// affinity CPUs, and the other tenants of those CPUs counted as corral's load.

import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import type { Systeminformation } from 'systeminformation';
import { monotonicNow } from '../clock.js';
import { cpusUnderQuota, type CpuQuotaSources } from '../cpu-quota.js';
import { readCgroupCpu, type CgroupCpu } from './cgroup-cpu.js';
import { monitoredMemory, readCgroupMemory } from './cgroup-memory.js';
import { readAllowedCpuTimes, type CpuTimes } from './cpu-times.js';

// systeminformation's memory module alone, from its own file: the package's index loads all of it
// (disks, network, Docker, ...), 0.05 s of CPU at each master start against 0.02 s. The package has
// no "exports" map; lib/memory.js is its file as shipped.
const { mem: readMem } = createRequire(import.meta.url)('systeminformation/lib/memory.js') as { mem: () => Promise<Systeminformation.MemData> };

export interface HostSample {
  /**
   * Epoch ms of the sample on the monotonic clock (src/clock.ts): its age (hostSampleStale, the
   * stats' sampled_s_ago) is the time that passed, whatever steps the wall clock took since.
   */
  readonly at: number;
  /** Epoch ms of the sample on the wall clock, as it read then: its time of day (the stats' sampled_at). Absent: `at`. */
  readonly wallAt?: number;
  /**
   * Busy share of the CPUs this process may run on (cpuCount of them) since the previous sample,
   * 0..100, or under a CPU quota (cpuFrom 'cgroup') the share of the quota its cgroup used; null in
   * the first sample, which is only the baseline that share is measured from (a 0 there would read
   * as an idle host), and in the first after the source changed (a quota set or lifted, a new cgroup).
   */
  readonly cpuPercent: number | null;
  /** Where the CPU figures come from: the cgroup's CPU quota (below the affinity CPUs), or the CPUs' busy time in /proc/stat (also when absent). */
  readonly cpuFrom?: 'cgroup' | 'host';
  /** Memory in use (total minus available, so page cache does not count), 0..100. */
  readonly ramPercent: number;
  readonly ramUsedBytes: number;
  readonly ramTotalBytes: number;
  /** Where the RAM figures come from: the cgroup's memory limit (a container, MemoryMax=), or the machine's RAM (also when absent). */
  readonly ramFrom?: 'cgroup' | 'host';
  /** The CPUs of the affinity mask, or under a quota below them the quota's, rounded down, at least 1 (cpu-quota.ts's usableCpus). */
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

/** CPU times of the CPUs this process may run on, and how many those are (else: every CPU's, os.cpus()). */
async function cpuTimes(proc: string | undefined): Promise<{ times: CpuTimes; cpus: number }> {
  const allowed = await readAllowedCpuTimes(proc);
  if (allowed) return { times: allowed.times, cpus: allowed.cpus ?? availableParallelism() };
  // Not Linux: every CPU's times, the count as node sees it.
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { times: { busy, total }, cpus: availableParallelism() };
}

/** The machine's RAM, or the cgroup's limit where one below it holds and the machine has more room (the previous base kept near the crossing). */
async function systemMemory(previous?: 'cgroup' | 'host'): Promise<{ total: number; available: number; from: 'cgroup' | 'host' }> {
  const [mem, cgroup] = await Promise.all([readMem(), readCgroupMemory()]);
  return monitoredMemory({ total: mem.total, available: mem.available }, cgroup, previous);
}

export interface HostMonitorOptions {
  readonly intervalMs?: number;
  /**
   * Total and available RAM (default: the cgroup's limit where one holds, else systeminformation's
   * mem()), given the base of the previous sample's figures (none before the first).
   */
  readonly readMemory?: (previous: 'cgroup' | 'host' | undefined) => Promise<{ total: number; available: number; from?: 'cgroup' | 'host' }>;
  /**
   * Each measurement that failed (the last sample is kept, and ages: its `at` says when it was
   * taken), and each that worked; without it a failure left stale figures with no word of why.
   */
  readonly onSample?: (err: unknown | undefined) => void;
  /** Where /proc and the cgroup filesystem are, for the CPU figures (a test's tree elsewhere). */
  readonly sources?: CpuQuotaSources;
  /** A monotonic clock in ms (default performance.now()): the wall time a cgroup's CPU usage is measured over. */
  readonly monotonicMs?: () => number;
}

export function createHostMonitor(options: HostMonitorOptions = {}): HostMonitor {
  const intervalMs = options.intervalMs ?? 5000;
  const readMemory = options.readMemory ?? systemMemory;
  let last: HostSample | undefined;
  const monotonicMs = options.monotonicMs ?? (() => performance.now());
  let prevCpu: CpuTimes | undefined;
  let prevCount: number | undefined;
  let prevCgroup: (CgroupCpu & { readonly at: number }) | undefined;
  let inFlight: Promise<HostSample | undefined> | undefined;
  let closed = false;

  const measure = async (): Promise<HostSample | undefined> => {
    const [{ times, cpus: affinity }, mem, cgroup] = await Promise.all([
      cpuTimes(options.sources?.proc),
      // The previous base, kept while the two rooms are near each other (cgroup-memory.ts).
      readMemory(last?.ramFrom),
      // Timed as it is read: the wall time its usage is divided by.
      readCgroupCpu(options.sources).then((c) => (c === undefined ? undefined : { ...c, at: monotonicMs() })),
    ]);
    // A quota of as many CPUs as the mask's, or more, throttles nothing: the CPUs' share then.
    const quota = cgroup !== undefined && cgroup.quotaCpus < affinity ? cgroup : undefined;
    const cpuFrom = quota ? 'cgroup' : 'host';
    // Two readings too close for the clock to tick keep the previous share, if of the same source.
    let cpuPercent = last?.cpuFrom === cpuFrom ? last.cpuPercent : null;
    if (quota) {
      const prev = prevCgroup;
      // Only between readings of the same cgroup under the same quota: another cgroup (or one made
      // again under the same name, its counter gone back) starts a new baseline, no figure, never
      // a negative one.
      if (!prev || prev.cgroup !== quota.cgroup || prev.quotaCpus !== quota.quotaCpus || quota.usageUsec < prev.usageUsec) cpuPercent = null;
      else if (quota.at > prev.at) {
        const share = (quota.usageUsec - prev.usageUsec) / (quota.quotaCpus * (quota.at - prev.at) * 1000);
        cpuPercent = round1(Math.min(100, Math.max(0, share * 100)));
      }
    } else if (prevCpu && times.total > prevCpu.total && affinity === prevCount) {
      // A mask changed meanwhile to one of another size (taskset on the running master) makes one
      // delta of other CPUs: that interval's share is skipped, not computed across two sets.
      cpuPercent = round1(Math.min(100, Math.max(0, ((times.busy - prevCpu.busy) / (times.total - prevCpu.total)) * 100)));
    }
    prevCpu = times;
    prevCount = affinity;
    prevCgroup = quota;
    const used = Math.max(0, mem.total - mem.available);
    last = {
      at: monotonicNow(),
      wallAt: Date.now(),
      cpuPercent,
      ramPercent: mem.total > 0 ? round1((used / mem.total) * 100) : 0,
      ramUsedBytes: used,
      ramTotalBytes: mem.total,
      ramFrom: mem.from ?? 'host',
      cpuFrom,
      // The quota's CPUs, as usableCpus counts them for the default CORRAL_WORKERS and `corral recommend`.
      cpuCount: quota ? cpusUnderQuota(affinity, quota.quotaCpus) : affinity,
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
export function hostSampleStale(sample: HostSample, intervalMs: number, now = monotonicNow()): boolean {
  return now - sample.at > 3 * intervalMs;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
