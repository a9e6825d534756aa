// The counters the kernel keeps of a cgroup's limits being reached, read to say for certain why a
// child died where the signal alone leaves a guess: SIGKILL is the OOM killer or a `kill -9`, and
// SIGABRT at boot is V8 out of heap, a failed assertion, or a thread node could not create under
// the process and thread limit. An audit under systemd's MemoryMax= found the OOM kill of a worker
// said only as that hedge, and a reload rolled back under TasksMax= said as the generic SIGABRT list.
//
// Memory: cgroup v2's memory.events (`oom_kill`: processes of this cgroup and its descendants the
// OOM killer killed, whatever OOM it was; `oom`: times this cgroup's own limit, or a descendant's,
// was reached with nothing left to reclaim), memory.max; cgroup v1's memory.oom_control
// (`oom_kill`, of this cgroup only), memory.failcnt (charges refused at this cgroup's limit),
// memory.limit_in_bytes, memory.max_usage_in_bytes. Pids: pids.events (`max`: forks, threads included, refused: on v1 at the
// forking task's cgroup, on v2 at the limiting cgroup and its ancestors), pids.max. Each is read
// from corral's own cgroup up to the hierarchy's root, as task-limit.ts reads pids.max: a limit on
// a slice (a user's, a pod's) holds corral too. Synchronous reads of a few small cgroupfs files
// (tens of microseconds; a file that cannot be read is undefined, never thrown), done at each
// child's exit, and for pids, from the tick, for each booting child silent since its fork past
// CORRAL_TIMEOUT (DeathCauses.taskRefusals: once a tick for all of them), until it beats or its boot
// timeout.

import { existsSync } from 'node:fs';
import { keyedCount, readText as read, unifiedPathOf, upToRoot, v1PathOf } from '../cgroup-files.js';
import { pidsCgroupDir } from '../task-limit.js';

/** A v1 peak this close to its limit reached it (the kernel charges in pages, and batches of 64 pages). */
const PEAK_SLACK_BYTES = 64 * 4096;

/** A v1 memory limit at or past this is "no limit" (the kernel writes PAGE_COUNTER_MAX pages in bytes). */
const V1_UNLIMITED = 2 ** 60;

export interface CgroupSources {
  /** Where /proc is (its self/cgroup is read) and cgroupfs is mounted: a test's tree elsewhere. */
  readonly proc?: string;
  readonly cgroupRoot?: string;
}

/** One cgroup, corral's own or an ancestor, that sets a memory limit. */
export interface MemoryLimitLevel {
  /** Its path in the hierarchy (`/system.slice/corral.service`). */
  readonly path: string;
  readonly limitBytes: number;
  /** How often it was reached: v2 memory.events `oom`, v1 memory.failcnt (and memory.memsw.failcnt). */
  readonly reached: number;
  /**
   * v1: its peak use (memory.max_usage_in_bytes, never reset) stands at the limit. The failcnts
   * do not count every refusal there: this says the limit was reached at some time since.
   */
  readonly peakAtLimit?: boolean;
}

export interface MemoryCounters {
  readonly version: 1 | 2;
  /** OOM kills of corral's processes: its cgroup's oom_kill. */
  readonly oomKills: number;
  /** Corral's cgroup and its ancestors that set a limit, its own first. */
  readonly limits: readonly MemoryLimitLevel[];
}

/** One cgroup, corral's own or an ancestor, of the pids controller. */
export interface PidsLevel {
  readonly path: string;
  /** Its pids.max; undefined for "max". */
  readonly max: number | undefined;
  /** Forks and threads refused: pids.events `max`. */
  readonly refused: number;
}

export interface PidsCounters {
  /** Corral's cgroup and its ancestors, its own first. */
  readonly levels: readonly PidsLevel[];
}

function numberIn(text: string | undefined): number | undefined {
  const t = text?.trim();
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
}

/**
 * The memory controller's directory of this process: its v1 line's (`N:memory:/path`), else the v2
 * one's (`0::/path`). A cgroup namespace shows the process's cgroup at the mount's root: the path
 * is tried as given, then the mount's root (as cgroup-memory.ts does).
 */
