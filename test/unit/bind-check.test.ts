import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createServer, type Server } from 'node:net';
import { bindPortProblems, checkBindHost, checkBindPort } from '../../src/config/bind-check.js';
import { CORRAL_BIN } from '../helpers/corral.js';
import { freePort } from '../helpers/ports.js';

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

test('config --check refuses a CORRAL_BIND or CORRAL_ADMIN_BIND this host cannot listen on (exit 78, naming each), where start would fail every listen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bind-check-'));
  try {
    const env = { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_DATA_DIR: join(dir, 'data'), CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_ADMIN_TOKEN: 'bind-check-token-0123456789' };
    const check = (extra: Record<string, string>) => spawnSync(process.execPath, [CORRAL_BIN, 'config', '--check'], { cwd: dir, env: { ...env, ...extra }, encoding: 'utf8', timeout: 30_000 });
    const refused = check({ CORRAL_BIND: `${NOT_HERE}:8080`, CORRAL_ADMIN_BIND: `${NOT_HERE}:9090` });
    assert.equal(refused.status, 78, refused.stderr);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, new RegExp(`CORRAL_BIND="${NOT_HERE}:8080" \\(from environment\\): an address this host can listen on: no interface of this host has the address ${NOT_HERE.replace(/\./g, '\\.')} \\(EADDRNOTAVAIL\\), so every worker would fail its listen`));
    assert.match(refused.stderr, /CORRAL_ADMIN_BIND="192\.0\.2\.1:9090" \(from environment\): .*so corral would start without its admin API \(admin\.failed\); point CORRAL_ADMIN_BIND at an address of this host/);
    // Free ports: with no corral running for these settings, the ports are tried too.
    const ok = check({ CORRAL_BIND: `127.0.0.1:${await freePort()}`, CORRAL_ADMIN_BIND: `127.0.0.1:${await freePort()}` });
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

/** A server of this process listening on a port of 127.0.0.1 (another program holding it). */
async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

test('a port another process listens on is taken, named with its holder; a free one, and port 0, are not', async () => {
  const held = await holdPort();
  try {
    const taken = await checkBindPort({ host: '127.0.0.1', port: held.port });
    assert.equal(taken.taken, true);
    // The holder is this test's process: the one checking never names itself (port-holder.ts), so
    // the generic hint when /proc shows nothing else.
    if (taken.taken) assert.match(taken.why, new RegExp(`^port ${held.port} is (held by pid ${process.pid} |in use by another process)`));
    assert.deepEqual(await checkBindPort({ host: '127.0.0.1', port: await freePort() }), { taken: false });
    const problems = await bindPortProblems({ CORRAL_BIND: { host: '127.0.0.1', port: held.port }, CORRAL_ADMIN_BIND: { host: '127.0.0.1', port: 0 } });
    assert.deepEqual(
      problems.map((p) => [p.name, p.value]),
      [['CORRAL_BIND', `127.0.0.1:${held.port}`]],
    );
  } finally {
    held.server.close();
  }
});

test('config --check, with no corral running for these settings, refuses ports another process listens on (start would fail every listen, or run without its admin API), naming the holder; every problem in one run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bind-check-'));
  const [workers, admin] = [await holdPort(), await holdPort()];
  try {
    const env = { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_DATA_DIR: join(dir, 'data'), CORRAL_PIDFILE: join(dir, 'corral.pid') };
    const check = (extra: Record<string, string>) => spawnSync(process.execPath, [CORRAL_BIN, 'config', '--check'], { cwd: dir, env: { ...env, ...extra }, encoding: 'utf8', timeout: 30_000 });
    const refused = check({ CORRAL_BIND: `127.0.0.1:${workers.port}`, CORRAL_ADMIN_BIND: `127.0.0.1:${admin.port}` });
    assert.equal(refused.status, 78, refused.stderr);
    assert.equal(refused.stdout, '');
    assert.match(
      refused.stderr,
      new RegExp(`CORRAL_BIND="127\\.0\\.0\\.1:${workers.port}" \\(from environment\\): a port no other process listens on: port ${workers.port} is held by pid ${process.pid} \\(.*\\), so every worker would fail its listen \\(corral start exits 3 after its boot attempts\\); stop it, or point CORRAL_BIND at a free port`),
    );
    assert.match(refused.stderr, new RegExp(`CORRAL_ADMIN_BIND="127\\.0\\.0\\.1:${admin.port}" \\(from environment\\): a port no other process listens on: port ${admin.port} is held by pid ${process.pid} .*so corral would start without its admin API \\(admin\\.failed\\)`));
    // Beside another problem, as every check of the settings.
    const both = check({ CORRAL_BIND: `127.0.0.1:${workers.port}`, CORRAL_WORKERS: 'zero' });
    assert.equal(both.status, 78);
    assert.match(both.stderr, /CORRAL_WORKERS="zero"/);
    assert.match(both.stderr, new RegExp(`CORRAL_BIND="127\\.0\\.0\\.1:${workers.port}".*a port no other process listens on`));
    // Without a pidfile whether a corral runs is not known (its own ports would read as taken):
    // the ports are not tried.
    const unknown = check({ CORRAL_BIND: `127.0.0.1:${workers.port}`, CORRAL_ADMIN_BIND: `127.0.0.1:${admin.port}`, CORRAL_PIDFILE: '' });
    assert.equal(unknown.status, 0, unknown.stderr);
  } finally {
    workers.server.close();
    admin.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two binds on one port (an overlap, refused on its own) are not each taken for the other: no port is said to be held', async () => {
  const port = await freePort();
  assert.deepEqual(await bindPortProblems({ CORRAL_BIND: { host: '0.0.0.0', port }, CORRAL_ADMIN_BIND: { host: '127.0.0.1', port } }), []);
});
