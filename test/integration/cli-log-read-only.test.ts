// `corral start` with CORRAL_LOG_FILE (or CORRAL_PIDFILE) on a read-only filesystem: the exit-78
// refusal says the filesystem is read-only and what to do (a writable path, or LogsDirectory= /
// ReadWritePaths= under systemd's ProtectSystem=strict), not "create its directory writable", which
// no mode or owner achieves there. Needs root to mount a read-only tmpfs; skipped elsewhere.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CORRAL_BIN, FIXTURE_APPS } from '../helpers/corral.js';
import { smallDiskUnavailable } from '../helpers/small-disk.js';

const unavailable = smallDiskUnavailable(join(tmpdir(), `corral-ro-probe-${process.pid}`));

function start(cwd: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CORRAL_BIN, 'start'], { cwd, timeout: 30_000, env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_ADMIN_BIND: '127.0.0.1:0', CORRAL_WORKERS: '1', CORRAL_APP: join(FIXTURE_APPS, 'basic.mjs'), ...env } }, (_err, _stdout, stderr) =>
      resolve({ code: child.exitCode ?? -1, stderr }),
    );
  });
}

test('a log file or pidfile on a read-only filesystem: start exits 78 saying the filesystem is read-only, with a writable path or LogsDirectory= / RuntimeDirectory= / ReadWritePaths= to set', { skip: unavailable }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-ro-'));
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', ro]);
  try {
    // A file already there, and one in a directory still to be made.
    writeFileSync(join(ro, 'corral.log'), '');
    execFileSync('mount', ['-o', 'remount,ro', ro]);
    for (const log of [join(ro, 'corral.log'), join(ro, 'logs', 'corral.log')]) {
      const r = await start(dir, { CORRAL_LOG_FILE: log, CORRAL_PIDFILE: join(dir, 'corral.pid') });
      assert.equal(r.code, 78, r.stderr);
      assert.match(r.stderr, /\[CORRAL_ERR_LOG_FILE\]|CORRAL_LOG_FILE/);
      assert.match(r.stderr, /EROFS/);
      assert.match(r.stderr, /its filesystem is mounted read-only, so no directory mode or owner helps: point CORRAL_LOG_FILE at a writable filesystem .*LogsDirectory=corral .*ReadWritePaths=/, r.stderr);
      assert.doesNotMatch(r.stderr, /create its directory writable/);
    }
    const r = await start(dir, { CORRAL_LOG_FILE: join(dir, 'corral.log'), CORRAL_PIDFILE: join(ro, 'corral.pid') });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /its filesystem is mounted read-only: point CORRAL_PIDFILE at a writable one .*RuntimeDirectory=corral/, r.stderr);
  } finally {
    execFileSync('umount', ['-l', ro]);
    rmSync(dir, { recursive: true, force: true });
  }
});
