// The check a refused command line must pass, for assert.throws and assert.rejects: a
// CORRAL_ERR_USAGE whose exit code is 64 and whose message matches `pattern`.

import assert from 'node:assert/strict';
import { CorralError, EXIT, exitCodeFor } from '../../src/errors.js';

export const usageError = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof CorralError, String(err));
  assert.equal(err.code, 'CORRAL_ERR_USAGE');
  assert.equal(exitCodeFor(err), EXIT.USAGE);
  assert.match(err.message, pattern);
  return true;
};
