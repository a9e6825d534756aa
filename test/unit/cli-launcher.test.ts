// bin/corral says an open-files limit too low for Node to load the CLI itself in the CLI's own
// words and exit code, which it cannot import (loading them is what fails): kept the same here.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { commands } from '../../src/cli/commands/index.js';
import { CODE_LOAD_FIX, commandLoadFailure, FD_LIMIT_FIX } from '../../src/cli/main.js';
import { EXIT } from '../../src/errors.js';
import { CORRAL_BIN } from '../helpers/corral.js';

test("the launcher's out-of-descriptors message gives the CLI's fix and exit code", () => {
  const launcher = readFileSync(CORRAL_BIN, 'utf8');
  assert.ok(launcher.includes(`[CORRAL_ERR_FD_LIMIT] `), 'names the code');
  assert.ok(launcher.includes(`; ${FD_LIMIT_FIX}\\n\``), `ends with the CLI's fix: ${FD_LIMIT_FIX}`);
  assert.ok(launcher.includes(`process.exitCode = ${EXIT.CONFIG};`), `exits ${EXIT.CONFIG}, as the CLI does`);
});

test("corral's own build missing (not built yet, npm ci rebuilding it): the launcher says it as the CLI does, and status exits 4 (unknown), not 1", () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-launcher-'));
  try {
    mkdirSync(join(dir, 'bin'));
    copyFileSync(CORRAL_BIN, join(dir, 'bin', 'corral'));
    for (const name of ['status', 'start']) {
      const run = spawnSync(process.execPath, [join(dir, 'bin', 'corral'), name], { encoding: 'utf8', timeout: 30_000 });
      const entry = commands.find((c) => c.name === name)!;
      const said = commandLoadFailure(entry, new Error('MESSAGE'));
      const [before, after] = said.stderr.split('MESSAGE') as [string, string];
      assert.equal(run.status, said.exitCode, `${name}: ${run.stderr}`);
      assert.ok(run.stderr.startsWith(before) && run.stderr.endsWith(after), run.stderr);
      assert.match(run.stderr, /Cannot find module .*dist\/src\/cli\/main\.js/);
      assert.ok(run.stderr.endsWith(`: ${CODE_LOAD_FIX}\n`), `the CLI's fix: ${run.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
