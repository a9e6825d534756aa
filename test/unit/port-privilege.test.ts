// A port below net.ipv4.ip_unprivileged_port_start (1024) passed `corral config --check` run as a
// user without CAP_NET_BIND_SERVICE, and `corral start` as that user then failed every worker's
// listen (EACCES). A warning, not a refusal: the check may be run by another user than the one the
// unit runs as, and the unit written by `corral systemd-unit` grants the capability.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createServer } from 'node:net';
import { privilegedPortWarnings } from '../../src/config/port-privilege.js';
import { CORRAL_BIN } from '../helpers/corral.js';

const CAP_NET_BIND_SERVICE = 1n << 10n;
const without = { unprivilegedPortStart: () => 1024, effectiveCapabilities: () => 0n, uid: () => 1000 };

test('a port below the unprivileged start, without CAP_NET_BIND_SERVICE, is warned of, naming the setting, the user and the fixes', () => {
  const [warning, ...rest] = privilegedPortWarnings({ CORRAL_BIND: { host: '0.0.0.0', port: 80 } }, without);
  assert.equal(rest.length, 0);
  assert.match(warning ?? '', /^CORRAL_BIND=0\.0\.0\.0:80: port 80 is below 1024 \(net\.ipv4\.ip_unprivileged_port_start\) and this user \(uid 1000\) lacks CAP_NET_BIND_SERVICE, so corral start as this user would fail every worker's listen \(EACCES\); the unit written by `corral systemd-unit` grants it \(AmbientCapabilities=CAP_NET_BIND_SERVICE\); otherwise use a port of 1024 or more behind a proxy$/);
  const [admin] = privilegedPortWarnings({ CORRAL_ADMIN_BIND: { host: '127.0.0.1', port: 443 } }, without);
  assert.match(admin ?? '', /^CORRAL_ADMIN_BIND=127\.0\.0\.1:443: .* so corral would start without its admin API \(admin\.failed\);/);
});

test('no warning with the capability (root, or the unit), at or above the start, for port 0, or with the start lowered', () => {
  const bind = { CORRAL_BIND: { host: '0.0.0.0', port: 80 }, CORRAL_ADMIN_BIND: { host: '127.0.0.1', port: 0 } };
  assert.deepEqual(privilegedPortWarnings(bind, { ...without, effectiveCapabilities: () => CAP_NET_BIND_SERVICE | 1n }), []);
  assert.deepEqual(privilegedPortWarnings({ CORRAL_BIND: { host: '0.0.0.0', port: 1024 } }, without), []);
  assert.deepEqual(privilegedPortWarnings({ CORRAL_ADMIN_BIND: { host: '127.0.0.1', port: 0 } }, without), []);
  assert.deepEqual(privilegedPortWarnings(bind, { ...without, unprivilegedPortStart: () => 80 }), []);
  // Unreadable (no /proc): nothing is said rather than a guess.
  assert.deepEqual(privilegedPortWarnings(bind, { ...without, effectiveCapabilities: () => undefined }), []);
});

/** A port below 1024 nothing listens on (as root): the check tries a free one, and refuses a held one. */
async function freePrivilegedPort(): Promise<number> {
  for (let port = 1023; port > 900; port -= 1) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 901 and 1023');
}

test('config --check run as a user without the capability warns of CORRAL_BIND on a port below 1024 (exit 0); as root it does not', { skip: process.getuid?.() !== 0 ? 'needs root to run the check as another user' : false }, async () => {
  const port = await freePrivilegedPort();
  const dir = mkdtempSync(join(tmpdir(), 'corral-port-privilege-'));
  try {
    chmodSync(dir, 0o777);
    const env = { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_BIND: `127.0.0.1:${port}`, CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_DATA_DIR: join(dir, 'data') };
    const asNobody = spawnSync(process.execPath, [CORRAL_BIN, 'config', '--check'], { cwd: dir, env, uid: 65534, gid: 65534, encoding: 'utf8', timeout: 30_000 });
    assert.equal(asNobody.status, 0, asNobody.stderr);
    assert.match(asNobody.stdout, /^settings OK \(env file: \(none\); 1 warning on stderr\)/);
    assert.match(asNobody.stderr, new RegExp(`^warning: CORRAL_BIND=127\\.0\\.0\\.1:${port}: port ${port} is below \\d+ .* this user \\(uid 65534\\) lacks CAP_NET_BIND_SERVICE`, 'm'));
    const asRoot = spawnSync(process.execPath, [CORRAL_BIN, 'config', '--check'], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(asRoot.status, 0, asRoot.stderr);
    assert.doesNotMatch(asRoot.stderr, /CAP_NET_BIND_SERVICE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
