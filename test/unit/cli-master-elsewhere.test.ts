// findMasterHere: no pidfile names a master, but one answers the admin API at CORRAL_ADMIN_BIND
// (started with another CORRAL_PIDFILE). The integration test (cli.test.ts) covers a master whose
// workers serve; this one, a master whose health is 503 (no worker ready: a crash loop, every worker
// stuck), which is a master all the same.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { CorralError } from '../../src/errors.js';
import type { MasterLookup } from '../../src/cli/lookup-settings.js';
import { masterAdminUrl, recordedAdminUrl } from '../../src/cli/master-admin-api.js';
import { findMasterHere } from '../../src/cli/master-process.js';
import { writePidfile } from '../../src/master/pidfile.js';
import { procReaders } from '../../src/master/proc-identity.js';
import { testSettings } from '../fixtures/fake-admin-view.js';

const TOKEN = 'elsewhere-token-0123456789';

/** The Authorization headers the fake admin APIs were sent. */
const authorizations: string[] = [];

/**
 * An admin API whose health says `health` with `status`, and whose reload state (no token, as a
 * master's) and stats (with the token) name master pid 4242.
 */
async function fakeAdmin(status: number, health: Record<string, unknown>): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.headers.authorization !== undefined) authorizations.push(req.headers.authorization);
    const body =
      req.url === '/api/admin/health'
        ? health
        : req.url === '/api/admin/reload'
          ? { success: true, master_pid: 4242, stopping: false }
          : req.url === '/api/admin/stats' && req.headers.authorization === `Bearer ${TOKEN}`
            ? { success: true, master: { pid: 4242 } }
            : { success: false, error: 'not_found' };
    res.writeHead(req.url === '/api/admin/health' ? status : body.success ? 200 : 404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/**
 * What findMasterHere refuses with when no pidfile is at CORRAL_PIDFILE and CORRAL_ADMIN_BIND is a
 * fake admin API whose health says `health` with `status`.
 */
async function refusalBesideFakeAdmin(status: number, health: Record<string, unknown>): Promise<CorralError> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-elsewhere-'));
  const server = await fakeAdmin(status, health);
  try {
    const port = (server.address() as AddressInfo).port;
    const settings = testSettings({ CORRAL_PIDFILE: join(dir, 'moved.pid'), CORRAL_ADMIN_BIND: `127.0.0.1:${port}`, CORRAL_ADMIN_TOKEN: TOKEN });
    const found = await findMasterHere({ settings, adminApi: true, envFile: '/srv/app/.env', envFileNone: false, pidfileSource: '.env', tokenInvalid: false }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(found instanceof CorralError, `findMasterHere did not refuse with a CorralError: ${String(found)}`);
    return found;
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('findMasterHere with no pidfile at CORRAL_PIDFILE', () => {
  for (const [why, status, health] of [
    ['workers serving', 200, { status: 'ok', workers_ready: 1, workers_expected: 1 }],
    ['every worker stuck (health 503 unavailable)', 503, { status: 'unavailable', workers_ready: 0, workers_expected: 2, workers_not_beating: 2 }],
  ] as const) {
    it(`says a master answers the admin API elsewhere, not "not running", with ${why}`, async () => {
      const err = await refusalBesideFakeAdmin(status, health);
      assert.equal(err.code, 'CORRAL_ERR_MASTER_ELSEWHERE', err.message);
      assert.match(err.message, /master pid 4242/);
      // Which settings this command read: the master may have been started with another file.
      assert.match(err.message, /another settings file: this command read \/srv\/app\/\.env\)/);
    });
  }
  it('says not running when what answers there is no corral (a 503 without health figures)', async () => {
    const err = await refusalBesideFakeAdmin(503, { error: 'maintenance' });
    assert.equal(err.code, 'CORRAL_ERR_NOT_RUNNING', err.message);
  });
  it('sends CORRAL_ADMIN_TOKEN to nothing it finds there: while corral is down, any local user may listen on its admin port and answer as a master', async () => {
    // The token sent with `corral status`, `stop` or `reload` (root's, through sudo) to whatever
    // held CORRAL_ADMIN_BIND's port was theirs: the admin API, and the whole sheet through
    // GET /api/export on the public port, players' codes included.
    authorizations.length = 0;
    const err = await refusalBesideFakeAdmin(200, { status: 'ok', workers_ready: 1, workers_expected: 1 });
    assert.equal(err.code, 'CORRAL_ERR_MASTER_ELSEWHERE', err.message);
    // Its pid all the same, from what a master says without a token.
    assert.match(err.message, /master pid 4242/);
    assert.deepEqual(authorizations, []);
  });
});

describe('findMasterHere when nothing answers', () => {
  const notRunning = async (envFile: string | undefined, read: Partial<Pick<MasterLookup, 'envFileNone' | 'pidfileSource'>> = {}): Promise<string> => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-elsewhere-'));
    // A port nothing listens on: bound, then closed.
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    try {
      const settings = testSettings({ CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_ADMIN_BIND: `127.0.0.1:${port}` });
      let message = '';
      await assert.rejects(findMasterHere({ settings, adminApi: true, envFile, envFileNone: false, pidfileSource: 'default', ...read, tokenInvalid: false }), (err: unknown) => {
        assert.ok(err instanceof CorralError);
        assert.equal(err.code, 'CORRAL_ERR_NOT_RUNNING', err.message);
        message = err.message;
        return true;
      });
      return message;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('says no settings file was read, and how to name the one a service was started with', async () => {
    // The install directory has no .env: the default pidfile was looked at, not the service's.
    const message = await notRunning(undefined);
    assert.match(message, /^corral is not running \(no pidfile at .*corral\.pid\); no settings file was read \(no \.env in .*, CORRAL_ENV_FILE unset\)/);
    assert.match(message, /CORRAL_ENV_FILE=\/etc\/corral\/corral\.env corral <command>/);
  });

  it('says the pidfile looked at is the environment\'s, not the default, when CORRAL_PIDFILE is set there', async () => {
    const message = await notRunning(undefined, { pidfileSource: 'environment' });
    assert.match(message, /no settings file was read \(no \.env in .*, CORRAL_ENV_FILE unset\), so the CORRAL_PIDFILE of the environment was looked at: /);
    assert.doesNotMatch(message, /the default CORRAL_PIDFILE/);
  });

  it('says CORRAL_ENV_FILE=none when that is why no file was read', async () => {
    const message = await notRunning(undefined, { envFileNone: true, pidfileSource: 'default' });
    assert.match(message, /no settings file was read \(CORRAL_ENV_FILE=none\), so the default CORRAL_PIDFILE was looked at: /);
  });

  it('adds nothing when a settings file was read', async () => {
    assert.match(await notRunning('/srv/app/.env'), /^corral is not running \(no pidfile at .*corral\.pid\)$/);
  });
});

describe('masterAdminUrl: the address recorded beside the pidfile', () => {
  it('is asked when it names this host, and not when it names another (the token would go there): the settings name it then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-stamp-'));
    try {
      const pidfile = join(dir, 'corral.pid');
      const settings = testSettings({ CORRAL_PIDFILE: pidfile, CORRAL_ADMIN_BIND: '127.0.0.1:9555' });
      writePidfile(pidfile, procReaders, { gracefulTimeoutS: 30, adminUrl: 'http://127.0.0.1:40123' });
      assert.equal(masterAdminUrl(settings, process.pid), 'http://127.0.0.1:40123');
      // The stamp rewritten by whoever may write the pidfile's directory.
      writePidfile(pidfile, procReaders, { gracefulTimeoutS: 30, adminUrl: 'http://192.0.2.10:9090' });
      assert.equal(masterAdminUrl(settings, process.pid), 'http://127.0.0.1:9555');
      writePidfile(pidfile, procReaders, { gracefulTimeoutS: 30, adminUrl: 'http://evil.example:9090' });
      assert.equal(masterAdminUrl(settings, process.pid), 'http://127.0.0.1:9555', 'a name, which DNS answers, never');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is checked so for reload --wait's record too, which sends the token there", () => {
    const settings = testSettings({ CORRAL_ADMIN_BIND: '127.0.0.1:9555' });
    assert.equal(recordedAdminUrl(settings, 'http://127.0.0.1:40123'), 'http://127.0.0.1:40123');
    assert.equal(recordedAdminUrl(settings, 'http://192.0.2.10:9090'), 'http://127.0.0.1:9555');
    assert.equal(recordedAdminUrl(settings, null), null, 'its admin API did not start: said as such');
    assert.equal(recordedAdminUrl(settings, undefined), 'http://127.0.0.1:9555', 'an older master, none recorded');
    assert.equal(recordedAdminUrl(testSettings({ CORRAL_ADMIN_BIND: '127.0.0.1:0' }), 'http://evil.example:9090'), undefined, 'another host, and no port to ask instead');
  });
});
