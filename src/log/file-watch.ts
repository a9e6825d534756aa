// Notices that CORRAL_LOG_FILE no longer names the file the master writes: removed (`rm`, a
// cleanup job, an operator freeing a full disk) or replaced (moved aside and another made in its
// place) without the USR1 that reopens it.
//
// Why: every process kept writing to the file it had open. After an `rm` that is a file no
// directory names: `tail -F` and grep saw nothing more, every line of every process went there
// until the next USR1 or restart, and its blocks stayed in use, so removing the biggest file on a
// full log disk freed nothing and the log (log.write_failed) never came back by itself, which the
// README promises once space is freed. The master compares the path with its open file every
// LOG_FILE_CHECK_MS and, when they differ, reopens as on USR1 (its children told over IPC, as
// then). A path missing at one check only is given the next one: logrotate's `create` renames the
// file and then creates the new one, and a reopen between the two would create it first, failing
// logrotate's own create. A file found replaced is what that `create` left before its postrotate
// USR1: reopening it early loses nothing.

import { fstat, stat, type Stats } from 'node:fs';

/** How often the master compares CORRAL_LOG_FILE with the file it has open. */
export const LOG_FILE_CHECK_MS = 2000;

export type LogFileState = 'same' | 'replaced' | 'missing' | 'unknown';

const fstatOf = (fd: number) => new Promise<Stats>((resolve, reject) => fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
const statOf = (path: string) => new Promise<Stats>((resolve, reject) => stat(path, (err, st) => (err ? reject(err) : resolve(st))));

/** What `file` is now to the file open as `fd`, with the open file's identity ('dev:ino'). */
export async function logFileState(file: string, fd: number): Promise<{ state: LogFileState; open?: string }> {
  let open: Stats;
  try {
    open = await fstatOf(fd);
  } catch {
    // Closed meanwhile (a reopen in progress): the next check sees the new one.
    return { state: 'unknown' };
  }
  const id = `${open.dev}:${open.ino}`;
  try {
    const now = await statOf(file);
    if (now.dev === open.dev && now.ino === open.ino) return { state: 'same', open: id };
    // Something other than a file in its place (a directory, a device such as /dev/full) is not
    // a rotation: a reopen would fail, or has failed and been said (log.reopen_failed).
    return { state: now.isFile() ? 'replaced' : 'unknown', open: id };
  } catch (err) {
    // ENOTDIR, EACCES...: not for this check to judge (a reopen would fail the same way).
    return { state: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unknown', open: id };
  }
}

export interface LogFileWatchOptions {
  /** The log file now (a reload may change it); undefined: stdout, nothing to watch. */
  readonly file: () => string | undefined;
  /** The fd the master's lines are written to now, or undefined while none is open. */
  readonly fd: () => number | undefined;
  /** The path no longer names the open file: reopen. Called once per open file. */
  readonly changed: (state: 'replaced' | 'missing', file: string) => void;
  readonly intervalMs?: number;
}

export interface LogFileWatch {
  /** One comparison now (what the timer runs); resolves when it is done. */
  check(): Promise<void>;
  close(): void;
}

export function watchLogFile(o: LogFileWatchOptions): LogFileWatch {
  let missingBefore: string | undefined;
  // The open file a reopen was asked for: not asked again while it stays open (a reopen that
  // failed, the directory gone, is said once by the logger, not every few seconds).
  let actedOn: string | undefined;
  let running = false;
  const check = async () => {
    const file = o.file();
    const fd = o.fd();
    if (file === undefined || fd === undefined || running) return;
    running = true;
    try {
      const { state, open } = await logFileState(file, fd);
      const wasMissing = missingBefore === open;
      missingBefore = state === 'missing' ? open : undefined;
      // The path names the open file again (a reopen worked): a later change is said again,
      // even should the new file have the inode number the removed one had.
      if (state === 'same') actedOn = undefined;
      if (state === 'same' || state === 'unknown' || open === actedOn) return;
      if (state === 'missing' && !wasMissing) return;
      actedOn = open;
      o.changed(state, file);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), o.intervalMs ?? LOG_FILE_CHECK_MS);
  timer.unref();
  return {
    check,
    close: () => clearInterval(timer),
  };
}
