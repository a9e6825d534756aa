import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkBindHost } from '../../src/config/bind-check.js';
import { CORRAL_BIN } from '../helpers/corral.js';

// 192.0.2.1 is TEST-NET-1 (RFC 5737): an address no interface of a test machine has.
const NOT_HERE = '192.0.2.1';

test('an address of this host can be listened on; one no interface has, or a name that does not resolve, cannot', async () => {
  assert.deepEqual(await checkBindHost('127.0.0.1'), { kind: 'ok' });
  assert.deepEqual(await checkBindHost('0.0.0.0'), { kind: 'ok' });
  assert.deepEqual(await checkBindHost('localhost'), { kind: 'ok' });
  assert.deepEqual(await checkBindHost(NOT_HERE), { kind: 'refused', why: `no interface of this host has the address ${NOT_HERE} (EADDRNOTAVAIL)` });
  // Refused when the resolver says the name does not exist; unknown when it cannot answer now
  // (a machine without DNS): either way, not taken for an address corral could listen on.
  const name = await checkBindHost('no-such-host.invalid');
  assert.notEqual(name.kind, 'ok');
  if (name.kind === 'refused') assert.match(name.why, /^the host name no-such-host\.invalid does not resolve \(E[A-Z_]+\)$/);
});

test('config --check refuses a CORRAL_BIND or CORRAL_ADMIN_BIND this host cannot listen on (exit 78, naming each), where start would fail every listen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bind-check-'));
  try {
    const env = { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_DATA_DIR: join(dir, 'data'), CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_ADMIN_TOKEN: 'bind-check-token-0123456789' };
    const check = (extra: Record<string, string>) => spawnSync(process.execPath, [CORRAL_BIN, 'config', '--check'], { cwd: dir, env: { ...env, ...extra }, encoding: 'utf8', timeout: 30_000 });
    const refused = check({ CORRAL_BIND: `${NOT_HERE}:8080`, CORRAL_ADMIN_BIND: `${NOT_HERE}:9090` });
    assert.equal(refused.status, 78, refused.stderr);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, new RegExp(`CORRAL_BIND="${NOT_HERE}:8080" \\(from environment\\): an address this host can listen on: no interface of this host has the address ${NOT_HERE.replace(/\./g, '\\.')} \\(EADDRNOTAVAIL\\), so every worker would fail its listen`));
    assert.match(refused.stderr, /CORRAL_ADMIN_BIND="192\.0\.2\.1:9090" \(from environment\): .*so corral would start without its admin API \(admin\.failed\); point CORRAL_ADMIN_BIND at an address of this host/);
    const ok = check({ CORRAL_BIND: '127.0.0.1:8080', CORRAL_ADMIN_BIND: '127.0.0.1:9090' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^settings OK/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config --check judges the addresses beside the other problems: an admin address this host does not have, without a token, is refused for both, each from its line of the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bind-check-'));
  try {
    writeFileSync(join(dir, '.env'), `CORRAL_WORKERS=2\nCORRAL_ADMIN_BIND=${NOT_HERE}:9090\nCORRAL_BIND=${NOT_HERE}:8080\n`);
    const env = { PATH: process.env.PATH ?? '', CORRAL_DATA_DIR: join(dir, 'data'), CORRAL_PIDFILE: join(dir, 'corral.pid') };
    const r = spawnSync(process.execPath, [CORRAL_BIN, 'config', '--check'], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 78, r.stderr);
    const file = join(dir, '.env').replace(/[.]/g, '\\.');
    // Before, the token's refusal alone: that the address is not this host's came once a token was set.
    assert.match(r.stderr, new RegExp(`CORRAL_ADMIN_BIND="192\\.0\\.2\\.1:9090" \\(from ${file} line 2\\): .*CORRAL_ADMIN_TOKEN.*\\[CORRAL_ERR_ADMIN_UNSAFE\\]`));
    assert.match(r.stderr, new RegExp(`CORRAL_ADMIN_BIND="192\\.0\\.2\\.1:9090" \\(from ${file} line 2\\): an address this host can listen on: no interface of this host has the address 192\\.0\\.2\\.1 \\(EADDRNOTAVAIL\\)`));
    assert.match(r.stderr, new RegExp(`CORRAL_BIND="192\\.0\\.2\\.1:8080" \\(from ${file} line 3\\): an address this host can listen on`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
