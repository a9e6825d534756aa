// The corral masters started with a given settings file, found through /proc: the last way a
// command finds a master whose CORRAL_PIDFILE, CORRAL_ADMIN_BIND and CORRAL_DATA_DIR were all
// edited in that file since it started (a reload keeps the first two until a restart, and the
// keeper holds its lock where the data dir was). Each of the others leaves a trace where the old
// value points; this finds the master by the one thing that did not change, the file itself.
// Before, `corral status` said "not running" (exit 3) while it served, and `stop` "nothing to stop".

import { readdirSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { envFileName } from '../config/env-file.js';
import { looksLikeMaster, procArgv, procEnviron } from '../master/proc-identity.js';
import { readParent } from '../port-holder.js';

/**
 * The settings file a process read at start, as the loader finds it, reached through the
 * process's own working directory and root (/proc/<pid>/cwd, /proc/<pid>/root) and identified by
 * device and inode: in another mount namespace or chroot (a container) the same path names another
 * file, and comparing paths named a container's corral as the master of this host's file.
 * Undefined: none read, or not readable here.
 */
function settingsFileOf(pid: number): FileId | undefined {
  // Readable for this user's own processes, and for root: another user's master is not this one's to find.
  const environ = procEnviron(pid);
  if (environ === undefined) return undefined;
  const name = envFileName(environ.CORRAL_ENV_FILE);
  if (name === undefined) return undefined;
  return fileId(isAbsolute(name) ? `/proc/${pid}/root${name}` : `/proc/${pid}/cwd/${name}`);
}

interface FileId {
  readonly dev: number;
  readonly ino: number;
}

function fileId(path: string): FileId | undefined {
  try {
    const { dev, ino } = statSync(path);
    return { dev, ino };
  } catch {
    return undefined;
  }
}

/**
 * The pids of the corral masters (`corral start` command lines) that read `settingsFile` at
 * start, lowest first; never this process.
 */
export function mastersOfSettingsFile(settingsFile: string): number[] {
  const wanted = fileId(settingsFile);
  if (wanted === undefined) return [];
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
    if (file !== undefined && file.dev === wanted.dev && file.ino === wanted.ino) found.push(pid);
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
