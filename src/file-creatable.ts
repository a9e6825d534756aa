// Whether a file a setting names could be opened for writing (created, with any missing
// directories, when it is not there), found without creating it or its directories: `corral
// config` and `corral reload` judge CORRAL_LOG_FILE and CORRAL_PIDFILE so, and run by root or
// another user than corral's, they must leave nothing behind the master cannot write.

import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';

const errnoOf = (err: unknown) => (err as NodeJS.ErrnoException).code;
/** Not there (ENOTDIR: a plain file stands where a directory of the path should be, found above). */
const ABSENT = new Set(['ENOENT', 'ENOTDIR']);

/**
 * Why `file` (named by `setting`) could not be written, or undefined when it could. `example`: a
 * file name to suggest in a directory given instead of a file (corral.log).
 */
export function fileWriteProblem(file: string, setting: string, example: string): string | undefined {
  try {
    if (statSync(file).isDirectory()) return `it is a directory: name a file in it, e.g. ${setting}=${file}/${example}`;
    accessSync(file, constants.W_OK);
    return undefined;
  } catch (err) {
    if (!ABSENT.has(errnoOf(err) ?? '')) return (err as Error).message;
  }
  // Not there yet: it is created, with any missing directories, under the nearest one that exists.
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
      accessSync(dir, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (err) {
      if (ABSENT.has(errnoOf(err) ?? '') && dirname(dir) !== dir) continue;
      return (err as Error).message;
    }
  }
}
