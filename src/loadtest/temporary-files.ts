// The temporary files result.json and report.html are written to before they are renamed into
// place: `.result.json.PID.tmp`, named by the writing process. A run killed while writing
// (kill -9, a crash, a power cut) leaves its temporary file behind; the name says whose it was, so
// a later run writing to the same directory can tell a dead writer's leftover from a file another
// run is writing at this moment.

import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The final names written through temporary files; nothing else in the directory is touched. */
const RESULT_NAMES = ['result.json', 'report.html'] as const;

/** `.result.json.1234.tmp`: one of the result names, then a pid (never 0, which kill would take as the whole process group). */
const TEMPORARY_NAME = new RegExp(`^\\.(?:${RESULT_NAMES.map((n) => n.replace(/\./g, '\\.')).join('|')})\\.([1-9][0-9]*)\\.tmp$`);

/** Where this process writes `file` before renaming it over its name: hidden, and this process's own. */
export function temporaryPath(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
}

/** Unlinks path; false when it could not be (gone already, a directory, no permission). */
export function removeQuietly(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the process `pid` has ended. kill(pid, 0) sends nothing and only checks: ESRCH is no
 * such process; EPERM is a live process of another user; any other failure (a pid out of range)
 * does not show the writer gone, so its file is kept.
 */
function writerGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes the temporary files in `dir` whose writer is no longer alive (a run killed while
 * writing), and leaves those of live writers, which are another run writing there now. Returns the
 * names removed. Housekeeping only: a directory that cannot be listed is left as it is, and the
 * write that follows reports any real problem with it. A pid reused since by an unrelated process
 * keeps its leftover until that process ends: a file wrongly kept costs a few bytes, one wrongly
 * removed would be another run's result.
 */
export function removeAbandonedTemporaries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = TEMPORARY_NAME.exec(name)?.[1];
    if (pid === undefined || !writerGone(Number(pid))) continue;
    if (removeQuietly(join(dir, name))) removed.push(name);
  }
  return removed;
}
