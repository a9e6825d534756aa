// The memory limit corral runs under when its cgroup sets one: a container's `-m 2g`, systemd's
// MemoryMax= in the unit, a Kubernetes limit. /proc/meminfo (systeminformation's mem()) shows the
// whole machine's RAM there: a container limited to 2 GiB on a 24 GiB host read 9 % used while the
// kernel was about to OOM-kill its workers at 100 % of its own limit, and host.ram_high never fired.
// Where a limit below the machine's RAM holds, the RAM figures are the cgroup's: its limit, and in
// use its charge less the inactive file cache the kernel reclaims before it kills (the working set,
// as `docker stats` and the kubelet count it).
//
// cgroup v2: the process's cgroup is the `0::` line of /proc/self/cgroup; a memory.max of that
// cgroup or of an ancestor (a slice may set one) binds, each against the charge of its own cgroup,
// which counts everything below it: the one with the least room left is the figure. cgroup v1: the
// memory controller's line, each level's memory.limit_in_bytes against its usage, and memory.stat's
// hierarchical_memory_limit (the lowest of the hierarchy, levels not shown here included). A cgroup namespace shows the process's own cgroup as `/`, and a cgroup mount may show
// the process's cgroup at the mount's root: the path is tried as given, then from the mount's root.

import { join } from 'node:path';
import { keyedCount as statField, readTextAsync as text, unifiedPathOf, upToRoot, v1PathOf } from '../cgroup-files.js';

