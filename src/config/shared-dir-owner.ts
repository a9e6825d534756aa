// Whose a path in a shared temp dir is. In a directory every local user may create in (a sticky
// /tmp, /var/tmp, /dev/shm), a name is whoever's made it first: another user who made
// /tmp/corral-data before corral's first start owns it, and may remove and create files in it
// whatever their modes. Root passes every check that the directory is writable, and so does a user
// its owner granted write by an ACL, so the keeper and the workers used it: its owner could put a
// session secret of their own there (then sign a token for any player), swap the offline sheet's
// codes or bind the keeper's socket first. The sticky bit keeps such a name from being removed by
// anyone but its owner, so a directory of this user's there stays this user's.
//
// Only there: another user's directory elsewhere was put there by whoever owns its parent (a volume
// mounted into a container run as root, owned by the host's uid), the operator's doing.

import { lstatSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** Every local user may create names in it, and only a name's owner may remove it (mode 1777). */
const isSharedTemp = (st: Stats): boolean => st.isDirectory() && (st.mode & 0o1002) === 0o1002;

/**
 * Why `path` (absolute) may be in another user's hands, or undefined: it, or a directory above it,
 * is a name another user than this process's and root made in a shared temp dir (a symlink at it
 * included, judged as itself: it names whatever its owner wants). Missing names are skipped: the
 * keeper makes them, this user's.
 */
export function sharedTempOwnerProblem(path: string): string | undefined {
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
    if (st.uid === me || st.uid === 0 || !isSharedTemp(parent)) continue;
    return `${p} belongs to uid ${st.uid}, not to this user (uid ${me}) nor root, in ${dirname(p)}, where every local user may create a directory: its owner could put a session secret of their own there (then sign a token for any player) or stand in for the keeper's socket: remove it (as root) and start again, or point CORRAL_DATA_DIR elsewhere (e.g. /var/lib/corral)`;
  }
  return undefined;
}
