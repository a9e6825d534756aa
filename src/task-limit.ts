// The process and thread limit corral runs under: a cgroup's pids.max (systemd's TasksMax=, a
// container's --pids-limit) and RLIMIT_NPROC (ulimit -u, for a user other than root). Every node
// process is about a dozen tasks (its main thread, libuv's four, V8's and the inspector's), and a
// fork or thread past the limit fails: the fork with EAGAIN (a worker that cannot boot), a thread
// with an abort or a process that hangs while booting. Read from /proc (Linux); undefined where it
// cannot be said.

import { readText as read, unifiedPathOf, upToRoot } from './cgroup-files.js';

/** Tasks (threads) of one corral process at rest: measured 12 for a worker and the keeper (Node 20). */
export const TASKS_PER_PROCESS = 12;

export interface TaskLimit {
  /** The smaller of the limits found, and what sets it. */
  readonly max: number;
  readonly source: 'pids.max' | 'RLIMIT_NPROC';
  /** Tasks already counted against it (the cgroup's pids.current), when known. */
  readonly current: number | undefined;
  /**
   * pids.max: the path, in its hierarchy, of the cgroup that sets it (corral's own,
   * `/system.slice/corral.service`, or a slice above it), when known.
   */
  readonly cgroup?: string;
  /**
   * When that cgroup is a slice above corral's own: the tasks of its other processes (the slice's
   * pids.current less corral's cgroup's), counted against the same limit. Every unit of
   * system.slice counts against a TasksMax= set on it, so corral's room there is the rest.
   */
  readonly others?: number;
}

/** The cgroup v2 (`0::/path`) or v1 pids controller (`N:pids:/path`) path of /proc/self/cgroup. */
export function pidsCgroupDir(cgroupText: string, root = '/sys/fs/cgroup'): string | undefined {
  const lines = cgroupText.split('\n');
  const v1 = lines.map((l) => /^\d+:pids:(.*)$/.exec(l)?.[1]).find((p) => p !== undefined);
  if (v1 !== undefined) return `${root}/pids${v1}`;
  const v2 = unifiedPathOf(lines);
  return v2 === undefined ? undefined : `${root}${v2}`;
}

/** "Max processes" of /proc/PID/limits (the soft limit); undefined when unlimited or absent. */
export function parseNprocLimit(limitsText: string): number | undefined {
  const soft = /^Max processes\s+(\S+)/m.exec(limitsText)?.[1];
  return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
}

export interface TaskLimitSources {
  /** Root is not held to RLIMIT_NPROC. */
  readonly isRoot?: boolean;
  /** Where /proc and the cgroup filesystem are (a test's tree elsewhere). */
  readonly proc?: string;
  readonly cgroupRoot?: string;
  /** Whose limit: a process's (`corral recommend` reads the running master's), else this one's. */
  readonly pid?: number;
}

/** The limit this process runs under, as /proc and the cgroup filesystem say it; undefined if none. */
export function readTaskLimit(o: TaskLimitSources = {}): TaskLimit | undefined {
  const { isRoot = process.getuid?.() === 0, proc = '/proc', cgroupRoot = '/sys/fs/cgroup' } = o;
  const found: TaskLimit[] = [];
  const who = o.pid ?? 'self';
  const cgroupText = read(`${proc}/${who}/cgroup`) ?? '';
  // Where the pids hierarchy is mounted: the paths of its cgroups are relative to it.
  const mount = /^\d+:pids:/m.test(cgroupText) ? `${cgroupRoot}/pids` : cgroupRoot;
  const counted = (dir: string): number | undefined => {
    const text = read(`${dir}/pids.current`)?.trim();
    return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
  };
  const leaf = pidsCgroupDir(cgroupText, cgroupRoot);
  const own = leaf === undefined ? undefined : counted(leaf);
  // The leaf's and every parent's: a limit on a slice (a user's, a pod's) holds the leaf too.
  for (const dir of leaf === undefined ? [] : upToRoot(leaf, cgroupRoot)) {
    const max = read(`${dir}/pids.max`)?.trim();
    if (max === undefined || !/^\d+$/.test(max)) continue;
    const current = counted(dir);
    const cgroup = dir.startsWith(mount) ? dir.slice(mount.length).replace(/\/$/, '') || '/' : undefined;
    const others = dir !== leaf && current !== undefined && own !== undefined ? Math.max(0, current - own) : undefined;
    found.push({ max: Number(max), source: 'pids.max', current, ...(cgroup !== undefined ? { cgroup } : {}), ...(others !== undefined && others > 0 ? { others } : {}) });
  }
  const nproc = isRoot ? undefined : parseNprocLimit(read(`${proc}/${who}/limits`) ?? '');
  if (nproc !== undefined) found.push({ max: nproc, source: 'RLIMIT_NPROC', current: undefined });
  // The one that leaves corral the least room binds.
  return found.sort((a, b) => a.max - (a.others ?? 0) - (b.max - (b.others ?? 0)))[0];
}

/**
 * Node processes corral runs beside its workers: the master, the keeper, and during a reload the
 * reload's own command. The unit's ExecReload= (`corral reload --wait`) is a node process that runs
 * in the unit's cgroup until the reload ends: left out, the TasksMax= corral advised refused a
 * thread of the reload's new workers under systemd (a boot failed at the limit it had named).
 */
export const PROCESSES_BESIDE_WORKERS = 3;

/**
 * Tasks corral needs: its master, the keeper and `workers` workers, twice the workers during a
 * reload (the new generation boots while the old one serves) with the reload's command, and each
 * worker's export threads.
 */
export function tasksNeeded(workers: number, exportThreads: number): number {
  return (2 * workers + PROCESSES_BESIDE_WORKERS) * TASKS_PER_PROCESS + 2 * workers * exportThreads;
}
