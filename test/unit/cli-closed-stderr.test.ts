// A command whose stderr's reader went away (`corral chek 2>&1 | true`, a terminal gone under
// nohup) keeps its exit code: the EPIPE was an uncaught exception, exit 1 where a usage error says
// 64, and `systemd-unit --output F` died at its first warning with the unit unwritten.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CORRAL_BIN } from '../helpers/corral.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-closed-stderr-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs corral with its stderr's reading end closed before it writes anything. */
function runWithClosedStderr(args: readonly string[]): Promise<number | null> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CORRAL_BIN, ...args], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CORRAL_ENV_FILE: 'none', CORRAL_DATA_DIR: join(dir, 'data') },
    });
    child.stderr.destroy();
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      done(status);
    });
  });
}

test('an unknown command is exit 64 though nobody reads its stderr', async () => {
  assert.equal(await runWithClosedStderr(['chek']), 64);
});

test('an unknown option is exit 64 though nobody reads its stderr', async () => {
  assert.equal(await runWithClosedStderr(['config', '--bogus']), 64);
});