export interface CgroupMemory {
  /** Bytes the cgroup may use. */
  readonly limitBytes: number;
  /** Bytes in use: the charge less the inactive file cache. */
  readonly usedBytes: number;
  readonly version: 1 | 2;
  /**
   * The lowest limit of the hierarchy, when it is not `limitBytes`: a slice's larger limit, nearly
   * used by its other services, leaves the least room (`limitBytes`), but corral can never hold
   * more than its own lower one. What `corral recommend` sizes on: sized on the slice's 8 GiB, it
   * recommended 4 GiB of workers to a unit with MemoryMax=2G.
   */
  readonly lowestLimitBytes?: number;
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

/** A limit and the charge it is set against, at one level of the hierarchy. */
interface Level {
  readonly limit: number;
  readonly used: number;
}

/**
 * Of the levels whose limit holds, the one with the least room left: the kernel reclaims, then
 * OOM-kills, at whichever level's charge reaches its limit first. A slice's limit is set against
 * the slice's charge, every service in it included: against corral's own charge a slice at its
 * limit read half used.
 */
function tightest(levels: readonly Level[]): Level | undefined {
  let found: Level | undefined;
  for (const l of levels) if (found === undefined || l.limit - l.used < found.limit - found.used) found = l;
  return found;
}

/** The binding level as CgroupMemory, with the lowest limit of all when it is another. */
function memoryOf(levels: readonly Level[], version: 1 | 2): CgroupMemory | undefined {
  const binding = tightest(levels);
  if (!binding) return undefined;
  const lowest = Math.min(...levels.map((l) => l.limit));
  return { limitBytes: binding.limit, usedBytes: binding.used, version, ...(lowest < binding.limit ? { lowestLimitBytes: lowest } : {}) };
}

async function v2(paths: CgroupPaths, path: string): Promise<CgroupMemory | undefined> {
  const dir = await cgroupDir(paths.root, path, 'memory.current');
  if (!dir) return undefined;
  const chargeOf = async (d: string): Promise<number | undefined> => {
    const current = Number((await text(join(d, 'memory.current')))?.trim());
    if (!Number.isFinite(current)) return undefined;
    const inactive = statField(await text(join(d, 'memory.stat')), 'inactive_file') ?? 0;
    return Math.max(0, current - inactive);
  };
  const own = await chargeOf(dir);
  if (own === undefined) return undefined;
  const levels: Level[] = [];
  // Up to the mount's root: an ancestor's memory.max binds as much as the cgroup's own.
  for (const d of upToRoot(dir, paths.root)) {
    const max = (await text(join(d, 'memory.max')))?.trim();
    if (max === undefined || max === 'max' || !Number.isFinite(Number(max))) continue;
    // An ancestor whose charge cannot be read is judged by the cgroup's own, the least it holds.
    levels.push({ limit: Number(max), used: d === dir ? own : ((await chargeOf(d)) ?? own) });
  }
  return memoryOf(levels, 2);
}

async function v1(paths: CgroupPaths, path: string): Promise<CgroupMemory | undefined> {
  const mount = join(paths.root, 'memory');
  const dir = await cgroupDir(mount, path, 'memory.usage_in_bytes');
  if (!dir) return undefined;
  const chargeOf = async (d: string, stat: string | undefined): Promise<number | undefined> => {
    const usage = Number((await text(join(d, 'memory.usage_in_bytes')))?.trim());
    return Number.isFinite(usage) ? Math.max(0, usage - (statField(stat, 'total_inactive_file') ?? 0)) : undefined;
  };
  const stat = await text(join(dir, 'memory.stat'));
  const own = await chargeOf(dir, stat);
  if (own === undefined) return undefined;
  const levels: Level[] = [];
  // Each visible level's own limit against its own (hierarchical) usage.
  for (const d of upToRoot(dir, mount)) {
    const limit = Number((await text(join(d, 'memory.limit_in_bytes')))?.trim());
    if (!Number.isFinite(limit) || limit >= V1_UNLIMITED) continue;
    levels.push({ limit, used: d === dir ? own : ((await chargeOf(d, await text(join(d, 'memory.stat')))) ?? own) });
  }
  // hierarchical_memory_limit is the lowest of the hierarchy, ancestors this namespace does not
  // show included: against the cgroup's own charge where no visible level says more.
  const hierarchical = statField(stat, 'hierarchical_memory_limit');
  if (hierarchical !== undefined && hierarchical < V1_UNLIMITED) levels.push({ limit: hierarchical, used: own });
  return memoryOf(levels, 1);
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

/**
 * How much less room the other figures must leave before the host monitor switches to them, as a
 * share of the cgroup's limit: 5 % of the limit, five points of its figure, the alerts' band.
 * Which room is the smaller is a matter of what the machine's other services hold against what the
 * limit leaves them (corral's own use counts in both), and that moves each sample: chosen afresh
 * each time, a MemoryMax=2G on a 16 GiB host with about 1 GiB left on both read 50 % and 94 % in
 * turn, and host.ram_high and host.ram_normal followed it.
 */
export const MEMORY_BASE_MARGIN = 0.05;

/**
 * The RAM figures the host monitor shows and alerts on: the cgroup's limit as effectiveMemory
 * says, unless the machine itself has less room left than the limit leaves. A MemoryMax= set as a
 * safety cap above what the machine can spare (12 GiB on a 16 GiB host whose database holds most
 * of it) read 17 % "of the cgroup's memory limit" while the machine had 1 GiB left and its OOM
 * killer was about to act: as between nested levels (tightest), whichever has the least room
 * binds. Given the previous sample's base, that one is kept until the other's room is smaller by
 * more than MEMORY_BASE_MARGIN of the limit, so the room shown is never more than that above the
 * least. Not for sizing (`corral recommend`), which sizes on the limit.
 */
export function monitoredMemory(host: { total: number; available: number }, cgroup: CgroupMemory | undefined, previous?: 'cgroup' | 'host'): { total: number; available: number; from: 'cgroup' | 'host' } {
  const m = effectiveMemory(host, cgroup);
  if (m.from === 'host') return m;
  const margin = previous === undefined ? 0 : MEMORY_BASE_MARGIN * m.total;
  const machineBinds = previous === 'host' ? host.available <= m.available + margin : host.available < m.available - margin;
  return machineBinds ? { ...host, from: 'host' } : m;
}
