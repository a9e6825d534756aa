// A command's answer that could not be written to stdout (a full disk: `corral config --json >
// settings.json`; an I/O error) is a failure, said on stderr: it exited 0 with an empty file, which
// a script took for the answer. A reader that went away (EPIPE, `| head`) is still no error.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { test } from 'node:test';
import { CORRAL_BIN } from '../helpers/corral.js';

function runTo(out: number | 'pipe', args: readonly string[]) {
  return spawnSync(process.execPath, [CORRAL_BIN, ...args], {
    stdio: ['ignore', out, 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: '/nonexistent/corral.pid' },
    timeout: 60_000,
  });
}

test('an answer stdout could not take (ENOSPC) is said on stderr with CORRAL_ERR_OUTPUT, and the exit code is not 0', { skip: !existsSync('/dev/full') }, () => {
  const full = openSync('/dev/full', 'w');
  try {
    const config = runTo(full, ['config', '--json']);
    assert.equal(config.status, 1, `config --json: ${config.stderr.toString()}`);
    assert.match(config.stderr.toString(), /^corral config: \[CORRAL_ERR_OUTPUT\] .*ENOSPC/m);
    // status's 1 says corral runs: an answer lost is "unknown" (4), as its other failures are.
    const status = runTo(full, ['status', '--json']);
    assert.equal(status.status, 4, `status --json: ${status.stderr.toString()}`);
    assert.match(status.stderr.toString(), /\[CORRAL_ERR_OUTPUT\]/);
  } finally {
    closeSync(full);
  }
});

test('an answer written whole exits as before', () => {
  const config = runTo('pipe', ['config', '--json']);
  assert.equal(config.status, 0);
  assert.equal((JSON.parse(config.stdout.toString()) as { valid: boolean }).valid, true);
  assert.doesNotMatch(config.stderr.toString(), /CORRAL_ERR_OUTPUT/);
});
