// When a pino destination (sonic-boom) has opened its file, or failed to: at start, and after a
// reopen (USR1, or a new CORRAL_LOG_FILE at a reload). sonic-boom says so only through 'ready' and
// 'error', events its writes share, and its reopen leaves a listener behind when the open fails.
// A file of its own: createLogger (logger.ts) waits on these for opened(), reopen() and
// configure(); a write's errors are write-failure.ts's.

import { dirname, resolve } from 'node:path';
import type { pino } from 'pino';
import { makeDirsSync } from '../make-dirs.js';
import { logFileOwnerProblem } from '../config/shared-dir-owner.js';
import { LOG_DIR_MODE } from './log-file.js';

export type Destination = ReturnType<typeof pino.destination>;

/**
 * Resolves once `d` is open (true), or failed to open (false). Listening for 'error' only until then: a later
 * write error is write-failure.ts's to handle.
 */
export function settledOpen(d: Destination): Promise<boolean> {
  return openOutcome(d).then((err) => err === undefined);
}

/** As settledOpen, with why the open failed: undefined once `d` is open, else the open's (or its mkdir's) error. */
export function openOutcome(d: Destination): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const settle = (err: NodeJS.ErrnoException | undefined) => {
      d.off('ready', onReady);
      d.off('error', onError);
      resolve(err);
    };
    const onReady = () => settle(undefined);
    const onError = (err: NodeJS.ErrnoException) => settle(err);
    d.once('ready', onReady);
    d.once('error', onError);
  });
}

/** How long reopen() waits to know whether the file opened. */
export const REOPEN_WAIT_MS = 5000;

/** reopenSettled's own 'ready' listeners: not sonic-boom's, which reopenDestination removes. */
const settling = new WeakSet<object>();

/** True when `d`'s reopen in progress opened the file, false when its open failed, undefined after REOPEN_WAIT_MS. */
function reopenSettled(d: Destination): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const done = (opened: boolean | undefined) => {
      clearTimeout(timer);
      d.off('ready', onReady);
      d.off('error', onError);
      resolve(opened);
    };
    const onReady = () => {
      // The ready of an open begun before the reopen: sonic-boom's own listener has just begun it.
      if (!(d as unknown as { _opening?: boolean })._opening) done(true);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      // A failed open (or the mkdir before it) is the reopen's; a write's error is not (write-failure.ts).
      if (err.syscall === 'open' || err.syscall === 'mkdir') done(false);
    };
    const timer = setTimeout(() => done(undefined), REOPEN_WAIT_MS);
    timer.unref();
    settling.add(onReady);
    d.on('ready', onReady);
    d.on('error', onError);
  });
}

/**
 * Reopens `d` (at `path` when given) and resolves as reopenSettled does. sonic-boom's reopen adds a
 * listener that closes the old fd once the new one is ready; when the open fails, the old fd stays
 * the one written to and that listener stays too. Every failed USR1 left one, in every process,
 * for as long as the path could not be opened (a MaxListenersExceededWarning on stderr at the
 * 11th), and the reopen that worked then closed the old fd once per failure before it, the extra
 * closes on the thread pool after the first, when that fd number may be another file's or socket's
 * already. Removed once the open failed: the next reopen adds its own.
 */
export function reopenDestination(d: Destination, path?: string): Promise<boolean | undefined> {
  // A directory removed since (or a new CORRAL_LOG_FILE's) is made as at start, writable by its
  // user alone: sonic-boom's own mkdir gives it the umask's mode (0777 under umask 000). Its
  // failure is left to sonic-boom's open, which reports it as the reopen's.
  const file = path ?? (d as unknown as { file?: unknown }).file;
  // A name another user put at the path in a shared temp dir since the last open (the file rotated
  // away, a symlink of theirs in its place) is not opened: said as a failed open, through the
  // destination's own 'error' (log.reopen_failed), and the lines stay in the file open before.
  const owner = typeof file === 'string' ? logFileOwnerProblem(resolve(file)) : undefined;
  if (owner !== undefined) {
    const settled = reopenSettled(d);
    d.emit('error', Object.assign(new Error(owner), { code: 'EPERM', syscall: 'open', path: file }));
    return settled;
  }
  if (typeof file === 'string') {
    try {
      makeDirsSync(dirname(file), LOG_DIR_MODE);
    } catch {
      // said by the reopen below
    }
  }
  const before = new Set(d.rawListeners('ready'));
  d.reopen(path);
  return reopenSettled(d).then((opened) => {
    // Those sonic-boom added since: this reopen's, or that of the reopen it makes once the write
    // in flight is done (a reopen asked during a write waits for it, the usual case when the
    // process logs much).
    if (opened === false) for (const l of d.rawListeners('ready')) if (!before.has(l) && !settling.has(l)) d.removeListener('ready', l as () => void);
    return opened;
  });
}

/** Why a reopen failed, in the operator's words where the error's are a syscall's. */
export function reopenFailure(err: { readonly message: string; readonly code?: string }, file: string | undefined): string {
  // The destination makes the file's directory first: a file standing at that path fails it so.
  if (err.code === 'EEXIST' && /\bmkdir\b/.test(err.message) && file !== undefined) return `a file, not a directory, stands at ${dirname(file)}, where the log's directory should be (${err.message})`;
  return err.message;
}
