// The corral masters started with a given settings file, found through /proc: the last way a
// command finds a master whose CORRAL_PIDFILE, CORRAL_ADMIN_BIND and CORRAL_DATA_DIR were all
// edited in that file since it started (a reload keeps the first two until a restart, and the
// keeper holds its lock where the data dir was). Each of the others leaves a trace where the old
// value points; this finds the master by the one thing that did not change, the file itself.
// Before, `corral status` said "not running" (exit 3) while it served, and `stop` "nothing to stop".

import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { envFilePath } from '../config/load.js';
import { looksLikeMaster, procArgv, procEnviron } from '../master/proc-identity.js';
import { readParent } from '../port-holder.js';

/** The settings file a process read at start, as the loader finds it; undefined: none, or not readable here. */
function settingsFileOf(pid: number): string | undefined {
  // Readable for this user's own processes, and for root: another user's master is not this one's to find.
  const environ = procEnviron(pid);
  if (environ === undefined) return undefined;
  let cwd: string;
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
  const named = environ.CORRAL_ENV_FILE;
  return envFilePath(named, cwd);
}

/** The path with its links resolved, or as it is when it cannot be (gone since). */
function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * The pids of the corral masters (`corral start` command lines) that read `settingsFile` at
 * start, lowest first; never this process.
 */
export function mastersOfSettingsFile(settingsFile: string): number[] {
  const wanted = realOr(settingsFile);
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const argv = procArgv(pid);
    if (argv === undefined || !looksLikeMaster(argv)) continue;
    const file = settingsFileOf(pid);
    if (file !== undefined && realOr(file) === wanted) found.push(pid);
  }
  // A command that runs `corral start` as its child (timeout 60 corral start, sudo -u corral
  // corral start, npx corral start) has the words and the environment of one, and stays its
  // parent: it was named as a master too, the lowest pid, which the message says to signal.
  const wrappers = new Set<number>();
  for (const pid of found) {
    for (let up = readParent(pid), hops = 0; up !== undefined && up > 1 && hops < 64; up = readParent(up), hops++) {
      if (found.includes(up)) wrappers.add(up);
    }
  }
  return found.filter((pid) => !wrappers.has(pid)).sort((a, b) => a - b);
}
