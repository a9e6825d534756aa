// The memory limit corral runs under when its cgroup sets one: a container's `-m 2g`, systemd's
// MemoryMax= in the unit, a Kubernetes limit. /proc/meminfo (systeminformation's mem()) shows the
// whole machine's RAM there: a container limited to 2 GiB on a 24 GiB host read 9 % used while the
// kernel was about to OOM-kill its workers at 100 % of its own limit, and host.ram_high never fired.
// Where a limit below the machine's RAM holds, the RAM figures are the cgroup's: its limit, and in
// use its charge less the inactive file cache the kernel reclaims before it kills (the working set,
// as `docker stats` and the kubelet count it).
//
// cgroup v2: the process's cgroup is the `0::` line of /proc/self/cgroup; the limit that binds is
// the lowest memory.max of that cgroup and its ancestors (a slice may set one). cgroup v1: the
// memory controller's line; memory.stat's hierarchical_memory_limit is already the lowest of the
// hierarchy. A cgroup namespace shows the process's own cgroup as `/`, and a cgroup mount may show
// the process's cgroup at the mount's root: the path is tried as given, then from the mount's root.

import { join } from 'node:path';
import { keyedCount as statField, readTextAsync as text, unifiedPathOf, upToRoot, v1PathOf } from '../cgroup-files.js';

export interface CgroupMemory {
  /** Bytes the cgroup may use. */
  readonly limitBytes: number;
  /** Bytes in use: the charge less the inactive file cache. */
  readonly usedBytes: number;
  readonly version: 1 | 2;
}

/** A v1 limit at or past this is "no limit" (the kernel writes PAGE_COUNTER_MAX pages in bytes). */
const V1_UNLIMITED = 2 ** 60;

export interface CgroupPaths {
  /** Where cgroupfs is mounted (/sys/fs/cgroup). */
  readonly root: string;
  /** /proc/self/cgroup. */
  readonly selfCgroup: string;
}

const SYSTEM: CgroupPaths = { root: '/sys/fs/cgroup', selfCgroup: '/proc/self/cgroup' };

/** The cgroup's directory: the path as /proc/self/cgroup gives it, else the mount's root (a namespace). */
async function cgroupDir(mount: string, path: string, probe: string): Promise<string | undefined> {
  for (const dir of [join(mount, path), mount]) if ((await text(join(dir, probe))) !== undefined) return dir;
  return undefined;
}

async function v2(paths: CgroupPaths, path: string): Promise<CgroupMemory | undefined> {
  const dir = await cgroupDir(paths.root, path, 'memory.current');
  if (!dir) return undefined;
  let limit = Infinity;
  // Up to the mount's root: an ancestor's memory.max binds as much as the cgroup's own.
  for (const d of upToRoot(dir, paths.root)) {
    const max = (await text(join(d, 'memory.max')))?.trim();
    if (max !== undefined && max !== 'max' && Number.isFinite(Number(max))) limit = Math.min(limit, Number(max));
  }
  const current = Number((await text(join(dir, 'memory.current')))?.trim());
  if (!Number.isFinite(limit) || !Number.isFinite(current)) return undefined;
  const inactive = statField(await text(join(dir, 'memory.stat')), 'inactive_file') ?? 0;
  return { limitBytes: limit, usedBytes: Math.max(0, current - inactive), version: 2 };
}

async function v1(paths: CgroupPaths, path: string): Promise<CgroupMemory | undefined> {
  const dir = await cgroupDir(join(paths.root, 'memory'), path, 'memory.usage_in_bytes');
  if (!dir) return undefined;
  const stat = await text(join(dir, 'memory.stat'));
  const limit = statField(stat, 'hierarchical_memory_limit') ?? Number((await text(join(dir, 'memory.limit_in_bytes')))?.trim());
  const usage = Number((await text(join(dir, 'memory.usage_in_bytes')))?.trim());
  if (!Number.isFinite(limit) || limit >= V1_UNLIMITED || !Number.isFinite(usage)) return undefined;
  const inactive = statField(stat, 'total_inactive_file') ?? 0;
  return { limitBytes: limit, usedBytes: Math.max(0, usage - inactive), version: 1 };
}

/** The memory limit of this process's cgroup and what it uses; undefined where none is set (or no cgroup is readable). */
export async function readCgroupMemory(paths: CgroupPaths = SYSTEM): Promise<CgroupMemory | undefined> {
  const lines = (await text(paths.selfCgroup))?.split('\n') ?? [];
  const unified = unifiedPathOf(lines);
  const memory = v1PathOf(lines, 'memory');
  if (memory !== undefined) {
    const found = await v1(paths, memory);
    if (found) return found;
  }
  return unified !== undefined ? v2(paths, unified) : undefined;
}

/**
 * What the RAM figures are taken from: the cgroup's limit where one below the machine's RAM
 * holds (`from: 'cgroup'`), else the machine's total and available memory.
 */
export function effectiveMemory(host: { total: number; available: number }, cgroup: CgroupMemory | undefined): { total: number; available: number; from: 'cgroup' | 'host' } {
  if (!cgroup || cgroup.limitBytes <= 0 || cgroup.limitBytes >= host.total) return { ...host, from: 'host' };
  return { total: cgroup.limitBytes, available: Math.max(0, cgroup.limitBytes - cgroup.usedBytes), from: 'cgroup' };
}