function memoryCgroup(cgroupText: string, root: string): { version: 1 | 2; leaf: string; mount: string } | undefined {
  const lines = cgroupText.split('\n');
  const path = v1PathOf(lines, 'memory');
  if (path !== undefined) {
    const mount = `${root}/memory`;
    const leaf = existsSync(`${mount}${path}/memory.oom_control`) ? `${mount}${path === '/' ? '' : path}` : mount;
    return existsSync(`${leaf}/memory.oom_control`) ? { version: 1, leaf, mount } : undefined;
  }
  const v2 = unifiedPathOf(lines);
  if (v2 === undefined) return undefined;
  const leaf = existsSync(`${root}${v2}/memory.events`) ? `${root}${v2 === '/' ? '' : v2}` : root;
  return existsSync(`${leaf}/memory.events`) ? { version: 2, leaf, mount: root } : undefined;
}

/** The memory counters of this process's cgroup and its ancestors; undefined where none is readable. */
export function readMemoryCounters(o: CgroupSources = {}): MemoryCounters | undefined {
  const { proc = '/proc', cgroupRoot = '/sys/fs/cgroup' } = o;
  const cg = memoryCgroup(read(`${proc}/self/cgroup`) ?? '', cgroupRoot);
  if (!cg) return undefined;
  const kills = keyedCount(read(`${cg.leaf}/${cg.version === 2 ? 'memory.events' : 'memory.oom_control'}`), 'oom_kill');
  if (kills === undefined) return undefined;
  const limits: MemoryLimitLevel[] = [];
  for (const dir of upToRoot(cg.leaf, cg.mount)) {
    const path = dir.slice(cg.mount.length) || '/';
    if (cg.version === 2) {
      const limit = numberIn(read(`${dir}/memory.max`));
      const reached = keyedCount(read(`${dir}/memory.events`), 'oom');
      if (limit !== undefined && reached !== undefined) limits.push({ path, limitBytes: limit, reached });
    } else {
      const limit = numberIn(read(`${dir}/memory.limit_in_bytes`));
      // With a memory+swap limit set (memory.memsw.limit_in_bytes), measured on Linux 6.18: an
      // OOM kill at the limit left both failcnts at 0, while the peak stood at the limit.
      const failed = numberIn(read(`${dir}/memory.failcnt`));
      const reached = failed === undefined ? undefined : failed + (numberIn(read(`${dir}/memory.memsw.failcnt`)) ?? 0);
      const peak = numberIn(read(`${dir}/memory.max_usage_in_bytes`));
      if (limit !== undefined && limit < V1_UNLIMITED && reached !== undefined) limits.push({ path, limitBytes: limit, reached, ...(peak !== undefined ? { peakAtLimit: peak >= limit - PEAK_SLACK_BYTES } : {}) });
    }
  }
  return { version: cg.version, oomKills: kills, limits };
}

/** The pids counters of this process's cgroup and its ancestors; undefined where none is readable. */
export function readPidsCounters(o: CgroupSources = {}): PidsCounters | undefined {
  const { proc = '/proc', cgroupRoot = '/sys/fs/cgroup' } = o;
  const text = read(`${proc}/self/cgroup`) ?? '';
  const leaf = pidsCgroupDir(text, cgroupRoot);
  if (leaf === undefined) return undefined;
  const mount = /^\d+:pids:/m.test(text) ? `${cgroupRoot}/pids` : cgroupRoot;
  const levels: PidsLevel[] = [];
  for (const dir of upToRoot(leaf.endsWith('/') ? leaf.slice(0, -1) : leaf, mount)) {
    const refused = keyedCount(read(`${dir}/pids.events`), 'max');
    if (refused === undefined) continue;
    levels.push({ path: dir.slice(mount.length) || '/', max: numberIn(read(`${dir}/pids.max`)), refused });
  }
  return levels.length === 0 ? undefined : { levels };
}
