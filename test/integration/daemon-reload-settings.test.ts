// What a reload re-reads from the settings file and what it cannot apply: the answer to the admin
// API's reload and the log say which settings keep their running value until a restart.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { startCorral, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

const ADMIN_TOKEN = 'integration-admin-token-1234';

interface ReloadBody {
  reload: string;
  generation: number;
  restart_needed: { setting: string; running: string; configured: string }[];
  message: string;
}

async function reloadThroughAdmin(c: CorralProcess): Promise<ReloadBody> {
  const r = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(r.status, 202, r.text);
  const body = r.json<ReloadBody>();
  await c.waitForLog((l) => l.event === 'reload.done' && l.generation === body.generation, 20000, `reload.done of generation ${body.generation}`);
  return body;
}

test('a reload answers which edited settings only a restart applies, at every reload until they run, and applies CORRAL_WORKERS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-reload-settings-'));
  const envFile = join(dir, 'corral.env');
  writeFileSync(envFile, 'CORRAL_WORKERS=1\n');
  // CORRAL_PIDFILE from the file only (the environment would win over it): by default corral.pid in the working directory.
  const c = await startCorral({ app: 'basic.mjs', workers: null, unset: ['CORRAL_PIDFILE'], env: { CORRAL_ENV_FILE: envFile, CORRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
  try {
    assert.ok(existsSync(c.pidFile));
    writeFileSync(envFile, `CORRAL_WORKERS=2\nCORRAL_ACCEPT=round-robin\nCORRAL_PIDFILE=${join(dir, 'moved.pid')}\n`);
    const first = await reloadThroughAdmin(c);
    assert.equal(first.reload, 'started');
    const expected = [
      { setting: 'CORRAL_ACCEPT', running: 'shared', configured: 'round-robin' },
      { setting: 'CORRAL_PIDFILE', running: c.pidFile, configured: join(dir, 'moved.pid') },
    ];
    assert.deepEqual(first.restart_needed, expected);
    assert.match(first.message, /not applied until a restart \(systemctl restart corral\): CORRAL_ACCEPT stays shared \(configured: round-robin\)/);
    assert.equal(c.events('worker.ready').filter((l) => l.generation === first.generation).length, 2, 'CORRAL_WORKERS applied');
    assert.ok(existsSync(c.pidFile) && !existsSync(join(dir, 'moved.pid')), 'the pidfile stays where the master wrote it');

    // The same file again: nothing of it applied yet, and the answer still says so.
    const second = await reloadThroughAdmin(c);
    assert.deepEqual(second.restart_needed, expected);
    assert.equal(c.events('config.restart_needed').length, 2, 'the log says each change once');

    // Edited back to what runs: nothing left for a restart, and no line says it changed.
    writeFileSync(envFile, 'CORRAL_WORKERS=2\n');
    const third = await reloadThroughAdmin(c);
    assert.deepEqual(third.restart_needed, []);
    assert.doesNotMatch(third.message, /restart/);
    assert.equal(c.events('config.restart_needed').length, 2);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload that changes CORRAL_BIND moves the listener: the log says where to, the old address refuses once the old workers drain', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-reload-bind-'));
  const envFile = join(dir, 'corral.env');
  const [before, after] = [await freePort(), await freePort()];
  writeFileSync(envFile, `CORRAL_BIND=127.0.0.1:${before}\n`);
  // CORRAL_BIND from the file only: the environment would win over it.
  const c = await startCorral({ app: 'basic.mjs', workers: 1, unset: ['CORRAL_BIND'], env: { CORRAL_ENV_FILE: envFile } });
  try {
    assert.equal(c.url, `http://127.0.0.1:${before}`);
    writeFileSync(envFile, `CORRAL_BIND=127.0.0.1:${after}\n`);
    c.kill('SIGHUP');
    const moved = await c.waitForLog((l) => l.event === 'config.bind_moved', 10000, 'config.bind_moved');
    assert.deepEqual([moved.running, moved.configured], [`127.0.0.1:${before}`, `127.0.0.1:${after}`]);
    assert.match(String(moved.msg), /closes as the old workers begin to drain, once the new ones have settled: new connections to it are refused from then on, the requests already on it finish/);
    const done = await c.waitForLog((l) => l.event === 'reload.done', 20000, 'reload.done');
    assert.equal(done.port, after);
    assert.equal((await http(`http://127.0.0.1:${after}/`, { headers: { connection: 'close' } })).json<{ generation: number }>().generation, 2);
    await assert.rejects(http(`http://127.0.0.1:${before}/`, { headers: { connection: 'close' }, timeoutMs: 2000 }), /ECONNREFUSED/);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload whose settings file edits a setting the master\'s environment also sets: the log and the reload answer say the edit has no effect (secrets redacted)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-reload-env-overrides-'));
  const envFile = join(dir, 'corral.env');
  // The same values as the environment: nothing is overridden yet.
  writeFileSync(envFile, `CORRAL_WORKERS=1\nCORRAL_ADMIN_TOKEN=${ADMIN_TOKEN}\nCORRAL_MAX_REQUESTS=0\n`);
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_ENV_FILE: envFile, CORRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
  try {
    assert.deepEqual(c.events('config.env_overrides'), [], 'values equal to the environment\'s override nothing');
    const otherToken = 'a-token-only-the-file-has-5678';
    writeFileSync(envFile, `CORRAL_WORKERS=2\nCORRAL_ADMIN_TOKEN=${otherToken}\nCORRAL_MAX_REQUESTS=0\n`);
    const body = (await reloadThroughAdmin(c)) as ReloadBody & { env_overrides: { setting: string; file: string; environment: string }[] };
    assert.deepEqual(
      [...body.env_overrides].sort((a, b) => a.setting.localeCompare(b.setting)),
      [
        { setting: 'CORRAL_ADMIN_TOKEN', file: '<redacted>', environment: '<redacted>' },
        { setting: 'CORRAL_WORKERS', file: '2', environment: '1' },
      ],
    );
    assert.match(body.message, /set in the master's environment too, which wins over the settings file: .*CORRAL_WORKERS stays 1 \(the file says 2\)/);
    const line = await c.waitForLog((l) => l.event === 'config.env_overrides', 10000, 'config.env_overrides');
    assert.deepEqual([...(line.settings as string[])].sort(), ['CORRAL_ADMIN_TOKEN', 'CORRAL_WORKERS']);
    assert.equal(line.level, 'warn');
    assert.equal(line.env_file, envFile);
    assert.match(String(line.msg), /CORRAL_WORKERS \(file: 2, used: 1\).*remove them from the environment/);
    assert.doesNotMatch(JSON.stringify(c.logs()) + JSON.stringify(body), new RegExp(`${otherToken}|${ADMIN_TOKEN}`), 'no token in the log or the answer');
    assert.equal(c.events('worker.ready').filter((l) => l.generation === body.generation).length, 1, 'the environment\'s CORRAL_WORKERS still applies');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** One worker on 127.0.0.1:<a free port>, CORRAL_BIND and CORRAL_WORKERS read from a settings file only (the environment would win over it). */
async function startWithBindInFile(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const envFile = join(dir, 'corral.env');
  const port = await freePort();
  writeFileSync(envFile, `CORRAL_BIND=127.0.0.1:${port}\nCORRAL_WORKERS=1\n`);
  const c = await startCorral({ app: 'basic.mjs', workers: null, unset: ['CORRAL_BIND'], env: { CORRAL_ENV_FILE: envFile, CORRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
  assert.equal(c.url, `http://127.0.0.1:${port}`);
  return { dir, envFile, port, c };
}

test('a reload from 127.0.0.1:P to 0.0.0.0:P (the same port, overlapping, while the old generation holds it): the new address is refused at once as needing a restart, and the rest of the reload applies on the old one', async () => {
  const { dir, envFile, port, c } = await startWithBindInFile('corral-reload-bind-overlap-');
  try {
    writeFileSync(envFile, `CORRAL_BIND=0.0.0.0:${port}\nCORRAL_WORKERS=2\n`);
    const r = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 202, r.text);
    const body = r.json<ReloadBody>();
    assert.deepEqual(body.restart_needed, [{ setting: 'CORRAL_BIND', running: `127.0.0.1:${port}`, configured: `0.0.0.0:${port}` }]);
    assert.match(body.message, /CORRAL_BIND stays 127\.0\.0\.1:\d+ \(configured: 0\.0\.0\.0:\d+\)/);
    // Before, each boot attempt of the new generation failed with EADDRINUSE until the reload was
    // rolled back: no boot failed is what "at once" means here, not a time (a busy host boots slowly).
    const end = await c.waitForLog((l) => (l.event === 'reload.done' || l.event === 'reload.failed') && l.generation === body.generation, 60_000, 'the reload\'s end');
    assert.equal(end.event, 'reload.done', JSON.stringify(end));
    assert.equal(end.port, port);
    assert.deepEqual(c.events('worker.boot_failed'), []);
    assert.deepEqual(c.events('config.bind_moved'), []);
    const line = c.events('config.restart_needed').find((l) => l.setting === 'CORRAL_BIND');
    assert.ok(line, 'config.restart_needed for CORRAL_BIND');
    assert.deepEqual([line.running, line.configured], [`127.0.0.1:${port}`, `0.0.0.0:${port}`]);
    assert.match(String(line.msg), /overlaps 127\.0\.0\.1:\d+, which the running workers listen on.*needs a restart \(systemctl restart corral\)/);
    assert.equal(c.events('worker.ready').filter((l) => l.generation === body.generation).length, 2, 'the new CORRAL_WORKERS applied');
    assert.deepEqual(c.events('worker.listening').filter((l) => l.gen === body.generation).map((l) => l.address), ['127.0.0.1', '127.0.0.1']);
    assert.equal((await http(c.url)).json<{ generation: number }>().generation, body.generation);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload from 127.0.0.1:P to localhost:P is applied: the new workers listen (localhost shares the running socket, or resolves to ::1 beside it), not kept back as EADDRINUSE needing a restart', async () => {
  const { dir, envFile, port, c } = await startWithBindInFile('corral-reload-bind-localhost-');
  try {
    writeFileSync(envFile, `CORRAL_BIND=localhost:${port}\nCORRAL_WORKERS=1\n`);
    const r = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 202, r.text);
    const body = r.json<ReloadBody>();
    // Before, the reload kept 127.0.0.1 and said the new workers could not bind localhost (EADDRINUSE).
    assert.deepEqual(body.restart_needed, []);
    const end = await c.waitForLog((l) => (l.event === 'reload.done' || l.event === 'reload.failed') && l.generation === body.generation, 20000, "the reload's end");
    assert.equal(end.event, 'reload.done', JSON.stringify(end));
    assert.equal(end.port, port);
    assert.deepEqual(c.events('worker.boot_failed'), []);
    assert.deepEqual(c.events('config.restart_needed'), []);
    assert.equal(c.events('config.bind_moved').length, 1);
    const listened = c.events('worker.listening').filter((l) => l.gen === body.generation).map((l) => l.address);
    assert.equal(listened.length, 1);
    assert.ok(listened[0] === '127.0.0.1' || listened[0] === '::1', `the new worker listens on loopback (${String(listened[0])})`);
    const host = listened[0] === '::1' ? '[::1]' : '127.0.0.1';
    assert.equal((await http(`http://${host}:${port}/`)).json<{ generation: number }>().generation, body.generation);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload after the service-account key file went away is refused with the message start gives, and the running generation keeps serving', async () => {
  const emu = await startEmulator({});
  const dir = mkdtempSync(join(tmpdir(), 'corral-reload-key-'));
  const keyFile = join(dir, 'key.json');
  writeFileSync(keyFile, JSON.stringify(emu.registerServiceAccount()));
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { SHEET_ID: emu.spreadsheetId, SHEETS_API_URL: emu.url, GOOGLE_APPLICATION_CREDENTIALS: keyFile } });
  try {
    await c.waitForLog((l) => l.event === 'keeper.ready', 30_000, 'keeper.ready');
    rmSync(keyFile);
    c.kill('SIGHUP');
    const refused = await c.waitForLog((l) => l.event === 'reload.failed', 15_000, 'reload.failed');
    const err = refused.err as { code: string; message: string };
    assert.equal(err.code, 'CORRAL_ERR_CONFIG_INVALID');
    assert.match(err.message, new RegExp(`GOOGLE_APPLICATION_CREDENTIALS="${keyFile}" \\(from environment\\): cannot read the service-account key GOOGLE_APPLICATION_CREDENTIALS=${keyFile}: ENOENT.*; give the path of a service account's JSON key file`));
    // The running generation and its keeper go on: nothing was started or drained.
    assert.equal((await http(c.url)).json<{ generation: number }>().generation, 1);
    assert.deepEqual([c.events('reload.start'), c.events('keeper.restart')], [[], []]);
  } finally {
    await c.stop();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload lowering CORRAL_TIMEOUT to 1 leaves the keeper it keeps ready in health, stats and /metrics: it is judged by the beat it was started with (every 1 s), not by the new timeout\'s (every 250 ms)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-reload-timeout-'));
  const envFile = join(dir, 'corral.env');
  writeFileSync(envFile, 'CORRAL_TIMEOUT=30\n');
  // The bundled app (the default CORRAL_APP) runs a keeper, which a CORRAL_TIMEOUT edit does not restart.
  const c = await startCorral({ workers: 1, env: { CORRAL_ENV_FILE: envFile, CORRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  type Stats = { keeper: { pid: number; heartbeat_late: boolean; heartbeat_late_after_s: number } | null; workers: { heartbeat_late_after_s: number }[] };
  const stats = async () => (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<Stats>();
  try {
    await c.waitForLog((l) => l.event === 'keeper.ready', 30_000, 'keeper.ready');
    const keeperPid = (await stats()).keeper?.pid;
    assert.ok(keeperPid, 'the stats name the keeper');
    writeFileSync(envFile, 'CORRAL_TIMEOUT=1\n');
    const reload = await reloadThroughAdmin(c);
    assert.equal(reload.reload, 'started');
    const after = await stats();
    assert.equal(after.keeper?.pid, keeperPid, 'the keeper outlived the reload');
    assert.equal(after.keeper?.heartbeat_late_after_s, 3, 'three of its own beats, one a second');
    assert.deepEqual(after.workers.map((w) => w.heartbeat_late_after_s), [0.75], 'the new worker beats every 250 ms');
    // It beats every second: judged by CORRAL_TIMEOUT=1 (late after 3 × 250 ms) a quarter of
    // these polls found it not beating (6 of 30 before the fix).
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) {
      const health = (await http(`${c.adminUrl}/api/admin/health`)).json<{ keeper?: string }>();
      if (health.keeper !== undefined) seen.push(`health keeper ${health.keeper}`);
      if (i % 3 === 0) {
        if ((await stats()).keeper?.heartbeat_late !== false) seen.push('stats heartbeat_late');
        if (!/^corral_keeper_ready 1$/m.test((await http(`${c.adminUrl}/metrics`, { headers: auth })).text)) seen.push('corral_keeper_ready 0');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(seen, [], 'the healthy keeper was never taken for not beating');
    assert.deepEqual([c.events('keeper.timeout'), c.events('keeper.restart')], [[], []]);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload after the env file read at start went away is refused (409, reload.failed) naming it, rather than reloading with every default', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-reload-envfile-'));
  // The default ./.env, as an operator's deployment has it.
  writeFileSync(join(dir, '.env'), `CORRAL_WORKERS=1\nCORRAL_ADMIN_TOKEN=${ADMIN_TOKEN}\n`);
  const c = await startCorral({ app: 'basic.mjs', workers: null, cwd: dir, unset: ['CORRAL_ENV_FILE'] });
  try {
    rmSync(join(dir, '.env'));
    const r = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 409, r.text);
    const body = r.json<{ error: string; code: string; message: string }>();
    assert.deepEqual([body.error, body.code], ['reload_refused', 'CORRAL_ERR_ENV_FILE']);
    const said = `the env file ${join(dir, '.env')}, read at start, is gone; restore it, or create an empty file there (touch ${join(dir, '.env')}) to reload with the defaults`;
    assert.ok(body.message.endsWith(said), body.message);
    const failed = await c.waitForLog((l) => l.event === 'reload.failed', 10_000, 'reload.failed');
    assert.equal((failed.err as { message: string }).message, said);
    assert.deepEqual(c.events('reload.start'), []);
    // An empty file in its place is the defaults, asked for.
    writeFileSync(join(dir, '.env'), '');
    const empty = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    // The token came from the file: an empty one has none, and the reload is refused no more.
    assert.equal(empty.status, 202, empty.text);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
