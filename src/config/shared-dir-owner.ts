// Whose a path in a shared temp dir is. In a directory every local user may create in (a sticky
// /tmp, /var/tmp, /dev/shm), a name is whoever's made it first: another user who made
// /tmp/corral-data before corral's first start owns it, and may remove and create files in it
// whatever their modes; one who made /tmp/corral.log a symlink chooses the file corral appends to.
// Root passes every check that such a directory is writable, and so does a user its owner granted
// write by an ACL, and the kernel follows such a symlink unless fs.protected_symlinks is set (it is
// off by default in Linux itself, and where systemd's sysctl defaults are not installed). The sticky
// bit keeps a name from being removed by anyone but its owner, so one of this user's stays so.
//
// Only there: another user's directory elsewhere was put there by whoever owns its parent (a volume
// mounted into a container run as root, owned by the host's uid), the operator's doing.

import { lstatSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** Every local user may create names in it, and only a name's owner may remove it (mode 1777). */
const isSharedTemp = (st: Stats): boolean => st.isDirectory() && (st.mode & 0o1002) === 0o1002;

export interface SharedTempOwner {
  /** The name another user made: `path` itself, or a directory above it. */
  readonly path: string;
  readonly uid: number;
  /** This process's uid. */
  readonly me: number;
}

/**
 * The first name, from `path` (absolute) up, that another user than this process's and root made
 * in a shared temp dir (a symlink judged as itself: it names whatever its owner wants), or
 * undefined. Missing names are skipped: corral makes them, this user's.
 */
export function sharedTempOwner(path: string): SharedTempOwner | undefined {
  const me = process.getuid?.();
  if (me === undefined) return undefined;
  for (let p = path; dirname(p) !== p; p = dirname(p)) {
    let st: Stats;
    let parent: Stats;
    try {
      st = lstatSync(p);
      parent = lstatSync(dirname(p));
    } catch {
      continue;
    }
    if (st.uid !== me && st.uid !== 0 && isSharedTemp(parent)) return { path: p, uid: st.uid, me };
  }
  return undefined;
}

/** `found` said: whose it is and where. `what`: what every user may create there (a directory, a file). */
export const ownedElsewhere = (found: SharedTempOwner, what: string): string =>
  `${found.path} belongs to uid ${found.uid}, not to this user (uid ${found.me}) nor root, in ${dirname(found.path)}, where every local user may create ${what}`;

/** Why CORRAL_DATA_DIR `dir` (absolute) may be in another user's hands, or undefined. */
export function dataDirOwnerProblem(dir: string): string | undefined {
  const found = sharedTempOwner(dir);
  if (found === undefined) return undefined;
  return `${ownedElsewhere(found, 'a directory')}: its owner could put a session secret of their own there (then sign a token for any player) or stand in for the keeper's socket: remove it (as root) and start again, or point CORRAL_DATA_DIR elsewhere (e.g. /var/lib/corral)`;
}

/** Why CORRAL_LOG_FILE `file` (absolute) may be in another user's hands, or undefined. */
export function logFileOwnerProblem(file: string): string | undefined {
  const found = sharedTempOwner(file);
  if (found === undefined) return undefined;
  return `${ownedElsewhere(found, found.path === file ? 'a file' : 'a directory')}: its owner could read every line, or make it a symlink to a file of this user's, which corral would append to: remove it (as root), or point CORRAL_LOG_FILE elsewhere (e.g. /var/log/corral/corral.log)`;
}
