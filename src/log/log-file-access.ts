// Whether CORRAL_LOG_FILE could be opened for appending, found without creating it or its
// directory. The settings check shared by the master's reload, `corral config` and `corral reload`
// uses it: run by root or another user than corral's, those commands would otherwise leave a file
// or a directory behind that the master cannot write. (createLogger opens the file itself.)

import { CorralError } from '../errors.js';
import { fileWriteProblem } from '../file-creatable.js';

/** Throws CORRAL_ERR_LOG_FILE, as createLogger would, when `file` could not be opened for appending. */
export function assertLogFileOpenable(file: string | undefined): void {
  if (file === undefined) return;
  const problem = fileWriteProblem(file, 'CORRAL_LOG_FILE', 'corral.log');
  if (problem !== undefined) throw new CorralError('CORRAL_ERR_LOG_FILE', `cannot open CORRAL_LOG_FILE ${file}: ${problem}`);
}
