// What tells a process apart from a later one given the same pid: the kernel reuses pids, so a
// pidfile left behind by a master killed with SIGKILL (or by an OOM kill, or across a reboot) can
// name an unrelated live process. Linux only (/proc); elsewhere nothing can be checked.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export interface ProcStamp {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot, immune to wall-clock steps. */
  readonly startTicks: number;
  /** /proc/sys/kernel/random/boot_id; null where hidden (systemd's ProcSubset=pid). */
  readonly bootId: string | null;
}

/**
 * What the pidfile checks read of other processes and of the host. Tests pass their own to stand
 * in for the views production hosts give (hidepid, systemd's ProtectProc=invisible), which only
 * root could set up for real.
 */
export interface ProcReaders {
  readonly stamp: (pid: number) => ProcStamp | undefined;
  readonly argv: (pid: number) => string[] | undefined;
  readonly bootId: () => string | null;
  /**
   * The boot id as `pid` itself reads it (bootIdSeenBy), or null when that cannot be looked at.
   * Where it differs from bootId(), the two read different /proc mounts of one boot.
   */
  readonly bootIdOf?: (pid: number) => string | null;
  /** The uid a process runs as, or undefined when it cannot be looked at. */
  readonly owner?: (pid: number) => number | undefined;
}

/**
 * True when `pid` has exited but its parent has not reaped it yet (state Z in /proc/<pid>/stat).
 * kill(pid, 0) still succeeds on it. Under systemd the master is reaped at once; started from a
 * container whose PID 1 does not reap (docker without --init), or adopted by a slow init, it
 * stays a zombie, and `corral stop` waited its whole timeout, then said it was still running.
 */
export function isZombie(pid: number): boolean {
  return procState(pid) === 'Z';
}

/**
 * True when `pid` is stopped (state T: SIGSTOP, Ctrl-Z; t: a debugger): it acts on no signal but
 * SIGCONT and SIGKILL until it is resumed.
 */
export function isStopped(pid: number): boolean {
  const state = procState(pid);
  return state === 'T' || state === 't';
}

/** Field 3 of /proc/<pid>/stat (R, S, D, Z, T, t...), or undefined when it cannot be read. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (field 2), which may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || undefined;
  } catch {
    return undefined;
  }
}

export function procStamp(pid: number): ProcStamp | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  // There, index 0 is field 3, so field 22 is index 19.
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  if (!Number.isSafeInteger(startTicks)) return undefined;
  return { pid, startTicks, bootId: bootIdSeenBy(pid) ?? readBootId() };
}

/** This boot's id. Readable where other users' /proc/<pid> entries are hidden (hidepid, ProtectProc). */
export function readBootId(): string | null {
  return readBootIdFile('/proc/sys/kernel/random/boot_id');
}

/**
 * The boot id as `pid` reads it, through its own root and mounts (/proc/<pid>/root), or null
 * where that is hidden (another user's process, hidepid). It can differ from readBootId() within
 * one boot: systemd-nspawn gives its container a boot id of its own by mounting a file over
 * /proc/sys/kernel/random/boot_id, and a service whose unit sets ProtectProc= or
 * ProtectKernelTunables= (the generated unit sets both) gets a /proc without that mount, so it
 * reads the host's. The master recorded the host's in its pidfile stamp, `corral status` run
 * beside it read the container's, and took the running master for one of an earlier boot.
 */
export function bootIdSeenBy(pid: number): string | null {
  return readBootIdFile(`/proc/${pid}/root/proc/sys/kernel/random/boot_id`);
}

function readBootIdFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** True unless both stamps are known and name different processes. */
export function sameProcess(recorded: ProcStamp, actual: ProcStamp): boolean {
  if (recorded.pid !== actual.pid || recorded.startTicks !== actual.startTicks) return false;
  return recorded.bootId === null || actual.bootId === null || recorded.bootId === actual.bootId;
}

/** The process's argv, or undefined when it cannot be read (no /proc, another user's hidepid). */
export function procArgv(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // Zombies and kernel threads have an empty command line: nothing to judge by.
    if (raw === '') return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/**
 * Whether an argv is that of `corral start` (`node …/bin/corral start`, as bin/corral, the npm
 * bin link and the generated systemd unit all run it). Only for pidfiles without a start stamp.
 */
export function looksLikeMaster(argv: readonly string[]): boolean {
  return argv.includes('start') && argv.some((a) => basename(a) === 'corral');
}

/** The real uid of `pid` (the `Uid:` line of /proc/<pid>/status), or undefined when hidden or gone. */
export function procOwner(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
  return Number.isSafeInteger(uid) ? uid : undefined;
}

export const procReaders: ProcReaders = { stamp: procStamp, argv: procArgv, bootId: readBootId, bootIdOf: bootIdSeenBy, owner: procOwner };

/**
 * The environment `pid` was started with (/proc/<pid>/environ: a master never changes its own), or
 * undefined when this user may not read it (another user's process, hidden by hidepid, or gone).
 */
export function procEnviron(pid: number): NodeJS.ProcessEnv | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const env: NodeJS.ProcessEnv = {};
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}
