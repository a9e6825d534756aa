// Cgroups of the test container's own, so that a unit's TasksMax= and MemoryMax= inside it are
// applied as on a real machine.
//
// On a cgroup v1 host (a tmpfs at /sys/fs/cgroup, one hierarchy per controller: this kind of CI
// machine), systemd-nspawn mounts every controller's hierarchy read-only in the container (only a
// user-namespaced container gets them writable). The container's systemd then finds the pids and
// memory controllers unusable at its start, creates no cgroup of theirs for any unit, and
// TasksMax= / MemoryMax= are values in `systemctl show` that nothing enforces.
//
// Writable, each hierarchy shows the container the cgroup nspawn started in as its root (a cgroup
// namespace): that must be one of this run's. Left in the test's own (pids: the host's root), the
// container's systemd made /system.slice/... there, shared with any other container booted from
// the same cgroup, and nspawn's payload/supervisor cgroups of the name=systemd and unified
// hierarchies were shared the same way. So: a cgroup `corral-nspawn-<pid>` under the test's own,
// in the hierarchies the container writes (pids, memory, name=systemd, the unified one of a hybrid
// host), entered by the shell that becomes systemd-nspawn, and removed once the container is gone.
//
// A host whose /sys/fs/cgroup is cgroup v2 alone is left as it is (nspawn delegates a v2 subtree
// itself); the system test reads the unit's limits back and says so if they are not applied.

import { existsSync, readdirSync, readFileSync, rmdirSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../../src/master/pidfile.js';

/** The v1 controllers whose limits the system test needs applied inside the container. */
export const LIMIT_CONTROLLERS = ['pids', 'memory'] as const;

interface Hierarchy {
  /** Where the host mounts it. */
  readonly mountPoint: string;
  /** The key of /proc/self/cgroup's lines: a v1 controller list (`pids`, `name=systemd`), or '' for v2. */
  readonly key: string;
}

/** The cgroup hierarchies mounted on this host, from /proc/self/mountinfo. */
export function cgroupHierarchies(mountinfo: string): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    // "36 25 0:31 / /sys/fs/cgroup/pids rw,relatime shared:13 - cgroup cgroup rw,pids"
    const [pre, post] = line.split(' - ');
    if (pre === undefined || post === undefined) continue;
    const [fstype, , superOptions = ''] = post.split(' ');
    const mountPoint = pre.split(' ')[4];
    if (mountPoint === undefined) continue;
    if (fstype === 'cgroup2') out.push({ mountPoint, key: '' });
    else if (fstype === 'cgroup') {
      const opts = superOptions.split(',');
      const key = opts.filter((o) => o.startsWith('name=') || !/^(rw|ro|noprefix|clone_children|xattr|cpuset_v2_mode|favordynmods|release_agent=.*)$/.test(o)).join(',');
      out.push({ mountPoint, key });
    }
  }
  return out;
}

/** This process's cgroup in each hierarchy, by the key of /proc/self/cgroup's line. */
export function ownCgroups(procSelfCgroup: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of procSelfCgroup.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[1] ?? '', m[2] ?? '/');
  }
  return out;
}

export interface RunCgroups {
  /** The cgroup.procs files the container's launcher writes its pid to before it execs nspawn. */
  readonly procsFiles: readonly string[];
  /** Of LIMIT_CONTROLLERS, those the container must remount writable (v1 hierarchies of their own). */
  readonly writableControllers: readonly string[];
  /** Removes the cgroups (and what the container's systemd left in them). Idempotent. */
  remove(): void;
}

/** rmdir of a cgroup and its descendants, deepest first; a cgroup that still holds a process stays. */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const sub = join(dir, name);
    try {
      if (statSync(sub).isDirectory()) removeTree(sub);
    } catch {
      // Gone meanwhile.
    }
  }
  try {
    rmdirSync(dir);
  } catch {
    // Still holds a process (not one of ours: ours are gone with the container), or gone already.
  }
}

