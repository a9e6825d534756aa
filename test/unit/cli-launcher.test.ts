// bin/corral says an open-files limit too low for Node to load the CLI itself in the CLI's own
// words and exit code, which it cannot import (loading them is what fails): kept the same here.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FD_LIMIT_FIX } from '../../src/cli/main.js';
import { EXIT } from '../../src/errors.js';
import { CORRAL_BIN } from '../helpers/corral.js';

test("the launcher's out-of-descriptors message gives the CLI's fix and exit code", () => {
  const launcher = readFileSync(CORRAL_BIN, 'utf8');
  assert.ok(launcher.includes(`[CORRAL_ERR_FD_LIMIT] `), 'names the code');
  assert.ok(launcher.includes(`; ${FD_LIMIT_FIX}\\n\``), `ends with the CLI's fix: ${FD_LIMIT_FIX}`);
  assert.ok(launcher.includes(`process.exitCode = ${EXIT.CONFIG};`), `exits ${EXIT.CONFIG}, as the CLI does`);
});
