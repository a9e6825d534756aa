// corral upgraded on disk while it runs (git pull, npm ci), then reloaded: with the real master, run
// from a copy of the install whose compiled code the test changes, as an upgrade does.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CORRAL_BIN, REPO_ROOT, startCorral } from '../helpers/corral.js';
import { copyInstall } from '../helpers/install-copy.js';
import { http } from '../helpers/http.js';

test('a reload after corral was upgraded on disk restarts the keeper with the new build, and says the master runs the old one until a restart', async () => {
  const install = copyInstall();
  const token = 'upgrade-test-admin-token-0123456789';
  const c = await startCorral({ bin: join(install, 'bin', 'corral'), workers: 1, env: { CORRAL_ADMIN_TOKEN: token } });
  try {
    // The keeper's own line (the master logs a keeper.ready too, with its own pid).
    const keeperReady = () => c.events('keeper.ready').filter((l) => l.role === 'keeper');
    const firstKeeper = await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 10_000, 'the keeper');
    assert.equal((await http(`${c.url}/api/players`)).status, 200);

    // A new build: what `npm ci` of another version leaves in dist/.
    appendFileSync(join(install, 'dist', 'src', 'sheets', 'keeper', 'keeper.js'), '\n// another build\n');
    const reload = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(reload.status, 202, reload.text);
    const body = reload.json<{ restart_needed: { setting: string; running: string; configured: string }[]; message: string }>();
    assert.deepEqual(body.restart_needed.map((r) => r.setting), ['corral code']);
    assert.match(body.message, /corral code stays build [0-9a-f]{12} \(configured: build [0-9a-f]{12} on disk\)/);

    const said = await c.waitForLog((l) => l.event === 'reload.code_changed', 10_000, 'reload.code_changed');
    assert.notEqual(said.running, said.on_disk);
    const restart = await c.waitForLog((l) => l.event === 'keeper.restart', 10_000, 'keeper.restart');
    assert.deepEqual(restart.code, { running: said.running, on_disk: said.on_disk });
    const secondKeeper = await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper' && l.pid !== firstKeeper.pid, 30_000, 'a keeper of the new build');
    await c.waitForLog((l) => l.event === 'reload.done', 30_000, 'reload.done');
    assert.equal((await http(`${c.url}/api/players`)).status, 200, 'the new workers and the new keeper serve together');

    // Reloaded again with nothing new: the keeper of the new build stays.
    const again = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(again.status, 202, again.text);
    await c.waitForLog((l) => l.event === 'reload.done' && l.generation === 3, 30_000, 'the second reload');
    assert.equal(c.events('keeper.restart').length, 1);
    assert.equal(keeperReady().at(-1)?.pid, secondKeeper.pid);
    assert.equal(c.events('reload.code_changed').length, 1, 'said once per build');
  } finally {
    await c.stop();
    rmSync(install, { recursive: true, force: true });
  }
});

test("a reload after an upgrade in place whose build does not load the keeper keeps the running keeper and workers, and corral reload --wait fails saying what did not load", async () => {
  const install = copyInstall();
  const c = await startCorral({ bin: join(install, 'bin', 'corral'), workers: 1 });
  try {
    const keeper = await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 10_000, 'the keeper');
    const worker = await c.waitForLog((l) => l.event === 'worker.ready', 10_000, 'the worker');
    assert.equal((await http(`${c.url}/api/players`)).status, 200);

    // A new build left half written: its keeper module cut short.
    const keeperJs = join(install, 'dist', 'src', 'sheets', 'keeper', 'keeper.js');
    appendFileSync(keeperJs, '\nexport const cut = ;\n');
    const waited = await promisify(execFile)(process.execPath, [CORRAL_BIN, 'reload', '--wait'], { cwd: c.dir, env: { PATH: process.env.PATH ?? '', CORRAL_PIDFILE: c.pidFile }, timeout: 60_000 }).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
    assert.equal(waited.code, 1, waited.stderr);
    assert.equal(waited.stderr, "corral reload: last reload rolled back (CORRAL_ERR_CODE_LOAD), generation 1 serves; the log's reload.failed line says why\n");
    const failed = c.events('reload.failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.code, 'CORRAL_ERR_CODE_LOAD');
    const msg = String(failed[0]?.msg);
    assert.ok(msg.includes(`does not load the keeper: SyntaxError: Unexpected token ';' (${keeperJs}:`), msg);
    assert.match(msg, /the running keeper \(build [0-9a-f]{12}\) is kept, with its cache, quota and write journal, and no worker of the new generation was started: fix or rebuild corral/);
    assert.equal(c.events('keeper.load_check').length, 1);

    // The keeper and the worker that served before serve on: neither drained nor replaced.
    assert.deepEqual(c.events('keeper.restart'), []);
    const children = c.logs().filter((l) => ['worker.boot', 'keeper.boot', 'worker.exit', 'keeper.exit'].includes(l.event ?? ''));
    assert.deepEqual(children.map((l) => l.event), ['keeper.boot', 'worker.boot'], 'the boots of the start alone');
    process.kill(Number(keeper.pid), 0);
    process.kill(Number(worker.worker_pid), 0);
    assert.equal((await http(`${c.url}/api/players`)).status, 200);
  } finally {
    await c.stop();
    rmSync(install, { recursive: true, force: true });
  }
});

