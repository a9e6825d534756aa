// `corral start` under systemd (NOTIFY_SOCKET set) from an install whose sd_notify addon was not
// built: it must stop at once, with the fix, and with an exit code systemd's unit does not
// restart into (RestartPreventExitStatus=78): a restart cannot build the addon.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT } from '../../src/errors.js';
import { FIXTURE_APPS, REPO_ROOT } from '../helpers/corral.js';
import { copyInstall } from '../helpers/install-copy.js';

/** A copy of this install whose build/Release holds every addon but sd_notify's. */
function installWithoutNotifyAddon(): string {
  const root = copyInstall({ prefix: 'corral-no-notify-', linkBuild: false });
  const release = join(REPO_ROOT, 'build', 'Release');
  mkdirSync(join(root, 'build', 'Release'), { recursive: true });
  for (const name of readdirSync(release)) if (name.endsWith('.node') && name !== 'sd_notify.node') cpSync(join(release, name), join(root, 'build', 'Release', name));
  return root;
}

test('NOTIFY_SOCKET set and the sd_notify addon missing: corral start stops at once with CORRAL_ERR_NOTIFY and the fix, exit 78 (not restarted by the unit)', () => {
  const install = installWithoutNotifyAddon();
  const dir = mkdtempSync(join(tmpdir(), 'corral-no-notify-run-'));
  try {
    const pidFile = join(dir, 'corral.pid');
    const r = spawnSync(process.execPath, [join(install, 'bin', 'corral'), 'start'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        CORRAL_ENV_FILE: 'none',
        CORRAL_BIND: '127.0.0.1:0',
        CORRAL_ADMIN_BIND: '127.0.0.1:0',
        CORRAL_LOG_FILE: join(dir, 'corral.log'),
        CORRAL_PIDFILE: pidFile,
        CORRAL_DATA_DIR: join(dir, 'data'),
        CORRAL_WORKERS: '1',
        CORRAL_APP: join(FIXTURE_APPS, 'basic.mjs'),
        // Nobody listens there: the addon's absence is found before anything is sent.
        NOTIFY_SOCKET: join(dir, 'notify.sock'),
      },
    });
    assert.equal(r.error, undefined, 'it exits by itself, at once');
    assert.match(r.stderr, /^corral start: \[CORRAL_ERR_NOTIFY\] NOTIFY_SOCKET is set but the sd_notify addon is missing .*npm rebuild/);
    assert.equal(r.status, EXIT.CONFIG, r.stderr);
    assert.equal(existsSync(pidFile), false, 'no pidfile: nothing started');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(install, { recursive: true, force: true });
  }
});
