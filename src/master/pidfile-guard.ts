// Two `corral start` at once each judged the pidfile free, then each wrote it: both went on, and
// the one whose workers could not bind the port exited, removing the pidfile that then named it,
// so the master left serving had none (stop, reload and logrotate's kill -USR1 could not find it).
// The check and the write now run under a guard file made with O_EXCL beside the pidfile: a start
// that finds it is refused as a second start. A guard left by a start killed mid-write (it lives
// for milliseconds) is taken over once it is GUARD_STALE_MS old.

import { closeSync, openSync, rmSync, statSync } from 'node:fs';
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
  try {
    return openSync(guard, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let ageMs: number;
  try {
    ageMs = now() - statSync(guard).mtimeMs;
  } catch {
    // Gone meanwhile: its start finished; take it now (another start racing for it is refused).
    ageMs = Infinity;
  }
  if (ageMs < GUARD_STALE_MS) {
    throw new CorralError(
      'CORRAL_ERR_ALREADY_RUNNING',
      `another corral start is writing the pidfile right now (${guard} exists): only one master may start on it; run \`corral status\` in a moment, or remove ${guard} if no corral is starting`,
    );
  }
  rmSync(guard, { force: true });
  return openSync(guard, 'wx', 0o600);
}
