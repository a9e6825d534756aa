// mkdir -p for the paths operators give (CORRAL_PIDFILE's and CORRAL_LOG_FILE's directories,
// CORRAL_DATA_DIR, loadtest --out), one level at a time from the nearest directory that exists.
// Node 20's recursive mkdir loops forever, at 100 % CPU and deaf to signals (the loop is
// synchronous, or holds a libuv thread for the async forms), when mkdir(2) answers ENOENT under a
// parent that exists: /proc as root does (`mkdirSync('/proc/x/y', { recursive: true })` never
// returns). Non-recursive mkdir hands that ENOENT back, to be reported as the path's problem.

import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** `dir` and the ancestors it needs created, topmost first, given whether a path exists. */
function missingLevels(dir: string, exists: (path: string) => boolean): string[] {
  const missing: string[] = [];
  for (let d = resolve(dir); !exists(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  return missing;
}

/**
 * Creates `dir` and the parents it lacks, each with `mode` (as recursive mkdir gives it); returns
 * the directories it created, topmost first (none when `dir` was there). A level created meanwhile
 * by another process is taken as it is; any other failure (ENOENT, ENOTDIR, EACCES, EEXIST for a
 * file in the way) is thrown as mkdir(2) gave it.
 */
export function makeDirsSync(dir: string, mode?: number): string[] {
  const exists = (path: string): boolean => {
    try {
      statSync(path);
      return true;
    } catch (err) {
      if (codeOf(err) === 'ENOENT') return false;
      throw err;
    }
  };
  const created: string[] = [];
  for (const level of missingLevels(dir, exists)) {
    try {
      mkdirSync(level, mode);
      created.push(level);
    } catch (err) {
      if (codeOf(err) !== 'EEXIST' || !statSync(level).isDirectory()) throw err;
    }
  }
  // There already: a file where the directory should be is no directory made.
  if (created.length === 0 && !statSync(dir).isDirectory()) mkdirSync(dir, mode);
  return created;
}

/** makeDirsSync, without blocking the event loop. */
export async function makeDirs(dir: string, mode?: number): Promise<string[]> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      await stat(d);
      break;
    } catch (err) {
      if (codeOf(err) !== 'ENOENT') throw err;
      missing.unshift(d);
      if (dirname(d) === d) break;
    }
  }
  const created: string[] = [];
  for (const level of missing) {
    try {
      await mkdir(level, mode);
      created.push(level);
    } catch (err) {
      if (codeOf(err) !== 'EEXIST' || !(await stat(level)).isDirectory()) throw err;
    }
  }
  if (created.length === 0 && !(await stat(dir)).isDirectory()) await mkdir(dir, mode);
  return created;
}
