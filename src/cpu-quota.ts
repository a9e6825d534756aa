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

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

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
}

/** The CPU quota of this process's cgroup in CPUs (fractional), or undefined where none holds. */
export function readCpuQuota(o: CpuQuotaSources = {}): number | undefined {
  const { proc = '/proc', cgroupRoot = '/sys/fs/cgroup' } = o;
  const lines = (read(`${proc}/self/cgroup`) ?? '').split('\n');
  const v1 = lines.map((l) => /^\d+:([^:]*):(.*)$/.exec(l)).find((m) => m !== null && (m[1] ?? '').split(',').includes('cpu'));
  if (v1) {
    const path = v1[2] ?? '';
    const dir = [`${cgroupRoot}/cpu${path}`, `${cgroupRoot}/cpu,cpuacct${path}`, `${cgroupRoot}/cpu`, `${cgroupRoot}/cpu,cpuacct`].find((d) => read(`${d}/cpu.cfs_period_us`) !== undefined);
    if (dir !== undefined) {
      const quota = Number(read(`${dir}/cpu.cfs_quota_us`)?.trim());
      const period = Number(read(`${dir}/cpu.cfs_period_us`)?.trim());
      return quota > 0 && period > 0 ? quota / period : undefined;
    }
  }
  const unified = lines.map((l) => /^0::(.*)$/.exec(l)?.[1]).find((p) => p !== undefined);
  if (unified === undefined) return undefined;
  const leaf = [`${cgroupRoot}${unified}`.replace(/\/$/, ''), cgroupRoot].find((d) => read(`${d}/cgroup.controllers`) !== undefined);
  let found: number | undefined;
  // Up to the mount's root: a slice's (a pod's) quota binds as much as the cgroup's own.
  for (let dir = leaf; dir !== undefined && dir.startsWith(cgroupRoot); ) {
    const cpus = parseCpuMax(read(`${dir}/cpu.max`));
    if (cpus !== undefined) found = Math.min(found ?? Infinity, cpus);
    if (dir === cgroupRoot) break;
    const up = dir.slice(0, dir.lastIndexOf('/'));
    dir = up.length >= cgroupRoot.length ? up : undefined;
  }
  return found;
}

/** The CPUs corral may use: the affinity mask's, and no more than the cgroup's quota (at least 1). */
export function usableCpus(affinity: number = availableParallelism(), quota: number | undefined = readCpuQuota()): number {
  return quota === undefined ? affinity : Math.max(1, Math.min(affinity, Math.floor(quota)));
}
