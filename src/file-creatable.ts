// Whether a file a setting names could be opened for writing (created, with any missing
// directories, when it is not there), found without creating it or its directories: `corral
// config` and `corral reload` judge CORRAL_LOG_FILE and CORRAL_PIDFILE so, and run by root or
// another user than corral's, they must leave nothing behind the master cannot write.

import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const errnoOf = (err: unknown) => (err as NodeJS.ErrnoException).code;
/** Not there (ENOTDIR: a plain file stands where a directory of the path should be, found above). */
const ABSENT = new Set(['ENOENT', 'ENOTDIR']);

/**
 * Filesystems whose directories take no new file whatever access() says (statfs(2) magic numbers):
 * root passes access(W_OK) on /proc and /sys, so a log file named there passed `corral config`
 * and `reload` when run as root, and the master then failed to open it.
 */
const NO_NEW_FILES = new Map<number, string>([
  [0x9fa0, 'procfs (/proc)'],
  [0x62656572, 'sysfs (/sys)'],
  [0x63677270, 'cgroup2'],
  [0x27e0eb, 'cgroup'],
]);

/** The pseudo-filesystem `dir` is on, when it is one of NO_NEW_FILES (path-checks.ts judges CORRAL_DATA_DIR by it too). */
export function pseudoFilesystem(dir: string): string | undefined {
  try {
    return NO_NEW_FILES.get(statfsSync(dir).type);
  } catch {
    return undefined;
  }
}

/** Why a file cannot be written: the message, and `readOnly` where its filesystem is mounted read-only (EROFS). */
export interface FileWriteProblem {
  readonly message: string;
  readonly readOnly: boolean;
}

/**
 * Why `file` (named by `setting`) could not be written, or undefined when it could. `example`: a
 * file name to suggest in a directory given instead of a file (corral.log).
 */
export function fileWriteProblem(file: string, setting: string, example: string): string | undefined {
  return fileWriteFailure(file, setting, example)?.message;
}

/** fileWriteProblem's, with whether the filesystem is read-only: no directory's mode fixes that. */
export function fileWriteFailure(file: string, setting: string, example: string): FileWriteProblem | undefined {
  const failed = (err: unknown): FileWriteProblem => ({ message: (err as Error).message, readOnly: errnoOf(err) === 'EROFS' });
  try {
    if (statSync(file).isDirectory()) return { message: `it is a directory: name a file in it, e.g. ${setting}=${file}/${example}`, readOnly: false };
    accessSync(file, constants.W_OK);
    return undefined;
  } catch (err) {
    if (!ABSENT.has(errnoOf(err) ?? '')) return failed(err);
  }
  // Not there yet: it is created, with any missing directories, under the nearest one that exists.
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      if (!statSync(dir).isDirectory()) return { message: `${dir} is not a directory`, readOnly: false };
      accessSync(dir, constants.W_OK | constants.X_OK);
      const pseudo = pseudoFilesystem(dir);
      if (pseudo !== undefined) return { message: `${dir} is on ${pseudo}, a kernel filesystem where no file can be created`, readOnly: false };
      return undefined;
    } catch (err) {
      if (ABSENT.has(errnoOf(err) ?? '') && dirname(dir) !== dir) continue;
      return failed(err);
    }
  }
}
