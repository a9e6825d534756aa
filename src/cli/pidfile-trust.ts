// Whether the pidfile that names the master may be believed: its owner, its start stamp's, and
// who else may write them. A file of its own: findMaster (master-process.ts) asks it once
// checkPidfile (master/pidfile.ts) has judged the pid the pidfile names a master, before any
// command acts on that pid.

import { lstatSync, statSync, type Stats } from 'node:fs';
import { CorralError } from '../errors.js';
import { stampFile } from '../master/pidfile.js';
import type { ProcReaders } from '../master/proc-identity.js';

/**
 * Whoever may write the pidfile chooses the process that stop and reload signal. The master's
 * user owns it (under systemd, /run/corral belongs to the service's user), and that user can
 * write any pid and a matching start stamp there: run as root, `corral stop` would then send
 * SIGTERM to a process of root's (sshd) on behalf of a compromised service account. So the
 * pidfile, a symlink at its path and its start stamp must belong to root or to the user the named
 * process runs as (the same check systemd makes of a PIDFile= it does not own), and the pidfile and
 * stamp be writable by their owner alone (openToOthers). Skipped when the process cannot
 * be looked at (another user's, hidden by hidepid): the kernel then refuses a non-root signal
 * to it anyway, and root always sees every process.
 */
export function assertPidfileTrusted(file: string, pid: number, proc: ProcReaders): void {
  const runsAs = proc.owner?.(pid);
  if (runsAs === undefined) return;
  let link: Stats;
  let target: Stats;
  try {
    link = lstatSync(file);
    target = link.isSymbolicLink() ? statSync(file) : link;
  } catch {
    // Gone since it was read (the master exited and removed it): signalMaster then finds no process.
    return;
  }
  // The stamp decides whether a live pid is the master: a stranger's stamp for a reused pid would
  // make a stale pidfile name that process as running. None: an older corral, or a hand-written
  // pidfile, whose command line checkPidfile judged.
  let stamp: Stats | undefined;
  try {
    stamp = statSync(stampFile(file));
  } catch {
    stamp = undefined;
  }
  // A symlink is named as one: "the pidfile belongs to uid 65534" sent the operator to root's
  // file it pointed at, when the link was the stranger's.
  const owners = [
    { path: link.isSymbolicLink() ? `the pidfile ${file}, a symlink,` : `the pidfile ${file}`, uid: link.uid },
    ...(link.isSymbolicLink() ? [{ path: `the file the pidfile ${file} links to`, uid: target.uid }] : []),
    ...(stamp ? [{ path: `its start stamp ${stampFile(file)}`, uid: stamp.uid }] : []),
  ];
  const stranger = owners.find((o) => o.uid !== 0 && o.uid !== runsAs);
  if (stranger) {
    throw new CorralError(
      'CORRAL_ERR_PIDFILE_UNTRUSTED',
      `${stranger.path} belongs to uid ${stranger.uid}, but pid ${pid} it names runs as uid ${runsAs}: that user could have named any process, so nothing was signalled. A master writes its pidfile as the user it runs as; if pid ${pid} is corral, signal it yourself (kill -HUP|-TERM ${pid}) or use systemctl, and look at who wrote ${file}`,
    );
  }
  const open = openToOthers([[`the pidfile ${file}`, target.mode], ...(stamp ? [[`its start stamp ${stampFile(file)}`, stamp.mode] as const] : [])]);
  if (open) {
    throw new CorralError(
      'CORRAL_ERR_PIDFILE_UNTRUSTED',
      `${open}: users other than its owner could have named any process there (with a matching ${stampFile(file)}), so nothing was signalled. A master writes them writable by itself alone; if pid ${pid} is corral, signal it yourself (kill -HUP|-TERM ${pid}) or use systemctl, and make them writable by their owner alone (chmod go-w ${stamp ? `${file} ${stampFile(file)}` : file})`,
    );
  }
}

/**
 * Why others than their owner may have written the pidfile or its stamp (each named, with its
 * mode), or undefined: one of them writable by its group or by everyone (an older corral left them
 * so under a umask of 002 or 000). The owner check alone let root's `corral stop` kill a process
 * of root's that any local user had named in a root-owned 0666 pidfile with a matching stamp.
 */
function openToOthers(files: readonly (readonly [name: string, mode: number])[]): string | undefined {
  for (const [name, mode] of files) {
    if ((mode & 0o022) !== 0) return `${name} is writable by ${(mode & 0o002) !== 0 ? 'every user' : 'its group'} (mode ${(mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return undefined;
}
