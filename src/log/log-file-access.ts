// Whether CORRAL_LOG_FILE could be opened for appending, found without creating it or its
// directory. The settings check shared by the master's reload, `corral config` and `corral reload`
// uses it: run by root or another user than corral's, those commands would otherwise leave a file
// or a directory behind that the master cannot write. (createLogger opens the file itself.)

import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { CorralError } from '../errors.js';

/** Throws CORRAL_ERR_LOG_FILE, as createLogger would, when `file` could not be opened for appending. */
export function assertLogFileOpenable(file: string | undefined): void {
  if (file === undefined) return;
  const problem = openProblem(file);
  if (problem !== undefined) throw new CorralError('CORRAL_ERR_LOG_FILE', `cannot open CORRAL_LOG_FILE ${file}: ${problem}`);
}

const errnoOf = (err: unknown) => (err as NodeJS.ErrnoException).code;

function openProblem(file: string): string | undefined {
  try {
    if (statSync(file).isDirectory()) return 'it is a directory: name a file in it, e.g. CORRAL_LOG_FILE=' + `${file}/corral.log`;
    accessSync(file, constants.W_OK);
    return undefined;
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') return (err as Error).message;
  }
  // Not there yet: it is created, with any missing directories, under the nearest one that exists.
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
      accessSync(dir, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' && dirname(dir) !== dir) continue;
      return (err as Error).message;
    }
  }
}