test('a release switched under the path corral was started as (a symlink deploy), then a reload: said to need a restart, as the workers run the old release', async () => {
  const deploy = mkdtempSync(join(tmpdir(), 'corral-deploy-'));
  const first = copyInstall();
  const second = copyInstall();
  const current = join(deploy, 'current');
  symlinkSync(first, current);
  const token = 'upgrade-test-admin-token-0123456789';
  const c = await startCorral({ bin: join(current, 'bin', 'corral'), workers: 1, env: { CORRAL_ADMIN_TOKEN: token } });
  try {
    rmSync(current);
    symlinkSync(second, current);
    const reload = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(reload.status, 202, reload.text);
    const body = reload.json<{ restart_needed: { setting: string; running: string; configured: string }[] }>();
    assert.deepEqual(body.restart_needed, [{ setting: 'corral code', running: realpathSync(first), configured: `${realpathSync(second)} (where ${join(current, 'bin', 'corral')} leads now)` }]);
    const said = await c.waitForLog((l) => l.event === 'reload.code_changed', 10_000, 'reload.code_changed');
    assert.deepEqual([said.running_dir, said.launcher_dir], [realpathSync(first), realpathSync(second)]);
    await c.waitForLog((l) => l.event === 'reload.done', 30_000, 'reload.done');
    assert.equal((await http(`${c.url}/api/players`)).status, 200);
  } finally {
    await c.stop();
    for (const dir of [deploy, first, second]) rmSync(dir, { recursive: true, force: true });
  }
});

test("a worker forked while corral's packages are being reinstalled (npm ci in place) says its own code could not load, not the app, and the next attempt boots once they are back", async () => {
  const install = copyInstall();
  const c = await startCorral({ bin: join(install, 'bin', 'corral'), workers: 1 });
  try {
    await c.waitForLog((l) => l.event === 'worker.ready', 10_000, 'the first worker');
    // What `npm ci` does first: node_modules goes away.
    rmSync(join(install, 'node_modules'));
    process.kill(c.pid, 'SIGTTIN');
    const failed = await c.waitForLog((l) => l.event === 'worker.boot_failed', 15_000, 'worker.boot_failed');
    assert.equal(failed.code, 'CORRAL_ERR_CODE_LOAD', JSON.stringify(failed));
    const bootError = failed.boot_error as { code: string; message: string };
    assert.match(bootError.message, /^corral's own code could not be loaded in a new worker \(.*Cannot find (package|module) .*\): its files changed under the running corral, as an npm ci or git pull/);
    assert.equal((await http(`${c.url}/api/players`)).status, 200, 'the worker already running serves on');
    // The packages are back: the next attempt (backoff) boots.
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(install, 'node_modules'));
    await c.waitForLog((l) => l.event === 'worker.ready' && l.worker_id !== undefined && c.events('worker.ready').length >= 2, 20_000, 'the second worker');
  } finally {
    await c.stop();
    rmSync(install, { recursive: true, force: true });
  }
});

test("an install without its keeper's file (an incomplete build) says so at start, and its workers still answer", async () => {
  const install = copyInstall();
  rmSync(join(install, 'dist', 'src', 'sheets', 'keeper-entry.js'));
  const c = await startCorral({ bin: join(install, 'bin', 'corral'), workers: 1 });
  try {
    const missing = await c.waitForLog((l) => l.event === 'keeper.entry_missing', 15_000, 'keeper.entry_missing');
    assert.equal(missing.code, 'CORRAL_ERR_CODE_LOAD');
    assert.equal(missing.path, join(install, 'dist', 'src', 'sheets', 'keeper-entry.js'));
    assert.match(String(missing.msg), /is missing, an incomplete build: .*rebuild corral \(npm ci, npm run build\) and restart it/);
    const health = await http(`${c.url}/api/admin/health`);
    assert.equal(health.json<{ status: string }>().status, 'ok', 'a worker answers; the sheet is what fails');
  } finally {
    await c.stop();
    rmSync(install, { recursive: true, force: true });
  }
});
