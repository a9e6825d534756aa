// The CPU quota corral runs under and what the cgroup it limits has used, read asynchronously for
// the host monitor. Under a quota (docker `--cpus=2`, a Kubernetes CPU limit, CPUQuota=) the busy
// share of the affinity CPUs in /proc/stat says little: a container flat out on its 2 CPUs of a
// 32-CPU host read about 6 %, so host.cpu_high never fired and `corral loadtest`'s CPU < 80 %
// passed a saturated server. What the kernel throttles is the cgroup's usage over its quota.
//
// The quota is found as cpu-quota.ts finds it (the same helpers; that module reads synchronously,
// for settings and the CLI, which the master's loop must not). Its usage is that of the cgroup
// whose quota binds: a quota limits the CPU time of its cgroup and every cgroup below it, so when
// a slice's (a pod's) quota binds, the slice's usage is what reaches it, not the service's alone.
// cgroup v2: cpu.stat's usage_usec, which every cgroup has. cgroup v1: cpuacct.usage (ns) of the
// cgroup whose cpu.cfs_quota_us holds (v1 quotas are read on the process's own cgroup, as in
// cpu-quota.ts).

import { keyedCount, readTextAsync as text, unifiedPathOf, upToRoot, v1PathOf } from '../cgroup-files.js';
import { bindingCpuMax, parseCpuMax, v1DirsOf, v2DirsOf, type CpuQuotaSources } from '../cpu-quota.js';

export interface CgroupCpu {
  /** The quota that binds, in CPUs (fractional: 1.5 is 150 ms of CPU time per 100 ms). */
  readonly quotaCpus: number;
  /** CPU time used by the cgroup the quota binds (and those below it) since it was made, in µs. */
  readonly usageUsec: number;
  /** That cgroup's directory: a delta is only taken between two readings of the same one. */
  readonly cgroup: string;
  readonly version: 1 | 2;
}

async function firstWith(dirs: readonly string[], probe: string): Promise<string | undefined> {
  for (const dir of dirs) if ((await text(`${dir}/${probe}`)) !== undefined) return dir;
  return undefined;
}

function count(s: string | undefined): number | undefined {
  const n = s === undefined || s.trim() === '' ? NaN : Number(s.trim());
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** `dir`: the cpu controller's directory of this process's cgroup. */
async function v1(cgroupRoot: string, lines: readonly string[], dir: string): Promise<CgroupCpu | undefined> {
  const quota = Number((await text(`${dir}/cpu.cfs_quota_us`))?.trim());
  const period = Number((await text(`${dir}/cpu.cfs_period_us`))?.trim());
  if (!(quota > 0 && period > 0)) return undefined;
  // cpuacct is co-mounted with cpu on most systems (the quota's directory has cpuacct.usage);
  // where it is mounted apart, its own line of /proc/self/cgroup says where.
  const acctPath = v1PathOf(lines, 'cpuacct');
  const acct = (await firstWith([dir], 'cpuacct.usage')) ?? (acctPath === undefined ? undefined : await firstWith(v1DirsOf(cgroupRoot, 'cpuacct', acctPath), 'cpuacct.usage'));
  const ns = acct === undefined ? undefined : count(await text(`${acct}/cpuacct.usage`));
  return acct === undefined || ns === undefined ? undefined : { quotaCpus: quota / period, usageUsec: ns / 1000, cgroup: acct, version: 1 };
}

async function v2(cgroupRoot: string, path: string): Promise<CgroupCpu | undefined> {
  const leaf = await firstWith(v2DirsOf(cgroupRoot, path), 'cgroup.controllers');
  if (leaf === undefined) return undefined;
  const chain = await Promise.all(upToRoot(leaf, cgroupRoot).map(async (dir) => ({ dir, cpus: parseCpuMax(await text(`${dir}/cpu.max`)) })));
  const binding = bindingCpuMax(chain);
  if (binding === undefined) return undefined;
  const usage = keyedCount(await text(`${binding.dir}/cpu.stat`), 'usage_usec');
  return usage === undefined ? undefined : { quotaCpus: binding.cpus, usageUsec: usage, cgroup: binding.dir, version: 2 };
}

/**
 * The CPU quota that binds this process and its cgroup's CPU usage; undefined where no quota holds
 * or no cgroup is readable (not Linux, no cgroupfs), or the usage cannot be read.
 */
export async function readCgroupCpu(o: CpuQuotaSources = {}): Promise<CgroupCpu | undefined> {
  const { proc = '/proc', cgroupRoot = '/sys/fs/cgroup' } = o;
  const lines = ((await text(`${proc}/${o.pid ?? 'self'}/cgroup`)) ?? '').split('\n');
  const cpuPath = v1PathOf(lines, 'cpu');
  const cpuDir = cpuPath === undefined ? undefined : await firstWith(v1DirsOf(cgroupRoot, 'cpu', cpuPath), 'cpu.cfs_period_us');
  // A v1 cpu controller that is mounted decides, quota or none, as in readCpuQuota.
  if (cpuDir !== undefined) return v1(cgroupRoot, lines, cpuDir);
  const unified = unifiedPathOf(lines);
  return unified === undefined ? undefined : v2(cgroupRoot, unified);
}