/** Whether a process is in the cgroup at `dir` or one below it. */
function holdsProcess(dir: string): boolean {
  try {
    if (readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== '') return true;
    return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && holdsProcess(join(dir, e.name)));
  } catch {
    return false;
  }
}

/** How long remove() waits for the container's last processes to leave its cgroups (a SIGKILLed nspawn's). */
const REMOVE_WAIT_MS = 5000;

const PREFIX = 'corral-nspawn-';

/**
 * Makes this run's cgroups in the hierarchies a container writes; a reason instead when the host
 * has no v1 hierarchy of LIMIT_CONTROLLERS (cgroup v2 alone) or they cannot be made (a cgroupfs
 * this root may not write): the container then boots as nspawn alone sets it up.
 */
export function makeRunCgroups(): RunCgroups | { readonly unavailable: string } {
  const hierarchies = cgroupHierarchies(readFileSync('/proc/self/mountinfo', 'utf8'));
  const own = ownCgroups(readFileSync('/proc/self/cgroup', 'utf8'));
  const limitHierarchies = hierarchies.filter((h) => (LIMIT_CONTROLLERS as readonly string[]).includes(h.key));
  if (limitHierarchies.length === 0) return { unavailable: `no cgroup v1 ${LIMIT_CONTROLLERS.join(' or ')} hierarchy on this host (cgroup v2 alone: nspawn delegates a v2 subtree itself, which this test does not set up)` };
  // The limit controllers, and those where nspawn and the container's systemd keep their tree
  // (name=systemd; the unified hierarchy when it is mounted beside v1 ones, not as the only one).
  const used = [...limitHierarchies, ...hierarchies.filter((h) => h.key === 'name=systemd' || (h.key === '' && h.mountPoint !== '/sys/fs/cgroup'))];
  const dirs: string[] = [];
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    // nspawn has exited; after a SIGKILL of it the container's processes may take a moment more
    // to die, and a cgroup is removed only once empty.
    const until = Date.now() + REMOVE_WAIT_MS;
    for (;;) {
      for (const d of dirs) removeTree(d);
      if (!dirs.some((d) => existsSync(d)) || Date.now() >= until) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  };
  try {
    for (const h of used) {
      const base = join(h.mountPoint, own.get(h.key) ?? '/');
      // Left by runs killed before they removed theirs.
      for (const name of existsSync(base) ? readdirSync(base) : []) {
        const m = new RegExp(`^${PREFIX}(\\d+)$`).exec(name);
        // Another run's while its process lives (its container may not have entered them yet),
        // and a killed run's while its container outlives it (a process in them): left alone.
        if (m && (Number(m[1]) === process.pid || (!isAlive(Number(m[1])) && !holdsProcess(join(base, name))))) removeTree(join(base, name));
      }
      const dir = join(base, `${PREFIX}${process.pid}`);
      mkdirSync(dir);
      dirs.push(dir);
    }
  } catch (err) {
    remove();
    return { unavailable: `cannot make the container's cgroups: ${(err as Error).message}` };
  }
  return { procsFiles: dirs.map((d) => join(d, 'cgroup.procs')), writableControllers: limitHierarchies.map((h) => h.key), remove };
}

/**
 * Of `controllers`, those mounted writable at /sys/fs/cgroup/<controller> in a process's mount
 * namespace, from its /proc/<pid>/mountinfo: what the container's PID 1 made of its remounts.
 */
export function writableIn(mountinfo: string, controllers: readonly string[]): string[] {
  const rw = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    // "1071 1068 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,pids"
    const [pre] = line.split(' - ');
    const fields = (pre ?? '').split(' ');
    const mountPoint = fields[4];
    const perMount = (fields[5] ?? '').split(',');
    if (mountPoint?.startsWith('/sys/fs/cgroup/')) {
      const c = mountPoint.slice('/sys/fs/cgroup/'.length);
      // The last mount at a point is the one seen there.
      if (perMount.includes('rw')) rw.add(c);
      else rw.delete(c);
    }
  }
  return controllers.filter((c) => rw.has(c));
}

