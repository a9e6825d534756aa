// Two `corral start` at once each judged the pidfile free, then each wrote it: both went on, and
// the one whose workers could not bind the port exited, removing the pidfile that then named it,
// so the master left serving had none (stop, reload and logrotate's kill -USR1 could not find it).
// The check and the write now run under a guard file made with O_EXCL beside the pidfile: a start
// that finds it is refused as a second start. A guard left by a start killed mid-write (it lives
// for milliseconds) is taken over once it is GUARD_STALE_MS old, by one start only: two that found it
// stale together each removed what stood at its path, the other's new guard included.

import { closeSync, linkSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { CorralError } from '../errors.js';

/** Older than this, a guard was left by a start that died holding it. */
export const GUARD_STALE_MS = 10_000;

export function guardFile(pidfile: string): string {
  return `${pidfile}.writing`;
}

/** Runs `write` (the pidfile's check and write) while this process holds the guard. */
export function underPidfileGuard<T>(pidfile: string, write: () => T, now: () => number = Date.now): T {
  const guard = guardFile(pidfile);
  const fd = takeGuard(guard, now);
  try {
    return write();
  } finally {
    closeSync(fd);
    rmSync(guard, { force: true });
  }
}

function takeGuard(guard: string, now: () => number): number {
  const fd = create(guard);
  if (fd !== undefined) return fd;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(guard).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // Gone meanwhile: its start finished. Made anew, never removed first: another start may have
    // made it since, and removing that one let both go on as if alone.
    return create(guard) ?? busy(guard);
  }
  if (now() - mtimeMs < GUARD_STALE_MS) busy(guard);
  // Stale. Another start that judged it so too may have removed it and made its own since this
  // look: moved aside under this process's own name and judged again there, only a stale one is
  // removed; a fresh one is put back.
  const aside = `${guard}.${process.pid}.stale`;
  try {
    renameSync(guard, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return create(guard) ?? busy(guard);
  }
  let asideMs: number;
  try {
    asideMs = statSync(aside).mtimeMs;
  } catch {
    asideMs = mtimeMs;
  }
  if (now() - asideMs < GUARD_STALE_MS) {
    try {
      linkSync(aside, guard);
    } catch {
      // Another start made one meanwhile: it holds that one.
    }
    rmSync(aside, { force: true });
    busy(guard);
  }
  rmSync(aside, { force: true });
  return create(guard) ?? busy(guard);
}

/** The guard made exclusively; undefined when one is there. */
function create(guard: string): number | undefined {
  try {
    return openSync(guard, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
}

function busy(guard: string): never {
  throw new CorralError(
    'CORRAL_ERR_ALREADY_RUNNING',
    `another corral start is writing the pidfile right now (${guard} exists): only one master may start on it; run \`corral status\` in a moment, or remove ${guard} if no corral is starting`,
  );
}
