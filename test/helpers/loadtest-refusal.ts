// The check a refused `corral loadtest` input must pass, for assert.throws and assert.rejects: a
// LoadtestError with `code` (CORRAL_ERR_LOADTEST_INPUT unless said), exit code 64 and a message
// matching `pattern`.

import assert from 'node:assert/strict';
import { LoadtestError, LOADTEST_EXIT } from '../../src/loadtest/exit.js';

export const loadtestRefusal =
  (pattern: RegExp, code = 'CORRAL_ERR_LOADTEST_INPUT') =>
  (err: unknown): true => {
    assert.ok(err instanceof LoadtestError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.exitCode, LOADTEST_EXIT.USAGE);
    assert.match(err.message, pattern);
    return true;
  };
