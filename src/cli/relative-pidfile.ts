// A relative CORRAL_PIDFILE (the default, corral.pid) names a file in the directory of whoever
// reads it: the master writes its pidfile in its own working directory (under systemd, the unit's
// WorkingDirectory=, /var/lib/corral), and `corral status|reload|stop` run from elsewhere (the
// install directory, as the Deploy steps leave the shell) look in theirs. Told only that no pidfile
// names a master, the operator read "edited since it started, or another settings file", neither
// of which was so.

import { readlinkSync } from 'node:fs';
import { loadSettings } from '../config/load.js';
import type { MasterLookup } from './lookup-settings.js';
import { mastersOfSettingsFile } from './master-by-settings-file.js';

export interface MasterInOtherDir {
  readonly pid: number;
  /** The master's working directory, against which it resolved CORRAL_PIDFILE. */
  readonly cwd: string;
  /** Its pidfile there (absolute). */
  readonly pidfile: string;
}

/**
 * The master that read this command's settings file in another working directory and wrote its
 * pidfile there, by the same relative CORRAL_PIDFILE; undefined when none did. `names` says
 * whether a pidfile names that master (findMaster, trust checks included).
 */
export function masterOfRelativePidfile(lookup: Pick<MasterLookup, 'settings' | 'envFile'>, names: (pidfile: string, pid: number) => boolean): MasterInOtherDir | undefined {
  if (lookup.envFile === undefined) return undefined;
  for (const pid of mastersOfSettingsFile(lookup.envFile)) {
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // Gone meanwhile, or another user's under hidepid: nothing to tell of it.
      continue;
    }
    // The setting as that master read it: the same file and environment, from its directory. An
    // absolute path reads the same from anywhere and is not this case.
    const env = { ...process.env, CORRAL_ENV_FILE: lookup.envFile };
    let pidfile: string | undefined;
    try {
      pidfile = loadSettings({ env, cwd, judgeOnly: ['CORRAL_PIDFILE'], readFiles: false }).settings.CORRAL_PIDFILE;
    } catch {
      // The file changed under this command (gone, now unreadable): the lookup's own answer stands.
      continue;
    }
    if (!pidfile || pidfile === lookup.settings.CORRAL_PIDFILE) continue;
    if (names(pidfile, pid)) return { pid, cwd, pidfile };
  }
  return undefined;
}
