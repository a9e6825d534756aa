// The log file corral creates: its mode and its directory's, and the check, before any line is
// written, that it can be opened (createLogger's first step, logger.ts). A file of its own: a
// reopen (destination-open.ts) makes a missing directory with the same mode.

import { closeSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CorralError } from '../errors.js';
import { makeDirsSync } from '../make-dirs.js';
import { stdioLogFileProblem } from '../config/log-file-stdio.js';
import { logFileOwnerProblem } from '../config/shared-dir-owner.js';

/**
 * The mode of a log file corral creates: the lines hold client addresses and event details, so
 * not for every local user (0644, which a shell's umask left it, outside systemd); group-readable,
 * as Debian's logrotate setups expect for an `adm` group, and as config/logrotate/corral's
 * `create 0640` makes the files after a rotation. A file already there keeps its mode.
 */
export const LOG_FILE_MODE = 0o640;

/**
 * The mode of a directory corral creates for CORRAL_LOG_FILE: writable by its user alone. Under a
 * umask of 000 it was 0777, where any local user could replace the log file (a symlink to a file
 * of corral's user, appended to at the next reopen) or remove it.
 */
export const LOG_DIR_MODE = 0o755;

/**
 * Opens the log file (creating its directory) once, synchronously, so that a path that cannot be
 * written is a clear error up front. pino's destination opens it asynchronously and, failing,
 * crashed the master with an fd of -1 at its first line, leaving the pidfile behind.
 */
export function assertLogFileWritable(file: string | undefined): void {
  if (file === undefined) return;
  // Refused when the settings load; said as well here for a caller that skipped them, since a
  // child's open of it fails with a bare ENXIO (log-file-stdio.ts).
  const stdio = stdioLogFileProblem(file, true);
  if (stdio) throw new CorralError('CORRAL_ERR_LOG_FILE', `CORRAL_LOG_FILE=${file} must be ${stdio}`);
  const owner = logFileOwnerProblem(resolve(file));
  if (owner) throw new CorralError('CORRAL_ERR_LOG_FILE', `cannot open CORRAL_LOG_FILE ${file}: ${owner}`);
  try {
    makeDirsSync(dirname(file), LOG_DIR_MODE);
    closeSync(openSync(file, 'a', LOG_FILE_MODE));
  } catch (err) {
    throw new CorralError('CORRAL_ERR_LOG_FILE', `cannot open CORRAL_LOG_FILE ${file}: ${(err as Error).message}`, { cause: err });
  }
}
