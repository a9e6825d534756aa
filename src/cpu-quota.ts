// The CPUs corral may use, counting its cgroup's CPU quota: a container's `--cpus=2`, a Kubernetes
// CPU limit, systemd's CPUQuota=. Node 20's os.availableParallelism() (libuv 1.46) counts only the
// affinity mask, so in a container limited to 2 CPUs on a 32-CPU host it said 32, and the default
// CORRAL_WORKERS (CPU x 4) forked 128 workers for 2 CPUs (about 8 GB of RSS at 60 MB each, under a
// memory limit sized for a few). libuv reads the quota from 1.49 (Node 22); this reads it the same
// way on every Node: the quota over its period, rounded down, at least 1.
//
// cgroup v2: the `0::` line of /proc/self/cgroup; the lowest cpu.max of that cgroup and its
// ancestors binds. cgroup v1: the cpu controller's cpu.cfs_quota_us over cpu.cfs_period_us (-1:
// none). A cgroup namespace shows the process's own cgroup as `/`: the path is tried as given,
// then from the mount's root, as cgroup-memory.ts does.

import { availableParallelism } from 'node:os';
import { readText as read, unifiedPathOf, upToRoot, v1PathOf } from './cgroup-files.js';

/** "max 100000" or "200000 100000" (cpu.max): CPUs, fractional; undefined for no quota. */
export function parseCpuMax(text: string | undefined): number | undefined {
  const m = text === undefined ? null : /^(\d+)\s+(\d+)\s*$/.exec(text.trim());
  if (!m) return undefined;
  const quota = Number(m[1]);
  const period = Number(m[2]);
  return quota > 0 && period > 0 ? quota / period : undefined;
}

export interface CpuQuotaSources {
  /** Where /proc and the cgroup filesystem are (a test's tree elsewhere). */
  readonly proc?: string;
  readonly cgroupRoot?: string;
  /** Whose cgroup: a process's (`corral recommend` reads the running master's), else this one's. */
  readonly pid?: number;
}

// The directories and the binding quota below are shared with the master's host monitor
// (master/cgroup-cpu.ts), which reads the same files asynchronously: its loop must not block on a
// read. Where /proc/self/cgroup puts a cgroup, and its ancestors: cgroup-files.ts.

/**
 * Where a v1 controller's directory of `path` may be, in order: under its own mount or the
 * co-mounted cpu,cpuacct one, as given, then at the mount's root (a cgroup namespace).
 */
export function v1DirsOf(cgroupRoot: string, controller: 'cpu' | 'cpuacct', path: string): string[] {
  const mounts = [`${cgroupRoot}/${controller}`, `${cgroupRoot}/cpu,cpuacct`];
  return [...mounts.map((m) => `${m}${path}`), ...mounts];
}

/** Where the v2 cgroup of `path` may be: as given, then the mount's root (a cgroup namespace). */
export function v2DirsOf(cgroupRoot: string, path: string): string[] {
  return [`${cgroupRoot}${path}`.replace(/\/$/, ''), cgroupRoot];
}

/**
 * Of the cgroup and its ancestors' cpu.max (nearest first), the one that binds: the lowest quota.
 * Between equal quotas the one higher up, whose usage counts its children's as well: it reaches
 * the limit first.
 */
export function bindingCpuMax<T extends { readonly cpus: number | undefined }>(chain: readonly T[]): (T & { readonly cpus: number }) | undefined {
  let found: (T & { readonly cpus: number }) | undefined;
  for (const c of chain) if (c.cpus !== undefined && (found === undefined || c.cpus <= found.cpus)) found = c as T & { readonly cpus: number };
  return found;
}

/** The CPU quota of this process's cgroup in CPUs (fractional), or undefined where none holds. */
export function readCpuQuota(o: CpuQuotaSources = {}): number | undefined {
  const { proc = '/proc', cgroupRoot = '/sys/fs/cgroup' } = o;
  const lines = (read(`${proc}/${o.pid ?? 'self'}/cgroup`) ?? '').split('\n');
  const v1 = v1PathOf(lines, 'cpu');
  if (v1 !== undefined) {
    const dir = v1DirsOf(cgroupRoot, 'cpu', v1).find((d) => read(`${d}/cpu.cfs_period_us`) !== undefined);
    if (dir !== undefined) {
      const quota = Number(read(`${dir}/cpu.cfs_quota_us`)?.trim());
      const period = Number(read(`${dir}/cpu.cfs_period_us`)?.trim());
      return quota > 0 && period > 0 ? quota / period : undefined;
    }
  }
  const unified = unifiedPathOf(lines);
  if (unified === undefined) return undefined;
  const leaf = v2DirsOf(cgroupRoot, unified).find((d) => read(`${d}/cgroup.controllers`) !== undefined);
  // Up to the mount's root: a slice's (a pod's) quota binds as much as the cgroup's own.
  const chain = leaf === undefined ? [] : upToRoot(leaf, cgroupRoot).map((dir) => ({ cpus: parseCpuMax(read(`${dir}/cpu.max`)) }));
  return bindingCpuMax(chain)?.cpus;
}

/** The CPUs of an affinity mask of `affinity` CPUs under a quota of `quota` CPUs: rounded down, at least 1. */
export function cpusUnderQuota(affinity: number, quota: number | undefined): number {
  return quota === undefined ? affinity : Math.max(1, Math.min(affinity, Math.floor(quota)));
}

/** The CPUs corral may use: the affinity mask's, and no more than the cgroup's quota (at least 1). */
export function usableCpus(affinity: number = availableParallelism(), quota: number | undefined = readCpuQuota()): number {
  return cpusUnderQuota(affinity, quota);
}
