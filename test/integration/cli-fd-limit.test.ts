// An open-files limit too low for corral to load itself: said with its code and the fix, exit 78,
// nothing left behind (it was a raw Node stack, exit 1, which systemd restarted into again).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CORRAL_BIN } from '../helpers/corral.js';

test('corral start under an open-files limit of a few dozen exits 78 with CORRAL_ERR_FD_LIMIT and the fix before loading anything (out of descriptors, node may report a module as missing), leaving no pidfile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-fd-limit-'));
  try {
    const env = { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: '1', CORRAL_BIND: '127.0.0.1:0', CORRAL_ADMIN_BIND: '127.0.0.1:0', CORRAL_DATA_DIR: join(dir, 'data'), CORRAL_PIDFILE: join(dir, 'corral.pid') };
    for (const limit of [32, 48]) {
      const r = spawnSync('sh', ['-c', `ulimit -n ${limit} && exec "$0" "$1" start`, process.execPath, CORRAL_BIN], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 78, `ulimit -n ${limit}: ${r.stderr}`);
      assert.equal(
        r.stderr,
        `corral start: [CORRAL_ERR_FD_LIMIT] the open-files limit is ${limit} (ulimit -n), too low for corral to start (it needs 128 at the least); raise the limit (ulimit -n 65536 in the shell, LimitNOFILE=65536 in the unit; corral needs a few hundred, and its workers their connections on top)\n`,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack');
      assert.equal(existsSync(join(dir, 'corral.pid')), false, 'no pidfile left');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a limit so low that Node runs out of descriptors while loading the CLI itself (about 20) is said the same way, exit 78, no stack', () => {
  const env = { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none' };
  // Where the band lies depends on Node's own descriptors, so every limit from where Node cannot
  // even read the launcher to where the CLI's own check answers is tried; each must be one or the other.
  let launcherAnswered = 0;
  let cliAnswered = 0;
  for (let limit = 12; limit <= 40; limit++) {
    const r = spawnSync('sh', ['-c', `ulimit -n ${limit} && exec "$0" "$1" start`, process.execPath, CORRAL_BIN], { env, encoding: 'utf8', timeout: 60_000 });
    if (r.signal !== null || r.stderr.includes(`open '${CORRAL_BIN}'`)) continue; // Node itself failed, before the launcher ran
    assert.equal(r.status, 78, `ulimit -n ${limit}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `ulimit -n ${limit}: no stack`);
    if (r.stderr.includes('while loading corral')) {
      launcherAnswered++;
      assert.match(r.stderr, /^corral start: \[CORRAL_ERR_FD_LIMIT\] this process ran out of file descriptors \(its open-files limit, ulimit -n\) while loading corral: E[MN]FILE: .*; raise the limit \(ulimit -n 65536 in the shell, LimitNOFILE=65536 in the unit; corral needs a few hundred, and its workers their connections on top\)\n$/);
    } else {
      cliAnswered++;
      assert.match(r.stderr, /^corral start: \[CORRAL_ERR_FD_LIMIT\] /, `ulimit -n ${limit}: ${r.stderr}`);
    }
  }
  assert.ok(launcherAnswered >= 1, `some limit ran out while loading the CLI (${launcherAnswered} of them), and the launcher said it`);
  assert.ok(cliAnswered >= 10, `the CLI answered the higher limits itself (${cliAnswered})`);
});
