import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { lookup } from 'node:dns/promises';
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { procStamp } from '../../src/master/proc-identity.js';
import { CORRAL_BIN, FIXTURE_APPS, resumeIfStopped, startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { isAlive, readMasterRecord } from '../../src/master/pidfile.js';

const run = promisify(execFile);

/** Runs `prefix... node corral args...` in `dir` with only PATH (and `env`) set; never throws on a non-zero exit. */
async function exec(dir: string, prefix: readonly string[], args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const [file, ...rest] = [...prefix, process.execPath, CORRAL_BIN, ...args] as [string, ...string[]];
  try {
    const r = await run(file, rest, { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const corral = (dir: string, ...args: string[]) => exec(dir, [], args);

test('status, reload and stop find the master through the pidfile and .env', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const adminPort = await freePort();
  const token = 'cli-test-token-0123456789';
  // The CLI reads the same .env as the master, so both agree on the pidfile and the admin API.
  writeFileSync(
    join(dir, '.env'),
    [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:${adminPort}`, `CORRAL_ADMIN_TOKEN=${token}`, `CORRAL_WORKERS=2`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`, `CORRAL_LOG_FILE=${join(dir, 'corral.log')}`].join('\n'),
  );
  const c = await startCorral({ cwd: dir, workers: null, env: { CORRAL_ENV_FILE: '.env', CORRAL_LOG_FILE: join(dir, 'corral.log'), CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_ADMIN_BIND: `127.0.0.1:${adminPort}` } });
  try {
    const status = await corral(dir, 'status');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`master pid ${c.pid}, generation 1`));
    assert.match(status.stdout, /workers 2\/2 ready/);
    const rows = status.stdout.split('\n').filter((l) => /^\s+\d+\s+\d+\s+1\s+ready/.test(l));
    assert.equal(rows.length, 2, status.stdout);
    // The master's own admin port is no conflict: with it running, config --check does not try the ports.
    const check = await corral(dir, 'config', '--check');
    assert.equal(check.code, 0, check.stderr);

    // A token the master does not know: status says so, not "set CORRAL_ADMIN_TOKEN".
    writeFileSync(join(dir, 'wrong.env'), readFileSync(join(dir, '.env'), 'utf8').replace(token, 'not-the-token-0123456789'));
    const wrong = await run(process.execPath, [CORRAL_BIN, 'status'], { cwd: dir, env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'wrong.env' }, timeout: 30000 });
    assert.match(wrong.stdout, /the admin API refused CORRAL_ADMIN_TOKEN \(HTTP 401\)/);

    // CORRAL_ADMIN_BIND edited since the start (or given to the start alone): the master is asked
    // where it recorded its admin API beside the pidfile, not where these settings say.
    writeFileSync(join(dir, 'moved.env'), readFileSync(join(dir, '.env'), 'utf8').replace(`:${adminPort}`, `:${await freePort()}`));
    const moved = await exec(dir, [], ['status', '--json'], { CORRAL_ENV_FILE: 'moved.env' });
    assert.equal(moved.code, 0, `${moved.stdout}${moved.stderr}`);
    assert.deepEqual(
      (({ running, master }) => [running, master.pid])(JSON.parse(moved.stdout) as { running: boolean; master: { pid: number } }),
      [true, c.pid],
    );
    // A master that does not answer (stopped here): exit 1, with a code in the JSON as for every exit but 0 and 3.
    process.kill(c.pid, 'SIGSTOP');
    let unreachable: Awaited<ReturnType<typeof exec>>;
    try {
      unreachable = await exec(dir, [], ['status', '--json']);
    } finally {
      resumeIfStopped(c.pid);
    }
    assert.equal(unreachable.code, 1, `${unreachable.stdout}${unreachable.stderr}`);
    assert.match(unreachable.stderr, new RegExp(`^corral status: \\[CORRAL_ERR_ADMIN_UNREACHABLE\\] corral master pid ${c.pid} is running but its admin API at http://127\\.0\\.0\\.1:${adminPort} did not answer`));
    const said = JSON.parse(unreachable.stdout) as { running: boolean; pid: number; error: { code: string } };
    assert.deepEqual([said.running, said.pid, said.error.code], [true, c.pid, 'CORRAL_ERR_ADMIN_UNREACHABLE']);

    // Run from a directory without .env (a service's install directory): no settings file read,
    // so the default pidfile is looked at; the answer says so, and how to name the service's file.
    const elsewhere = mkdtempSync(join(tmpdir(), 'corral-cli-nofile-'));
    try {
      const nowhere = { CORRAL_ADMIN_BIND: `127.0.0.1:${await freePort()}` };
      const blind = await exec(elsewhere, [], ['status'], nowhere);
      assert.equal(blind.code, 3, `${blind.stdout}${blind.stderr}`);
      assert.match(blind.stderr, /^corral is not running \(no pidfile at .*corral\.pid\); no settings file was read \(no \.env in .*, CORRAL_ENV_FILE unset\), so the default CORRAL_PIDFILE was looked at: .*\(CORRAL_ENV_FILE=\/etc\/corral\/corral\.env corral <command>\)\n$/);
      const blindStop = await exec(elsewhere, [], ['stop'], nowhere);
      assert.equal(blindStop.code, 0, `${blindStop.stdout}${blindStop.stderr}`);
      assert.match(blindStop.stdout, /no settings file was read .*; nothing to stop\n$/);
      assert.ok(isAlive(c.pid), 'the master was not signalled');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }

    // A misspelt name appended to .env: reload says it as status and config --check do (it said nothing).
    writeFileSync(join(dir, '.env'), `${readFileSync(join(dir, '.env'), 'utf8')}\nCORAL_WORKERS=3\n`);
    const misspelt = /^corral reload: warning: unknown setting CORAL_WORKERS \(.*\.env line 7\): did you mean CORRAL_WORKERS\?$/m;
    const reload = await corral(dir, 'reload');
    assert.equal(reload.code, 0, `${reload.stdout}${reload.stderr}`);
    assert.match(reload.stderr, misspelt);
    await c.waitForLog((l) => l.event === 'reload.done', 20000, 'reload.done');
    const after = await corral(dir, 'status', '--json');
    const s = JSON.parse(after.stdout) as { running: boolean; master: { generation: number }; workers: { generation: number }[] };
    assert.equal(s.running, true);
    assert.equal(s.master.generation, 2);
    assert.ok(s.workers.every((w) => w.generation === 2));
    const waited = await corral(dir, 'reload', '--wait');
    assert.equal(waited.code, 0, `${waited.stdout}${waited.stderr}`);
    assert.match(waited.stderr, misspelt);

    const stop = await corral(dir, 'stop');
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /corral stopped/);
    assert.equal((await c.exited).code, 0);

    for (const cmd of ['status', 'reload']) {
      const gone = await corral(dir, cmd);
      assert.equal(gone.code, 3, `${cmd} exits 3 when corral is not running`);
      assert.match(gone.stderr, /not running/);
    }
    // --json answers on stdout whatever the answer: an empty stdout reads as success to jq.
    const goneJson = await corral(dir, 'status', '--json');
    assert.equal(goneJson.code, 3, goneJson.stderr);
    assert.deepEqual(JSON.parse(goneJson.stdout), { running: false });
    // LSB: stop of a stopped service is a success, and says so.
    const again = await corral(dir, 'stop');
    assert.equal(again.code, 0, `stop exits 0 when corral is not running: ${again.stdout}${again.stderr}`);
    assert.match(again.stdout, /^corral is not running \(no pidfile at .*corral\.pid\); nothing to stop\n$/);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reload --wait stopped by SIGTERM (systemd stopping the unit during a reload) exits 0 and says so; the master carries on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const timings = join(dir, 'timings.json');
  writeFileSync(timings, JSON.stringify({ bootMs: 0 }));
  // A token, for the per-worker figures of `status` (private, as a file holding one is installed).
  writeFileSync(join(dir, '.env'), [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:${await freePort()}`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'slow-boot.mjs')}`, 'CORRAL_ADMIN_TOKEN=cli-test-token-sigterm-0123456789'].join('\n'), { mode: 0o600 });
  const c = await startCorral({ cwd: dir, workers: null, unset: ['CORRAL_ADMIN_BIND'], env: { CORRAL_ENV_FILE: '.env', CORRAL_PIDFILE: join(dir, 'corral.pid'), FIXTURE_TIMINGS: timings } });
  try {
    // The new generation takes 20 s to load: the wait is still on when the SIGTERM comes.
    writeFileSync(timings, JSON.stringify({ bootMs: 20_000 }));
    const wait = spawn(process.execPath, [CORRAL_BIN, 'reload', '--wait'], { cwd: dir, env: { PATH: process.env.PATH ?? '', CORRAL_PIDFILE: join(dir, 'corral.pid') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    wait.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    wait.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(async () => (/waiting for it to end/.test(stdout) ? true : undefined), 10_000, 'the wait to begin');
    await c.waitForLog((l) => l.event === 'reload.start', 10_000, 'reload.start');
    // The master's generation is the one the reload boots, not the one serving: status says so.
    const status = await exec(dir, [], ['status'], { CORRAL_PIDFILE: join(dir, 'corral.pid') });
    assert.match(status.stdout, /^corral is running: master pid \d+, reloading to generation 2, up /m, status.stdout);
    assert.match(status.stdout, /^reload to generation 2 in progress/m, status.stdout);
    wait.kill('SIGTERM');
    const [code, signal] = (await once(wait, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.deepEqual([code, signal], [0, null], stderr);
    assert.match(stderr, /^corral reload: stopped \(SIGTERM: under systemd, the service is stopping or restarting\); the reload's end, if it had one, is in the log/);
    assert.ok(isAlive(c.pid), 'the master was not touched');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reload --wait exits 0 once the reload completed and 1 when it was rolled back, saying why (in full with the token); without an admin port (a usage error) or with another master answering there it signals nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const adminPort = await freePort();
  const token = 'cli-test-token-0123456789';
  const settings = (app: string, admin = `127.0.0.1:${adminPort}`, withToken = true) =>
    writeFileSync(join(dir, '.env'), [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=${admin}`, ...(withToken ? [`CORRAL_ADMIN_TOKEN=${token}`] : []), `CORRAL_WORKERS=2`, `CORRAL_APP=${join(FIXTURE_APPS, app)}`, `CORRAL_BOOT_ATTEMPTS=2`].join('\n'), { mode: 0o600 });
  // Private, as a file holding a token is installed: reload warns of one every user may read.
  settings('basic.mjs');
  // The master reads its settings from .env, as the CLI does.
  const c = await startCorral({ cwd: dir, workers: null, unset: ['CORRAL_ADMIN_BIND'], env: { CORRAL_ENV_FILE: '.env', CORRAL_PIDFILE: join(dir, 'corral.pid') } });
  const reloadWait = (env: Record<string, string> = {}) => exec(dir, [], ['reload', '--wait'], { CORRAL_PIDFILE: join(dir, 'corral.pid'), ...env });
  try {
    const done = await reloadWait();
    assert.equal(done.code, 0, `${done.stdout}${done.stderr}`);
    // Twice the 60 s boot and the 2 s settle time, and the graceful timeout of the master's
    // environment (the test helper's 10 s).
    assert.equal(done.stdout, `reload requested (SIGHUP to master pid ${c.pid}); waiting for it to end (up to 134 s, extended while it makes progress)\nreload done: generation 2 serves (master pid ${c.pid})\n`);
    assert.equal(c.events('reload.done').length, 1, 'it returned once the reload was done, not before');
    // A setting only a restart applies: the reload completes, and says what it left as it was.
    settings('basic.mjs');
    writeFileSync(join(dir, '.env'), `${readFileSync(join(dir, '.env'), 'utf8')}\nCORRAL_ACCEPT=round-robin\n`);
    const kept = await reloadWait();
    assert.equal(kept.code, 0, `${kept.stdout}${kept.stderr}`);
    const restartLine = /\nnot applied until a restart \(systemctl restart corral, or corral stop, then corral start\): CORRAL_ACCEPT \(config\.restart_needed in the log says what runs and what is configured\)\n/;
    assert.match(kept.stdout, /\nreload done: generation 3 serves \(master pid \d+\)\n/);
    assert.match(kept.stdout, restartLine);
    // And `corral status` says it too, not the log alone.
    assert.match((await corral(dir, 'status')).stdout, restartLine);
    settings('basic.mjs');

    // Valid settings whose workers cannot boot: rolled back, generation 3 serves on.
    settings('broken-import.mjs');
    const rolledBack = await reloadWait();
    assert.equal(rolledBack.code, 1, `${rolledBack.stdout}${rolledBack.stderr}`);
    assert.match(rolledBack.stderr, /^corral reload: last reload rolled back \(CORRAL_ERR_APP_LOAD\), generation 3 serves: the new generation cannot boot \(.*broken-import\.mjs/);
    assert.equal(c.events('reload.failed').length, 1, 'it returned once the reload was rolled back');
    assert.equal((await http(`${c.url}/`)).status, 200, 'the old generation serves');
    // And `corral status` says so until a reload completes, as systemd's status line does.
    assert.match((await corral(dir, 'status')).stdout, /\nlast reload rolled back \(CORRAL_ERR_APP_LOAD\), generation 3 serves: the new generation cannot boot/);
    // Without the token (gone from the settings the reload reads; the master, rolled back, keeps
    // its own), the admin API gives the outcome and its code, not the message.
    settings('broken-import.mjs', undefined, false);
    const gist = await reloadWait();
    assert.equal(gist.code, 1, `${gist.stdout}${gist.stderr}`);
    assert.equal(gist.stderr, "corral reload: last reload rolled back (CORRAL_ERR_APP_LOAD), generation 3 serves; the log's reload.failed line says why\n");
    // `corral status` without a token says the rollback's gist too: it said "ok" alone.
    const tokenless = await corral(dir, 'status');
    assert.equal(tokenless.code, 0, tokenless.stderr);
    assert.equal(tokenless.stdout, `corral is running: master pid ${c.pid}, 2/2 workers ready (ok); set CORRAL_ADMIN_TOKEN for per-worker figures\nlast reload rolled back (CORRAL_ERR_APP_LOAD), generation 3 serves; the log's reload.failed line says why\n`);
    const tokenlessJson = JSON.parse((await corral(dir, 'status', '--json')).stdout) as { reload?: { last?: { outcome: string; code: string } } };
    assert.deepEqual([tokenlessJson.reload?.last?.outcome, tokenlessJson.reload?.last?.code], ['rolled_back', 'CORRAL_ERR_APP_LOAD']);

    // The admin address edited since the start (to a port chosen at start, here): the master is
    // asked where it recorded its admin API, and the reload leaves the address to a restart.
    settings('basic.mjs', '127.0.0.1:0');
    const moved = await reloadWait();
    assert.equal(moved.code, 0, `${moved.stdout}${moved.stderr}`);
    assert.match(moved.stdout, /\nnot applied until a restart \([^)]*\): CORRAL_ADMIN_BIND /);
    // A master of an older corral recorded no address: a port chosen at start cannot be asked,
    // refused before any signal.
    const stamp = join(dir, 'corral.pid.start');
    const { admin_url: recorded, ...older } = JSON.parse(readFileSync(stamp, 'utf8')) as { admin_url?: string };
    assert.equal(recorded, `http://127.0.0.1:${adminPort}`);
    writeFileSync(stamp, `${JSON.stringify(older)}\n`);
    const noPort = await reloadWait();
    assert.equal(noPort.code, 64, `${noPort.stdout}${noPort.stderr}`);
    assert.match(noPort.stderr, /reload --wait follows the reload through the admin API, and CORRAL_ADMIN_BIND=127\.0\.0\.1:0 gives it a port chosen at start/);
    assert.equal(noPort.stdout, '');
    assert.equal(c.events('reload.start').length, 5, 'no reload after the refused one');

    // A second corral started on the same admin port serves without its admin API (and records
    // so): what answers there is the first one, whose reloads are not the second's. Refused,
    // signalling nothing.
    settings('basic.mjs');
    const other = mkdtempSync(join(tmpdir(), 'corral-cli-'));
    writeFileSync(join(other, '.env'), readFileSync(join(dir, '.env'), 'utf8'), { mode: 0o600 });
    const second = await startCorral({ cwd: other, workers: null, unset: ['CORRAL_ADMIN_BIND'], env: { CORRAL_ENV_FILE: '.env', CORRAL_PIDFILE: join(other, 'corral.pid') } });
    try {
      await second.waitForLog((l) => l.event === 'admin.failed', 10_000, 'admin.failed');
      await waitFor(() => readMasterRecord(join(other, 'corral.pid'), second.pid)?.adminUrl === null || undefined, 10_000, 'the second master to record that its admin API did not start');
      const elsewhere = await exec(other, [], ['reload', '--wait'], { CORRAL_PIDFILE: join(other, 'corral.pid') });
      assert.equal(elsewhere.code, 1, `${elsewhere.stdout}${elsewhere.stderr}`);
      assert.equal(
        elsewhere.stderr,
        `corral reload: [CORRAL_ERR_ADMIN_UNREACHABLE] the master (pid ${second.pid}) has no admin API (admin.failed in its log: the port was taken?), so the reload could not be followed; nothing was signalled. Reload without --wait and watch the log for reload.done or reload.failed\n`,
      );
      // A master of an older corral, which recorded nothing: the one answering there is told apart.
      const otherStamp = join(other, 'corral.pid.start');
      const { admin_url: _none, ...olderStamp } = JSON.parse(readFileSync(otherStamp, 'utf8')) as { admin_url?: null };
      writeFileSync(otherStamp, `${JSON.stringify(olderStamp)}\n`);
      const olderElsewhere = await exec(other, [], ['reload', '--wait'], { CORRAL_PIDFILE: join(other, 'corral.pid') });
      assert.equal(olderElsewhere.code, 1, `${olderElsewhere.stdout}${olderElsewhere.stderr}`);
      assert.equal(
        olderElsewhere.stderr,
        `corral reload: [CORRAL_ERR_ADMIN_OTHER_MASTER] the admin API at http://127.0.0.1:${adminPort} answers for another master (pid ${c.pid}) than the pidfile's (pid ${second.pid}): CORRAL_ADMIN_BIND's port was in use when this one started (admin.failed in its log), so its reload cannot be followed; nothing was signalled. Give each corral its own CORRAL_ADMIN_BIND and restart it, or reload without --wait\n`,
      );
      assert.deepEqual([second.events('reload.start').length, c.events('reload.start').length], [0, 5], 'neither master was signalled');
    } finally {
      await second.stop();
      rmSync(other, { recursive: true, force: true });
    }
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('during a graceful stop, status says corral is stopping (not an outage) and reload exits 1 saying it would be ignored, signalling nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const adminPort = await freePort();
  const token = 'cli-test-token-0123456789';
  writeFileSync(join(dir, '.env'), [`CORRAL_ADMIN_BIND=127.0.0.1:${adminPort}`, `CORRAL_ADMIN_TOKEN=${token}`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`].join('\n'));
  // The stop waits for the held request up to the graceful timeout: the helper's 10 s were over
  // before the three commands below had run on a heavily loaded machine, and the stop cut the request.
  const c = await startCorral({ cwd: dir, workers: null, env: { CORRAL_ENV_FILE: '.env', CORRAL_LOG_FILE: join(dir, 'corral.log'), CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_ADMIN_BIND: `127.0.0.1:${adminPort}`, CORRAL_GRACEFUL_TIMEOUT: '120' } });
  try {
    // A request the stop waits for, held until the commands ran.
    const release = join(dir, 'release');
    const slow = http(`${c.url}/hold?release=${encodeURIComponent(release)}`, { timeoutMs: 60_000 });
    await c.waitForLog((l) => l.event === 'fixture.holding', 10000, 'the held request in the worker');
    c.kill('SIGTERM');
    await c.waitForLog((l) => l.event === 'worker.draining', 10000, 'the worker draining');
    const status = await corral(dir, 'status');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^corral is stopping: master pid ${c.pid}, generation 1, up \\S+ \\(a stop has begun: its workers finish their requests, then it exits\\)$`, 'm'));
    const json = JSON.parse((await corral(dir, 'status', '--json')).stdout) as { running: boolean; master: { stopping: boolean } };
    assert.deepEqual([json.running, json.master.stopping], [true, true]);
    const reload = await corral(dir, 'reload');
    assert.equal(reload.code, 1, `${reload.stdout}${reload.stderr}`);
    assert.equal(reload.stdout, '', 'no "reload requested"');
    // With its code, as every failure a command prints.
    assert.match(reload.stderr, new RegExp(`^corral reload: \\[CORRAL_ERR_MASTER_STOPPING\\] corral is stopping \\(master pid ${c.pid}\\): a reload would be ignored`, 'm'));
    writeFileSync(release, '');
    assert.equal((await slow).status, 200, 'the request in flight finished');
    assert.equal((await c.exited).code, 0);
    assert.deepEqual([c.events('shutdown.ignored').length, c.events('reload.start').length], [0, 0], 'the master was not signalled');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('while the first workers still load the app, status says corral is starting (not an outage), with the admin token and without', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const adminPort = await freePort();
  const token = 'cli-test-token-0123456789';
  const timings = join(dir, 'timings.json');
  // createApp takes 60 s: the test stops the master long before.
  writeFileSync(timings, JSON.stringify({ bootMs: 60_000 }));
  const settings = [`CORRAL_ADMIN_BIND=127.0.0.1:${adminPort}`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'slow-boot.mjs')}`];
  writeFileSync(join(dir, '.env'), [...settings, `CORRAL_ADMIN_TOKEN=${token}`].join('\n'));
  // The same master looked at without the token: the health summary alone.
  writeFileSync(join(dir, 'no-token.env'), settings.join('\n'));
  const c = await startCorral({ cwd: dir, workers: null, waitReady: false, env: { CORRAL_ENV_FILE: '.env', FIXTURE_TIMINGS: timings, CORRAL_LOG_FILE: join(dir, 'corral.log'), CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_ADMIN_BIND: `127.0.0.1:${adminPort}` } });
  try {
    await c.waitForLog((l) => l.event === 'fixture.loading', 30_000, 'the worker loading the app');
    const withToken = await corral(dir, 'status');
    assert.equal(withToken.code, 0, withToken.stderr);
    assert.match(withToken.stdout, new RegExp(`^corral is starting: master pid ${c.pid}, generation 1, up \\S+$`, 'm'));
    const json = JSON.parse((await corral(dir, 'status', '--json')).stdout) as { running: boolean; master: { starting?: boolean } };
    assert.deepEqual([json.running, json.master.starting], [true, true]);
    const summary = await exec(dir, [], ['status'], { CORRAL_ENV_FILE: 'no-token.env' });
    assert.equal(summary.code, 0, summary.stderr);
    assert.match(summary.stdout, new RegExp(`^corral is starting: master pid ${c.pid}, 0/1 workers ready \\(unavailable\\)`, 'm'));
    const health = JSON.parse((await exec(dir, [], ['status', '--json'], { CORRAL_ENV_FILE: 'no-token.env' })).stdout) as { running: boolean; health: { starting?: boolean } };
    assert.deepEqual([health.running, health.health.starting], [true, true]);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop waits by the graceful timeout the master runs (reloaded to 20 s), not by a .env edited to 0 since: 12 s requests finish and stop exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const pidfile = join(dir, 'corral.pid');
  const base = [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:0`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`, `CORRAL_LOG_FILE=${join(dir, 'corral.log')}`, `CORRAL_PIDFILE=${pidfile}`];
  const envFile = (graceful: number) => writeFileSync(join(dir, '.env'), [...base, `CORRAL_GRACEFUL_TIMEOUT=${graceful}`].join('\n'));
  envFile(3);
  // The graceful timeout from .env alone (the helper sets one in the environment, which would win).
  const c = await startCorral({ cwd: dir, workers: null, unset: ['CORRAL_GRACEFUL_TIMEOUT'], env: { CORRAL_ENV_FILE: '.env', CORRAL_LOG_FILE: join(dir, 'corral.log'), CORRAL_PIDFILE: pidfile } });
  try {
    const { adminUrl, ...record } = readMasterRecord(pidfile, c.pid) ?? {};
    assert.deepEqual(record, { gracefulTimeoutS: 3, envFile: join(dir, '.env'), cwd: dir }, 'the master records the graceful timeout it started with, the env file it read, and its working directory');
    // And the port its admin API got (CORRAL_ADMIN_BIND's port is 0), which status asks.
    assert.match(adminUrl ?? '', /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    assert.match((await corral(dir, 'status')).stdout, new RegExp(`^corral is running: master pid ${c.pid}, 1/1 workers ready`));
    envFile(20);
    assert.equal((await corral(dir, 'reload')).code, 0);
    await c.waitForLog((l) => l.event === 'reload.done', 20000, 'reload.done');
    assert.deepEqual(readMasterRecord(pidfile, c.pid), { gracefulTimeoutS: 20, envFile: join(dir, '.env'), cwd: dir, adminUrl }, 'and the one a reload applied');

    const slow = [0, 1].map(() => http(`${c.url}/sleep?ms=12000`, { timeoutMs: 30000 }));
    await waitFor(() => c.events('fixture.sleeping').length >= 2, 10000, 'both slow requests in the worker');
    // Edited, not reloaded: the master still stops by 20 s; the file's 0 would give up after 10 s.
    envFile(0);
    const startedAt = Date.now();
    const stop = await corral(dir, 'stop');
    const tookS = (Date.now() - startedAt) / 1000;
    assert.equal(stop.code, 0, `stop exits 0 once the master is gone (after ${tookS} s): ${stop.stderr}`);
    assert.match(stop.stdout, /corral stopped/);
    assert.ok(tookS > 10, `the requests held the stop past the .env's 0 + 10 s (${tookS} s)`);
    assert.deepEqual((await Promise.all(slow)).map((r) => r.status), [200, 200]);
    assert.equal((await c.exited).code, 0);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop that outwaits a master which does not end (stopped here) exits 1 with its code and what to do next; the master ends on the pending signal once resumed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const pidfile = join(dir, 'corral.pid');
  // A graceful timeout of 0: stop waits the least it can, 10 s.
  const c = await startCorral({ cwd: dir, workers: 1, env: { CORRAL_GRACEFUL_TIMEOUT: '0', CORRAL_PIDFILE: pidfile } });
  try {
    process.kill(c.pid, 'SIGSTOP');
    let stop: Awaited<ReturnType<typeof exec>>;
    try {
      stop = await exec(dir, [], ['stop'], { CORRAL_PIDFILE: pidfile });
    } finally {
      resumeIfStopped(c.pid);
    }
    assert.equal(stop.code, 1, `${stop.stdout}${stop.stderr}`);
    assert.match(
      stop.stderr,
      new RegExp(`^corral stop: \\[CORRAL_ERR_STOP_TIMEOUT\\] master pid ${c.pid} is still running after 10 s \\(.*\\); it is stopped \\(SIGSTOP, or a debugger\\) and acts on no signal until resumed: \`kill -CONT ${c.pid}\` lets it carry out the stop, \`kill -KILL ${c.pid}\` ends it at once\n$`),
    );
    assert.equal((await c.exited).code, 0, 'resumed, it stops on the TERM it was sent');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a relative CORRAL_PIDFILE (the default, corral.pid) run from another directory than the master\'s: status, reload and stop name the master\'s directory and its pidfile there, not an edit of the setting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  // As the unit runs it: the master in its WorkingDirectory=, the operator's shell elsewhere.
  const masterDir = join(dir, 'state');
  const shellDir = join(dir, 'install');
  mkdirSync(masterDir);
  mkdirSync(shellDir);
  const adminPort = await freePort();
  const envFile = join(dir, 'corral.env');
  writeFileSync(envFile, [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:${adminPort}`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`].join('\n'));
  const c = await startCorral({ cwd: masterDir, workers: null, unset: ['CORRAL_PIDFILE', 'CORRAL_ADMIN_BIND'], env: { CORRAL_ENV_FILE: envFile } });
  try {
    assert.ok(existsSync(join(masterDir, 'corral.pid')));
    for (const [cmd, code] of [['stop', 1], ['reload', 1], ['status', 4]] as const) {
      const r = await exec(shellDir, [], [cmd], { CORRAL_ENV_FILE: envFile });
      assert.equal(r.code, code, `${cmd}: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`^corral ${cmd}: \\[CORRAL_ERR_MASTER_ELSEWHERE\\] no pidfile names a master at ${join(shellDir, 'corral.pid')} \\(CORRAL_PIDFILE, a relative path: taken from this command's directory, ${shellDir}\\), but corral master pid ${c.pid}, started with the settings file this command read, runs in ${masterDir}, where its pidfile is \\(${join(masterDir, 'corral.pid')}\\)`),
      );
      assert.match(r.stderr, new RegExp(`cd ${masterDir}`));
      assert.match(r.stderr, /absolute CORRAL_PIDFILE/);
      assert.doesNotMatch(r.stderr, /edited since it started/);
    }
    assert.ok(isAlive(c.pid), 'nothing was signalled');
    assert.equal(c.events('reload.start').length, 0, 'no reload was asked for');
    // From the master's directory, as from the unit's ExecReload=, it is found as ever.
    const status = await exec(masterDir, [], ['status'], { CORRAL_ENV_FILE: envFile });
    assert.equal(status.code, 0, status.stderr);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CORRAL_PIDFILE edited in .env since the master started: stop and reload signal nothing and exit 1, status exits 4, none says "not running" while the admin API answers; with the old path they work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const adminPort = await freePort();
  const token = 'cli-test-token-0123456789';
  const base = [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:${adminPort}`, `CORRAL_ADMIN_TOKEN=${token}`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`];
  writeFileSync(join(dir, '.env'), [...base, `CORRAL_PIDFILE=${join(dir, 'corral.pid')}`].join('\n'));
  const c = await startCorral({ cwd: dir, workers: null, unset: ['CORRAL_PIDFILE', 'CORRAL_ADMIN_BIND'], env: { CORRAL_ENV_FILE: '.env', CORRAL_LOG_FILE: join(dir, 'corral.log') } });
  try {
    assert.ok(existsSync(join(dir, 'corral.pid')));
    // The operator moves the pidfile in .env, and has not restarted (a reload does not move it).
    const moved = join(dir, 'run', 'corral.pid');
    writeFileSync(join(dir, '.env'), [...base, `CORRAL_PIDFILE=${moved}`].join('\n'));
    // Without the token, the admin API's health still says a corral is there.
    writeFileSync(join(dir, 'no-token.env'), [...base.filter((l) => !l.startsWith('CORRAL_ADMIN_TOKEN=')), `CORRAL_PIDFILE=${moved}`].join('\n'));
    const said = (cmd: string, pid: string) => new RegExp(`^corral ${cmd}: \\[CORRAL_ERR_MASTER_ELSEWHERE\\] no pidfile names a master at ${moved} \\(CORRAL_PIDFILE\\), but a corral master answers the admin API at http://127\\.0\\.0\\.1:${adminPort}${pid}: .*nothing was signalled`);
    for (const [cmd, code] of [['stop', 1], ['reload', 1], ['status', 4]] as const) {
      const r = await corral(dir, cmd);
      assert.equal(r.code, code, `${cmd}: ${r.stdout}${r.stderr}`);
      // Its pid, from its reload state, which needs no token: none is sent to what listens there.
      assert.match(r.stderr, said(cmd, ` \\(master pid ${c.pid}\\)`));
      assert.doesNotMatch(r.stdout + r.stderr, /nothing to stop|not running/);
      const blind = await exec(dir, [], [cmd], { CORRAL_ENV_FILE: 'no-token.env' });
      assert.equal(blind.code, code, `${cmd} without the token: ${blind.stdout}${blind.stderr}`);
      assert.match(blind.stderr, said(cmd, ` \\(master pid ${c.pid}\\)`));
    }
    // The admin API moved in .env too: the keeper's lock in CORRAL_DATA_DIR still tells of the
    // master (before, stop said "nothing to stop" and the start after it made a second master).
    const otherAdmin = await freePort();
    writeFileSync(join(dir, 'both-moved.env'), [...base.map((l) => (l.startsWith('CORRAL_ADMIN_BIND=') ? `CORRAL_ADMIN_BIND=127.0.0.1:${otherAdmin}` : l)), `CORRAL_PIDFILE=${moved}`].join('\n'));
    for (const [cmd, code] of [['stop', 1], ['reload', 1], ['status', 4]] as const) {
      const r = await exec(dir, [], [cmd], { CORRAL_ENV_FILE: 'both-moved.env' });
      assert.equal(r.code, code, `${cmd} with both moved: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`\\[CORRAL_ERR_MASTER_ELSEWHERE\\] no pidfile names a master at ${moved} \\(CORRAL_PIDFILE\\) and no corral answers the admin API at 127\\.0\\.0\\.1:${otherAdmin}, but corral master pid ${c.pid} runs, its keeper \\(pid \\d+\\) holding \\S+keeper\\.lock: .*nothing was signalled`));
    }
    // All three moved in the file the master was started with: nothing is left where they point,
    // but the master itself, found as the `corral start` that read this very file (before: "not
    // running", exit 3, and stop "nothing to stop" while it served).
    writeFileSync(join(dir, '.env'), [...base.map((l) => (l.startsWith('CORRAL_ADMIN_BIND=') ? `CORRAL_ADMIN_BIND=127.0.0.1:${otherAdmin}` : l)), `CORRAL_PIDFILE=${moved}`, `CORRAL_DATA_DIR=${join(dir, 'data-moved')}`].join('\n'));
    for (const [cmd, code] of [['stop', 1], ['reload', 1], ['status', 4]] as const) {
      const r = await corral(dir, cmd);
      assert.equal(r.code, code, `${cmd} with all three moved: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`\\[CORRAL_ERR_MASTER_ELSEWHERE\\] no pidfile names a master at ${moved} \\(CORRAL_PIDFILE\\), no corral answers the admin API at 127\\.0\\.0\\.1:${otherAdmin} and no keeper holds CORRAL_DATA_DIR's lock, but corral master pid ${c.pid} runs, started with the settings file this command read \\(${join(dir, '.env')}\\): .*Nothing was signalled`),
      );
      assert.doesNotMatch(r.stdout + r.stderr, /nothing to stop|not running/);
    }
    // Another settings file, naming the same moved places: no master read it, so none is named.
    writeFileSync(join(dir, 'all-moved.env'), readFileSync(join(dir, '.env'), 'utf8'));
    const elsewhere = await exec(dir, [], ['status'], { CORRAL_ENV_FILE: 'all-moved.env' });
    assert.equal(elsewhere.code, 3, `${elsewhere.stdout}${elsewhere.stderr}`);
    writeFileSync(join(dir, '.env'), [...base, `CORRAL_PIDFILE=${moved}`].join('\n'));
    const json = await corral(dir, 'status', '--json');
    assert.equal((JSON.parse(json.stdout) as { running: unknown }).running, null);
    assert.ok(isAlive(c.pid), 'nothing was signalled');
    assert.equal(c.events('reload.start').length, 0, 'no reload was asked for');
    // With the path it started with, stop works as ever.
    const stop = await exec(dir, [], ['stop'], { CORRAL_ENV_FILE: '.env', CORRAL_PIDFILE: join(dir, 'corral.pid') });
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await c.exited).code, 0);
    // Gone: no admin API answers, and stop of a stopped corral is a success again.
    const again = await corral(dir, 'stop');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /not running .*nothing to stop/);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CORRAL_PIDFILE= (empty): the master runs without a pidfile; status exits 4 (unknown), stop and reload signal nothing and exit 1, none says it is not running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  // Empty is a documented way to run without a pidfile (a supervisor that tracks the master).
  writeFileSync(join(dir, '.env'), [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:0`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`, 'CORRAL_PIDFILE='].join('\n'));
  const c = await startCorral({ cwd: dir, workers: null, unset: ['CORRAL_PIDFILE'], env: { CORRAL_ENV_FILE: '.env', CORRAL_LOG_FILE: join(dir, 'corral.log') } });
  try {
    assert.equal(existsSync(join(dir, 'corral.pid')), false, 'no pidfile written');
    for (const [cmd, code] of [['status', 4], ['stop', 1], ['reload', 1]] as const) {
      const r = await corral(dir, cmd);
      assert.equal(r.code, code, `${cmd}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '', `${cmd} claims nothing on stdout`);
      assert.match(r.stderr, new RegExp(`^corral ${cmd}: \\[CORRAL_ERR_NO_PIDFILE\\] CORRAL_PIDFILE is empty, so the master writes no pidfile and cannot be found: whether corral runs is unknown; nothing was signalled\\. Use systemctl .*or set CORRAL_PIDFILE`));
      assert.doesNotMatch(r.stderr, /not running|nothing to stop/);
    }
    const unknown = await corral(dir, 'status', '--json');
    assert.equal(unknown.code, 4, unknown.stderr);
    const answer = JSON.parse(unknown.stdout) as { running: unknown; error: { code: string; message: string } };
    assert.equal(answer.running, null, 'unknown, in JSON too');
    assert.equal(answer.error.code, 'CORRAL_ERR_NO_PIDFILE');
    assert.ok(isAlive(c.pid), 'nothing was signalled');
    assert.equal(c.events('reload.start').length, 0, 'no reload was asked for');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unclosed quote in .env: config --check and start exit 78 naming the file, the line, the setting and the fix, and create nothing (start made a directory named `"`); closed, config shows the paths without it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const file = join(dir, '.env');
  try {
    const settings = (close: string) => [`CORRAL_BIND=127.0.0.1:19337`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`, `CORRAL_PIDFILE="${dir}/run/x.pid${close}`, `CORRAL_LOG_FILE="${dir}/x.log${close}`].join('\n');
    writeFileSync(file, settings(''));
    const fix = 'its opening " is never closed, so dotenv keeps the " as part of the value: close the quote or remove it';
    for (const args of [['config', '--check'], ['start']]) {
      const r = await corral(dir, ...args);
      assert.equal(r.code, 78, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^corral ${args[0]}: \\[CORRAL_ERR_CONFIG_INVALID\\] invalid settings:\n`));
      assert.ok(r.stderr.includes(`  CORRAL_PIDFILE=${JSON.stringify(`"${dir}/run/x.pid`)} (from ${file} line 4): ${fix}`), r.stderr);
      assert.ok(r.stderr.includes(`  CORRAL_LOG_FILE=${JSON.stringify(`"${dir}/x.log`)} (from ${file} line 5): ${fix}`), r.stderr);
      assert.doesNotMatch(r.stdout, /settings OK/);
    }
    assert.deepEqual([existsSync(join(dir, '"')), existsSync(join(dir, 'run'))], [false, false], 'nothing was created');
    writeFileSync(file, settings('"'));
    const shown = await corral(dir, 'config');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`CORRAL_PIDFILE\\s+${dir}/run/x\\.pid\\s`));
    assert.doesNotMatch(shown.stdout, /"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reload refuses what the master would refuse (an admin API beyond loopback without a token, a log file that cannot be opened) with exit 78 and the master\'s message, signalling nothing; config --check refuses it too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const log = join(dir, 'corral.log');
  const base = [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`, `CORRAL_PIDFILE=${join(dir, 'corral.pid')}`];
  writeFileSync(join(dir, '.env'), [...base, `CORRAL_ADMIN_BIND=127.0.0.1:0`, `CORRAL_ADMIN_TOKEN=cli-test-token-0123456789`, `CORRAL_LOG_FILE=${log}`].join('\n'));
  // The master reads these from .env, as the CLI does.
  const c = await startCorral({ cwd: dir, workers: null, unset: ['CORRAL_ADMIN_BIND', 'CORRAL_LOG_FILE', 'CORRAL_PIDFILE'], env: { CORRAL_ENV_FILE: '.env' } });
  try {
    const adminPort = await freePort();
    writeFileSync(join(dir, '.env'), [...base, `CORRAL_ADMIN_BIND=0.0.0.0:${adminPort}`, `CORRAL_LOG_FILE=${log}`].join('\n'));
    const unsafe = new RegExp(`\\[CORRAL_ERR_ADMIN_UNSAFE\\] (CORRAL_ADMIN_BIND=0\\.0\\.0\\.0:${adminPort} is reachable from other hosts but CORRAL_ADMIN_TOKEN is unset;.*)\n$`);
    const check = await corral(dir, 'config', '--check');
    assert.equal(check.code, 78, check.stderr);
    const reload = await corral(dir, 'reload');
    assert.equal(reload.code, 78, `${reload.stdout}${reload.stderr}`);
    assert.equal(reload.stdout, '', 'no "reload requested"');
    const said = unsafe.exec(reload.stderr)?.[1];
    assert.ok(said, reload.stderr);
    assert.equal(unsafe.exec(check.stderr)?.[1], said, 'config --check says the same');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual([c.events('reload.start').length, c.events('reload.failed').length], [0, 0], 'the master was not signalled');
    // The master, signalled anyway, refuses the same settings with the same message.
    c.kill('SIGHUP');
    const failed = await c.waitForLog((l) => l.event === 'reload.failed', 10000, 'reload.failed');
    assert.equal((failed.err as { code?: string; message?: string }).code, 'CORRAL_ERR_ADMIN_UNSAFE');
    assert.equal((failed.err as { message?: string }).message, said);

    // A log file under a plain file: nothing can create it. Checked without creating anything.
    writeFileSync(join(dir, 'plain'), '');
    writeFileSync(join(dir, '.env'), [...base, `CORRAL_ADMIN_BIND=127.0.0.1:0`, `CORRAL_LOG_FILE=${join(dir, 'plain', 'logs', 'corral.log')}`].join('\n'));
    for (const args of [['config', '--check'], ['reload']]) {
      const r = await corral(dir, ...args);
      assert.equal(r.code, 78, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /\[CORRAL_ERR_LOG_FILE\] cannot open CORRAL_LOG_FILE .*plain\/logs\/corral\.log: /);
    }
    // A log file in a directory not there yet is fine, and is not created by the check.
    writeFileSync(join(dir, '.env'), [...base, `CORRAL_ADMIN_BIND=127.0.0.1:0`, `CORRAL_LOG_FILE=${join(dir, 'new', 'corral.log')}`].join('\n'));
    const fresh = await corral(dir, 'config', '--check');
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(existsSync(join(dir, 'new')), false, 'config --check created nothing');
    assert.equal(c.events('reload.failed').length, 1, 'only the SIGHUP sent by hand reached the master');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reload judges the env file the master read at start, wherever it runs, and its relative paths from the master\'s directory: that file gone is refused with exit 78 and the master\'s message, signalling nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const elsewhere = mkdtempSync(join(tmpdir(), 'corral-cli-elsewhere-'));
  const pidfile = join(dir, 'corral.pid');
  const envFile = join(dir, '.env');
  const settings = [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:0`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`].join('\n');
  writeFileSync(envFile, settings);
  const c = await startCorral({ cwd: dir, workers: null, env: { CORRAL_ENV_FILE: '.env', CORRAL_LOG_FILE: join(dir, 'corral.log'), CORRAL_PIDFILE: pidfile } });
  try {
    // Run from a directory with a .env of its own that would be valid: the master's file is judged.
    writeFileSync(join(elsewhere, '.env'), 'CORRAL_WORKERS=2\n');
    rmSync(envFile);
    const said = `the env file ${envFile}, read at start, is gone; restore it, or create an empty file there (touch ${envFile}) to reload with the defaults`;
    for (const cwd of [dir, elsewhere]) {
      const reload = await exec(cwd, [], ['reload'], { CORRAL_PIDFILE: pidfile });
      assert.equal(reload.code, 78, `from ${cwd}: ${reload.stdout}${reload.stderr}`);
      assert.equal(reload.stdout, '', 'no "reload requested"');
      assert.ok(reload.stderr.includes(`[CORRAL_ERR_ENV_FILE] ${said}`), reload.stderr);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual([c.events('reload.start').length, c.events('reload.failed').length], [0, 0], 'the master was not signalled');
    // Restored: the reload goes ahead, its relative paths judged from the master's directory. Here
    // logs/ is a directory; where the command runs, a file: judged from there, the log could not
    // be opened (exit 78, nothing signalled).
    writeFileSync(envFile, `${settings}\nCORRAL_LOG_FILE=logs/corral.log\n`);
    mkdirSync(join(dir, 'logs'));
    writeFileSync(join(elsewhere, 'logs'), '');
    const reload = await exec(elsewhere, [], ['reload'], { CORRAL_PIDFILE: pidfile });
    assert.equal(reload.code, 0, reload.stderr);
    await c.waitForLog((l) => l.event === 'reload.done', 20000, 'reload.done');
    // The environment judged with the file is the master's, not this shell's: a value set here
    // alone refuses nothing the master would make...
    const shellOnly = await exec(elsewhere, [], ['reload'], { CORRAL_PIDFILE: pidfile, CORRAL_WORKERS: 'abc' });
    assert.equal(shellOnly.code, 0, shellOnly.stderr);
    await waitFor(() => c.events('reload.done').length === 2 || undefined, 20000, 'the second reload done');
    // ...and hides nothing it would refuse.
    writeFileSync(envFile, `${settings}\nCORRAL_LOG_FILE=logs/corral.log\nCORRAL_KEEPALIVE=soon\n`);
    const hidden = await exec(elsewhere, [], ['reload'], { CORRAL_PIDFILE: pidfile, CORRAL_KEEPALIVE: '5' });
    assert.equal(hidden.code, 78, `${hidden.stdout}${hidden.stderr}`);
    assert.match(hidden.stderr, /CORRAL_KEEPALIVE/);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('status of a corral whose admin port another corral holds: exit 1 and says so, rather than show the other one\'s figures', async () => {
  const adminPort = await freePort();
  const token = 'cli-test-token-0123456789';
  const env = { CORRAL_ADMIN_BIND: `127.0.0.1:${adminPort}`, CORRAL_ADMIN_TOKEN: token };
  const first = await startCorral({ app: 'basic.mjs', workers: 1, env });
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  writeFileSync(join(dir, '.env'), [`CORRAL_ADMIN_BIND=127.0.0.1:${adminPort}`, `CORRAL_ADMIN_TOKEN=${token}`, `CORRAL_PIDFILE=${join(dir, 'corral.pid')}`].join('\n'));
  const second = await startCorral({ cwd: dir, app: 'basic.mjs', workers: 1, env: { ...env, CORRAL_PIDFILE: join(dir, 'corral.pid') } });
  try {
    await second.waitForLog((l) => l.event === 'admin.failed', 10000, 'admin.failed');
    // The second master recorded beside its pidfile that its admin API did not start.
    await waitFor(() => readMasterRecord(join(dir, 'corral.pid'), second.pid)?.adminUrl === null || undefined, 10_000, 'the second master to record that its admin API did not start');
    const status = await exec(dir, [], ['status'], { CORRAL_ENV_FILE: '.env' });
    assert.equal(status.code, 1, `${status.stdout}\n${status.stderr}`);
    assert.match(status.stderr, new RegExp(`^corral status: \\[CORRAL_ERR_ADMIN_UNREACHABLE\\] corral master pid ${second.pid} is running, but its admin API did not start \\(admin\\.failed in its log`));
    assert.equal(status.stdout, '', 'none of the other master\'s figures');
    // --json names the same code, as for every exit but 0 and 3.
    const json = await exec(dir, [], ['status', '--json'], { CORRAL_ENV_FILE: '.env' });
    assert.equal(json.code, 1);
    const answer = JSON.parse(json.stdout) as { running: boolean; pid: number; error: { code: string; message: string } };
    assert.deepEqual([answer.running, answer.pid, answer.error.code], [true, second.pid, 'CORRAL_ERR_ADMIN_UNREACHABLE']);
    // A master of an older corral recorded nothing: the other master answering its CORRAL_ADMIN_BIND is told apart.
    const stamp = join(dir, 'corral.pid.start');
    const { admin_url: _none, ...older } = JSON.parse(readFileSync(stamp, 'utf8')) as { admin_url?: null };
    writeFileSync(stamp, `${JSON.stringify(older)}\n`);
    const olderStatus = await exec(dir, [], ['status', '--json'], { CORRAL_ENV_FILE: '.env' });
    assert.equal(olderStatus.code, 1, `${olderStatus.stdout}\n${olderStatus.stderr}`);
    assert.match(olderStatus.stderr, new RegExp(`^corral status: \\[CORRAL_ERR_ADMIN_OTHER_MASTER\\] corral master pid ${second.pid} is running, but the admin API at \\S+ answers for another master \\(pid ${first.pid}\\)`));
    assert.equal((JSON.parse(olderStatus.stdout) as { error: { code: string } }).error.code, 'CORRAL_ERR_ADMIN_OTHER_MASTER');
    // The master that holds the port is still told apart correctly.
    const own = await exec(first.dir, [], ['status'], { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: first.pidFile, ...env });
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, new RegExp(`master pid ${first.pid},`));
  } finally {
    await second.stop();
    await first.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status names what makes the health degraded (a keeper not beating), with the admin token and without', async () => {
  const adminPort = await freePort();
  const token = 'cli-test-token-0123456789';
  const env = { CORRAL_ADMIN_BIND: `127.0.0.1:${adminPort}`, CORRAL_ADMIN_TOKEN: token };
  // The bundled app (the default CORRAL_APP) runs a keeper.
  const c = await startCorral({ workers: 1, env });
  let keeperPid: number | undefined;
  try {
    keeperPid = (await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${token}` } })).json<{ keeper: { pid: number } | null }>().keeper?.pid;
    assert.ok(keeperPid, 'the stats name the keeper');
    process.kill(keeperPid, 'SIGSTOP');
    await waitFor(async () => (await http(`${c.adminUrl}/api/admin/health`)).json<{ status: string }>().status === 'degraded', 15_000, 'health degraded');
    const lookup = { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: c.pidFile, CORRAL_ADMIN_BIND: env.CORRAL_ADMIN_BIND };
    const figures = await exec(c.dir, [], ['status'], { ...lookup, CORRAL_ADMIN_TOKEN: token });
    assert.equal(figures.code, 0, figures.stderr);
    assert.match(figures.stdout, /^health degraded: keeper not beating$/m);
    const healthOnly = await exec(c.dir, [], ['status'], lookup);
    assert.equal(healthOnly.code, 0, healthOnly.stderr);
    assert.match(healthOnly.stdout, /1\/1 workers ready \(degraded: keeper not beating\)/);
  } finally {
    if (keeperPid) process.kill(keeperPid, 'SIGCONT');
    await c.stop();
  }
});


test('status marks the row of a worker that stopped beating, the others ready', async () => {
  const adminPort = await freePort();
  const token = 'cli-test-token-0123456789';
  const env = { CORRAL_ADMIN_BIND: `127.0.0.1:${adminPort}`, CORRAL_ADMIN_TOKEN: token, CORRAL_TIMEOUT: '60' };
  const c = await startCorral({ workers: 2, env });
  let stopped: number | undefined;
  try {
    const stats = () => http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json<{ workers: { pid: number; state: string }[] }>());
    await waitFor(async () => (await stats()).workers.filter((w) => w.state === 'ready').length === 2, 15_000, 'two workers ready');
    const pids = (await stats()).workers.map((w) => w.pid);
    stopped = pids[0];
    process.kill(stopped!, 'SIGSTOP');
    await waitFor(async () => (await http(`${c.adminUrl}/api/admin/health`)).json<{ workers_not_beating?: number }>().workers_not_beating === 1, 15_000, 'one worker not beating');
    const status = await exec(c.dir, [], ['status'], { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: c.pidFile, CORRAL_ADMIN_BIND: env.CORRAL_ADMIN_BIND, CORRAL_ADMIN_TOKEN: token });
    assert.equal(status.code, 0, status.stderr);
    const row = (pid: number | undefined) => status.stdout.split('\n').find((l) => l.split(/\s+/).includes(String(pid))) ?? '';
    assert.match(row(stopped), /\snot beating\s/, status.stdout);
    assert.match(row(pids[1]), /\sready\s/, status.stdout);
  } finally {
    if (stopped) process.kill(stopped, 'SIGCONT');
    await c.stop();
  }
});

test('a pidfile left by a dead master whose pid was reused, or by a master of an earlier boot: stop, reload and status signal nothing and name it, reload and status exit 3, stop 0 (nothing to stop) and leaves it, and start replaces it; where nothing tells the live process is not a master, start refuses, stop and reload fail and status exits 4 (unknown)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const pidfile = join(dir, 'corral.pid');
  writeFileSync(join(dir, '.env'), [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:0`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`].join('\n'));
  // Stand-ins for whatever got the pid after a kill -9: any process, and one whose command line
  // looks like a master's (only the start stamp next to the pidfile tells it apart).
  const others: ChildProcess[] = [
    spawn('sleep', ['300'], { stdio: 'ignore' }),
    spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', join(dir, 'corral'), 'start'], { stdio: 'ignore' }),
  ];
  let c: Awaited<ReturnType<typeof startCorral>> | undefined;
  try {
    // Spawned means exec'd: the look-alike's argv is in /proc before the CLI reads it.
    await Promise.all(others.map((p) => once(p, 'spawn')));
    const [sleeper, lookalike] = others.map((p) => p.pid!) as [number, number];
    const notRunning = { stop: 0, reload: 3, status: 3 };
    const cases = [
      // Without a start stamp, a command line other than `corral start` proves nothing either way
      // (corral started through a renamed launcher looks the same): not "not running", since start
      // refuses the same pidfile; status says unknown (LSB 4), stop and reload fail.
      {
        pid: sleeper,
        stamp: undefined,
        exits: { stop: 1, reload: 1, status: 4 },
        why: /\[CORRAL_ERR_MASTER_UNVERIFIED\] no corral master could be verified through the pidfile .*: pid \d+ is alive, .*\(sleep 300\).*Whether corral runs is unknown; nothing was signalled.*remove it \(rm /,
      },
      { pid: lookalike, stamp: { pid: lookalike, start_ticks: 1, boot_id: null }, exits: notRunning, why: /no corral master running \(stale pidfile .*the pid was reused/ },
      // Its start ticks match (they may, after a reboot); its boot does not.
      { pid: sleeper, stamp: { pid: sleeper, start_ticks: procStamp(sleeper)!.startTicks, boot_id: 'an-earlier-boot' }, exits: notRunning, why: /no corral master running \(stale pidfile .*: it is from an earlier boot/ },
    ];
    for (const { pid, stamp, exits, why } of cases) {
      writeFileSync(pidfile, `${pid}\n`);
      if (stamp) writeFileSync(`${pidfile}.start`, JSON.stringify(stamp));
      else rmSync(`${pidfile}.start`, { force: true });
      for (const cmd of ['stop', 'reload', 'status'] as const) {
        const r = await corral(dir, cmd);
        assert.equal(r.code, exits[cmd], `${cmd} exits ${exits[cmd]}: ${r.stdout}${r.stderr}`);
        // A stop with nothing to stop succeeds: why is said on stdout, not as an error.
        if (r.code === 0) assert.match(r.stdout, new RegExp(`${why.source}.*; nothing to stop\n$`));
        else assert.match(r.stderr, why);
        assert.ok(existsSync(pidfile), `${cmd} left the stale pidfile in place`);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.ok(isAlive(pid), `${cmd} sent no signal to pid ${pid}`);
      }
    }

    // Start does not take over the stampless pidfile: it may name a master started another way.
    writeFileSync(pidfile, `${sleeper}\n`);
    rmSync(`${pidfile}.start`, { force: true });
    const refused = await corral(dir, 'start');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /\[CORRAL_ERR_ALREADY_RUNNING\] the pidfile .* names a live process that may be a corral master: .*Nothing was started\. If pid \d+ is not corral, the pidfile is stale: remove it \(rm .*\) and start again/);
    assert.equal(readFileSync(pidfile, 'utf8').trim(), String(sleeper), 'the pidfile is left as it was');
    writeFileSync(`${pidfile}.start`, JSON.stringify({ pid: lookalike, start_ticks: 1, boot_id: null }));
    writeFileSync(pidfile, `${lookalike}\n`);

    c = await startCorral({ cwd: dir, workers: null, env: { CORRAL_ENV_FILE: '.env', CORRAL_LOG_FILE: join(dir, 'corral.log'), CORRAL_PIDFILE: pidfile } });
    assert.equal(readFileSync(pidfile, 'utf8').trim(), String(c.pid), 'start replaced the stale pidfile');
    assert.match(String(c.events('pidfile.stale')[0]?.msg), /the pid was reused/);
    const stop = await corral(dir, 'stop');
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await c.exited).code, 0);
    assert.ok(!existsSync(pidfile) && !existsSync(`${pidfile}.start`), 'the master removes its pidfile and start stamp');
    assert.ok(isAlive(lookalike), 'the process that reused the pid was left alone');
  } finally {
    await c?.stop();
    for (const p of others) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The CLI as another user (nobody) that can still read every file (ambient DAC capabilities) but may not signal root's processes. */
const DAC_CAPS = '+dac_override,+dac_read_search';
const corralAsNobody = (dir: string, ...args: string[]) =>
  exec(dir, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${DAC_CAPS}`, `--ambient-caps=${DAC_CAPS}`], args);

test('stop and status work after a bad edit elsewhere in .env; a master of another user is refused with a message, not a stack', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  writeFileSync(join(dir, '.env'), [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:0`, `CORRAL_WORKERS=1`, `CORRAL_APP=${join(FIXTURE_APPS, 'basic.mjs')}`].join('\n'));
  const c = await startCorral({ cwd: dir, workers: null, env: { CORRAL_ENV_FILE: '.env', CORRAL_LOG_FILE: join(dir, 'corral.log'), CORRAL_PIDFILE: join(dir, 'corral.pid') } });
  try {
    for (const cmd of ['reload', 'stop']) {
      const denied = await corralAsNobody(dir, cmd, ...(cmd === 'stop' ? ['--no-wait'] : []));
      assert.equal(denied.code, 1, `${cmd} as nobody: ${denied.stderr}`);
      assert.match(denied.stderr, /\[CORRAL_ERR_SIGNAL_DENIED\] not allowed to send SIG(HUP|TERM) to the master/);
      assert.doesNotMatch(denied.stderr, /\n\s+at /, 'no stack trace');
    }

    appendFileSync(join(dir, '.env'), '\nCORRAL_WORKERS=0\n');
    const status = await corral(dir, 'status');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`master pid ${c.pid}`));
    assert.match(status.stderr, /warning: CORRAL_WORKERS="0" \(from \/.*\/\.env line 5\) is invalid/);
    // CORRAL_GRACEFUL_TIMEOUT is stop's wait, which status never reads: a warning, not exit 78
    // (status judged it with stop's settings, and a `status || alert` alerted on it).
    const graceful = await exec(dir, [], ['status'], { CORRAL_GRACEFUL_TIMEOUT: 'soon' });
    assert.equal(graceful.code, 0, graceful.stderr);
    assert.match(graceful.stderr, /warning: CORRAL_GRACEFUL_TIMEOUT="soon" \(from environment\) is invalid/);
    // A reload would be refused by the master too: the CLI says so at once, and sends nothing.
    const reload = await corral(dir, 'reload');
    assert.equal(reload.code, 78);
    assert.match(reload.stderr, /CORRAL_WORKERS/);
    assert.doesNotMatch(reload.stderr, /does not need it/, 'said once, as the refusal it is');

    // An invalid token: status answers without it (running, exit 0), says why there are no
    // per-worker figures, and warns; it exited 78 with corral running fine.
    appendFileSync(join(dir, '.env'), 'CORRAL_ADMIN_TOKEN=short\n');
    const tokenless = await corral(dir, 'status');
    assert.equal(tokenless.code, 0, tokenless.stderr);
    assert.match(tokenless.stdout, new RegExp(`^corral is running: master pid ${c.pid}, .*; CORRAL_ADMIN_TOKEN in the settings is invalid \\(the warning above says why\\)`));
    assert.match(tokenless.stderr, /warning: CORRAL_ADMIN_TOKEN=<redacted> \(from .*\.env line 6\) is invalid/);
    // An invalid admin address: status, which asks the admin API, is refused (78), in JSON too;
    // stop, which needs only the pidfile, works and warns.
    appendFileSync(join(dir, '.env'), 'CORRAL_ADMIN_BIND=nowhere\n');
    const statusJson = await corral(dir, 'status', '--json');
    assert.equal(statusJson.code, 78, statusJson.stderr);
    const refused = JSON.parse(statusJson.stdout) as { running: unknown; error: { code: string; message: string } };
    assert.equal(refused.running, null);
    assert.equal(refused.error.code, 'CORRAL_ERR_CONFIG_INVALID');
    assert.match(refused.error.message, /CORRAL_ADMIN_BIND="nowhere"/);
    assert.match(statusJson.stderr, /\[CORRAL_ERR_CONFIG_INVALID\]/);

    // stop waits by the master's own graceful timeout, recorded beside the pidfile: an invalid one
    // in the settings is a warning, not exit 78 with corral left running.
    const stop = await exec(dir, [], ['stop'], { CORRAL_GRACEFUL_TIMEOUT: 'soon' });
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stderr, /warning: CORRAL_ADMIN_TOKEN=<redacted> \(from .*\.env line 6\) is invalid/);
    assert.match(stop.stderr, /warning: CORRAL_GRACEFUL_TIMEOUT="soon" \(from environment\) is invalid/);
    assert.match(stop.stdout, new RegExp(`^corral stopped \\(master pid ${c.pid}\\)`));
    assert.equal((await c.exited).code, 0);
    const stopped = await exec(dir, [], ['stop'], { CORRAL_GRACEFUL_TIMEOUT: 'soon' });
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /nothing to stop/);

    // An env file that cannot be read: still one JSON object.
    const noFile = await exec(dir, [], ['status', '--json'], { CORRAL_ENV_FILE: 'nope' });
    assert.equal(noFile.code, 78, noFile.stderr);
    assert.deepEqual((JSON.parse(noFile.stdout) as { running: unknown; error: { code: string } }).running, null);
    assert.equal((JSON.parse(noFile.stdout) as { error: { code: string } }).error.code, 'CORRAL_ERR_ENV_FILE');
    // An invalid CORRAL_ADMIN_BIND is not asked (its default could be another corral's), and that is said.
    const blind = await exec(dir, [], ['stop'], { CORRAL_ADMIN_BIND: 'nowhere' });
    assert.equal(blind.code, 0, blind.stderr);
    assert.match(blind.stdout, /corral is not running \(no pidfile at .*\); the admin API was not asked whether a corral answers elsewhere: CORRAL_ADMIN_BIND is invalid; nothing to stop/);
    // reload looks for the master first: not running is its answer (3), whatever the settings; an
    // invalid CORRAL_GRACEFUL_TIMEOUT, which only the master's own check of them judges, made it 78.
    const noReload = await exec(dir, [], ['reload'], { CORRAL_GRACEFUL_TIMEOUT: 'soon' });
    assert.equal(noReload.code, 3, noReload.stderr);
    assert.match(noReload.stderr, /corral is not running \(no pidfile at /);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

const isRoot = process.getuid?.() === 0;

test(
  'a pidfile this user may not read: status exits 4 (unknown), reload and stop fail and signal nothing, none says "not running"; start cannot write its pidfile: exit 78, no stack',
  { skip: isRoot ? false : 'runs the CLI as nobody through setpriv, which needs root' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
    // The CLI as nobody without root's DAC capabilities: it reaches dir, not dir/private.
    chmodSync(dir, 0o755);
    const pidfile = join(dir, 'private', 'corral.pid');
    mkdirSync(join(dir, 'private'), { mode: 0o700 });
    const master = spawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      await once(master, 'spawn');
      writeFileSync(pidfile, `${master.pid}\n`);
      const env = { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: pidfile };
      const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
      for (const [cmd, code] of [['status', 4], ['stop', 1], ['reload', 1]] as const) {
        const r = await exec(dir, asNobody, [cmd], env);
        assert.equal(r.code, code, `${cmd}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, new RegExp(`\\[CORRAL_ERR_PIDFILE_UNREADABLE\\] cannot read the pidfile ${pidfile} \\(CORRAL_PIDFILE\\): EACCES.*Whether corral runs is unknown; nothing was signalled\\. Run this as the user corral runs as`));
        assert.doesNotMatch(r.stderr, /not running|\n\s+at /);
      }
      assert.ok(isAlive(master.pid!), 'nothing was signalled');

      mkdirSync(join(dir, 'corral.pid'));
      const start = await exec(dir, [], ['start'], { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_BIND: '127.0.0.1:0', CORRAL_ADMIN_BIND: '127.0.0.1:0', CORRAL_WORKERS: '1' });
      assert.equal(start.code, 78, start.stderr);
      // Judged with the other settings, before anything is started (whole-checks.ts).
      assert.match(start.stderr, /^corral start: \[CORRAL_ERR_PIDFILE\] the pidfile .*corral\.pid \(CORRAL_PIDFILE\) cannot be written: it is a directory: name a file in it/);
      assert.doesNotMatch(start.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      master.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/**
 * Runs `args` as nobody (as corralAsNobody) in a private mount namespace whose /proc is mounted
 * hidepid=invisible: root's processes have no /proc entry there, as under systemd's
 * ProtectProc=invisible, while kill(pid, 0) still finds them alive (EPERM).
 */
const HIDEPID_PREFIX = ['unshare', '--mount', 'sh', '-c', 'mount -t proc -o hidepid=invisible proc /proc && exec "$@"', 'sh'];
const NOBODY_PREFIX = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${DAC_CAPS}`, `--ambient-caps=${DAC_CAPS}`];
const canHidepid = spawnSync(HIDEPID_PREFIX[0]!, [...HIDEPID_PREFIX.slice(1), 'true'], { stdio: 'ignore' }).status === 0;

test(
  'where the process a pidfile names cannot be looked at (hidepid, ProtectProc=invisible), its start stamp from an earlier boot still makes it stale: status exits 3; from this boot it is running',
  { skip: canHidepid ? false : 'mounting a private /proc with hidepid needs root (CAP_SYS_ADMIN)' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
    const pidfile = join(dir, 'corral.pid');
    writeFileSync(join(dir, '.env'), [`CORRAL_ADMIN_BIND=127.0.0.1:0`, `CORRAL_PIDFILE=${pidfile}`].join('\n'));
    // Whatever holds the pid now: root's, so invisible to nobody.
    const holder = spawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      await once(holder, 'spawn');
      const pid = holder.pid!;
      const probe = await run(HIDEPID_PREFIX[0]!, [...HIDEPID_PREFIX.slice(1), ...NOBODY_PREFIX, 'sh', '-c', `test -e /proc/${pid} || echo hidden; cat /proc/sys/kernel/random/boot_id`], { timeout: 10000 });
      const thisBoot = procStamp(pid)!.bootId;
      assert.equal(probe.stdout, `hidden\n${thisBoot}\n`, 'the pid is hidden from the CLI, the boot id is not');
      const startTicks = procStamp(pid)!.startTicks;
      writeFileSync(pidfile, `${pid}\n`);
      writeFileSync(`${pidfile}.start`, JSON.stringify({ pid, start_ticks: startTicks, boot_id: 'an-earlier-boot' }));
      const stale = await exec(dir, [...HIDEPID_PREFIX, ...NOBODY_PREFIX], ['status']);
      assert.equal(stale.code, 3, `${stale.stdout}${stale.stderr}`);
      assert.match(stale.stderr, /no corral master running \(stale pidfile .*: it is from an earlier boot/);
      // From this boot, nothing can be checked: the live pid is taken for the master.
      writeFileSync(`${pidfile}.start`, JSON.stringify({ pid, start_ticks: startTicks, boot_id: thisBoot }));
      const running = await exec(dir, [...HIDEPID_PREFIX, ...NOBODY_PREFIX], ['status']);
      assert.equal(running.code, 0, `${running.stdout}${running.stderr}`);
      assert.match(running.stdout, new RegExp(`corral is running \\(master pid ${pid}\\)`));
      assert.ok(isAlive(pid), 'status signals nothing');
    } finally {
      holder.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('every command answers --help, and an unknown command or flag is a usage error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    for (const name of ['start', 'reload', 'stop', 'status', 'config', 'version']) {
      const r = await corral(dir, name, '--help');
      assert.equal(r.code, 0, `${name} --help`);
      assert.match(r.stdout, new RegExp(`Usage: corral ${name}`));
    }
    // LSB's status codes, which scripts (`corral status || corral start`) and monitoring act on.
    assert.match((await corral(dir, 'status', '--help')).stdout, /Exit codes \(LSB's\): 0 running, 3 not running .*, 4 unknown: the\npidfile names a live process without a start stamp that may or may not be corral/s);
    const unknown = await corral(dir, 'frobnicate');
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /^corral: \[CORRAL_ERR_USAGE\] unknown command "frobnicate"\n/);
    // A typo gets the command it is nearest (a swap of two letters is one edit); a command corral
    // spells another way gets that way.
    for (const [typed, says] of [
      ['stauts', /unknown command "stauts": did you mean status\?\n/],
      ['relaod', /did you mean reload\?/],
      ['restart', /corral has no restart: `corral reload` replaces the workers .*`systemctl restart corral` under systemd, else `corral stop`, then `corral start`/],
    ] as const) {
      const r = await corral(dir, typed);
      assert.equal(r.code, 64, typed);
      assert.match(r.stderr, says);
    }
    // An option before the command: where it goes.
    for (const [args, says] of [
      [['--json', 'status'], /unknown command "--json": options follow the command, as in corral status --json\n/],
      [['-c', 'corral.env', 'start'], /unknown command "-c": options follow the command, as in corral start -c corral\.env\n/],
      // No command at all, as other servers are started: the setting the flag names, and the command.
      [['--port', '8000'], /unknown command "--port": corral takes host and port in one setting, .*set CORRAL_BIND=HOST:8000 there, .*; the command that starts corral is `corral start`\n/],
      [['-w4'], /unknown command "-w4": .*set CORRAL_WORKERS=4 there .*; the command that starts corral is `corral start`\n/],
      // An option of some commands with none: which take it.
      [['--json'], /unknown command "--json": options follow the command; status, config, check and recommend take --json \(corral status --json\)\n/],
      [['--fast'], /unknown command "--fast": options follow the command; stop takes --fast \(corral stop --fast\)\n/],
      [['--sideways'], /unknown command "--sideways"\n/],
    ] as const) {
      const r = await corral(dir, ...args);
      assert.equal(r.code, 64, args.join(' '));
      assert.match(r.stderr, says);
    }
    const badFlag = await corral(dir, 'stop', '--sideways');
    assert.equal(badFlag.code, 64);
    assert.match(badFlag.stderr, /Unknown option '--sideways'/);
    // The emulator: a bad value is a usage error; a key file it cannot write stops it (it used
    // to print a stack and go on listening, then to announce "listening on" before failing).
    const badPort = await corral(dir, 'emulator', '--port', 'abc');
    assert.equal(badPort.code, 64);
    assert.match(badPort.stderr, /--port must be an integer from 0 to 65535, got "abc"/);
    // The error stays in sight: the usage line and where the rest is, not 45 lines of options.
    assert.match(badPort.stderr, /^corral emulator: \[CORRAL_ERR_USAGE\] --port .*\nUsage: corral emulator \[--port 8085\] \[options\]\nRun `corral emulator --help` for the options and exit codes\.\n$/);
    const badKey = await corral(dir, 'emulator', '--port', '0', '--key-out', join(dir, 'missing', 'key.json'));
    assert.equal(badKey.code, 64, badKey.stderr);
    assert.match(badKey.stderr, /cannot write --key-out .*ENOENT/);
    // ...and says nothing on stdout: a script waiting for "listening on" must not go on.
    assert.equal(badKey.stdout, '');
    // A file already there is not overwritten (an operator's real key.json), nor followed (a symlink).
    const realKey = join(dir, 'key.json');
    writeFileSync(realKey, '{"private_key":"REAL"}\n', { mode: 0o644 });
    symlinkSync(realKey, join(dir, 'link.json'));
    for (const name of ['key.json', 'link.json']) {
      const r = await corral(dir, 'emulator', '--port', '0', '--key-out', join(dir, name));
      assert.equal(r.code, 64, r.stderr);
      assert.match(r.stderr, new RegExp(`--key-out .*${name} exists: the emulator writes a new key; remove it or choose another name`));
    }
    assert.equal(readFileSync(realKey, 'utf8'), '{"private_key":"REAL"}\n');
    for (const flag of ['--spreadsheet-id', '--api-key']) {
      const r = await corral(dir, 'emulator', '--port', '0', flag, '');
      assert.equal(r.code, 64, `${flag} ''`);
      assert.match(r.stderr, new RegExp(`${flag} is empty: give it a value, or leave the option out`));
    }
    // systemd-unit --output: a refusal leaves the installed unit as it was (a redirection emptied
    // it, and systemd reads an empty unit as masked); a success replaces it whole, mode 0644.
    const unit = join(dir, 'corral.service');
    const good = await corral(dir, 'systemd-unit', '--settings-file', join(dir, 'none.env'), '--output', unit);
    assert.equal(good.code, 0, good.stderr);
    assert.match(readFileSync(unit, 'utf8'), /^\[Service\]$/m);
    assert.equal(statSync(unit).mode & 0o777, 0o644);
    const installed = readFileSync(unit, 'utf8');
    writeFileSync(join(dir, 'bad.env'), 'CORRAL_WORKERS=sixteen\n');
    const refused = await corral(dir, 'systemd-unit', '--settings-file', join(dir, 'bad.env'), '--output', unit);
    assert.equal(refused.code, 78);
    assert.equal(readFileSync(unit, 'utf8'), installed, 'the installed unit is untouched');
    const toDir = await corral(dir, 'systemd-unit', '--settings-file', join(dir, 'none.env'), '--output', dir);
    assert.equal(toDir.code, 64);
    assert.match(toDir.stderr, /cannot write --output .*: it is a directory/);
    // A unit installed as a link (`systemctl link`): its target gets the new unit, the link stays.
    const target = join(dir, 'units', 'corral.service');
    mkdirSync(join(dir, 'units'));
    writeFileSync(target, '# an older unit\n');
    const linked = join(dir, 'linked.service');
    symlinkSync(target, linked);
    const throughLink = await corral(dir, 'systemd-unit', '--settings-file', join(dir, 'none.env'), '--output', linked);
    assert.equal(throughLink.code, 0, throughLink.stderr);
    assert.ok(lstatSync(linked).isSymbolicLink(), 'still a link');
    assert.equal(readFileSync(target, 'utf8'), installed, 'its target holds the new unit');
    for (const budget of ['0.5', '101', 'lots']) {
      const r = await corral(dir, 'recommend', '--ram-budget', budget);
      assert.equal(r.code, 64, `--ram-budget ${budget}`);
      assert.match(r.stderr, new RegExp(`--ram-budget must be a number from 1 to 100 in plain decimal notation .*, got "${budget}"`));
    }
    // systemd-unit overrides are judged by the settings' own ranges.
    for (const [flag, value, says] of [
      ['--workers', '0', /--workers \(CORRAL_WORKERS\) must be an integer from 1 to 512/],
      ['--timeout', '0', /--timeout \(CORRAL_TIMEOUT\) must be an integer from 1 to/],
      ['--port', '70000', /--port must be an integer from 1 to 65535/],
    ] as const) {
      const r = await corral(dir, 'systemd-unit', flag, value);
      assert.equal(r.code, 64, `${flag} ${value}`);
      assert.match(r.stderr, says);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invalid settings exit 78 with their stable code, as every other CorralError is printed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    for (const cmd of ['config', 'start']) {
      const r = await exec(dir, [], [cmd], { CORRAL_WORKERS: 'abc' });
      assert.equal(r.code, 78, `${cmd}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^corral ${cmd}: \\[CORRAL_ERR_CONFIG_INVALID\\] invalid settings:\n  CORRAL_WORKERS="abc" \\(from environment\\)`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad CORRAL_LOGIN_FAILURES_PER_NAME is named with what is allowed by config, start and check', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    writeFileSync(join(dir, '.env'), 'CORRAL_LOGIN_FAILURES_PER_NAME=-5\n');
    const says = /CORRAL_LOGIN_FAILURES_PER_NAME="-5" \(from \/.*\/\.env line 1\): an integer from 0 to 1000000/;
    for (const cmd of ['config', 'start']) {
      const r = await exec(dir, [], [cmd], { CORRAL_PIDFILE: join(dir, 'corral.pid') });
      assert.equal(r.code, 78, `${cmd}: ${r.stderr}`);
      assert.match(r.stderr, says);
      assert.equal(existsSync(join(dir, 'corral.pid')), false, 'nothing was started');
    }
    // check gives its own verdict: FAIL at the settings stage, exit 1.
    const check = await exec(dir, [], ['check']);
    assert.equal(check.code, 1, check.stderr);
    assert.match(check.stdout + check.stderr, /FAIL \(settings\): CORRAL_LOGIN_FAILURES_PER_NAME="-5" \(from \/.*\/\.env line 1\): an integer from 0 to 1000000 \[CORRAL_ERR_CONFIG_INVALID\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key file that is not there and a data dir that is a file: config --check names both, start exits 78 at once saying the same, starting nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    const [key, data] = [join(dir, 'absent.json'), join(dir, 'passwd')];
    const env = { SHEET_ID: 'abc', GOOGLE_APPLICATION_CREDENTIALS: key, CORRAL_DATA_DIR: data, CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_BIND: '127.0.0.1:0', CORRAL_ADMIN_BIND: '127.0.0.1:0', CORRAL_WORKERS: '1' };
    const saysKey = `  GOOGLE_APPLICATION_CREDENTIALS="${key}" \\(from environment\\): cannot read the service-account key GOOGLE_APPLICATION_CREDENTIALS=${key}: ENOENT[^\n]*; give the path of a service account's JSON key file`;
    const saysDir = `  CORRAL_DATA_DIR="${data}" \\(from environment\\): ${data} is a file, not a directory: point CORRAL_DATA_DIR at a directory`;
    const check = await exec(dir, [], ['config', '--check'], env);
    assert.equal(check.code, 78, check.stdout + check.stderr);
    assert.equal(check.stdout, '');
    assert.match(check.stderr, new RegExp(`^corral config: \\[CORRAL_ERR_CONFIG_INVALID\\] invalid settings:\n${saysKey}[^\n]*\n${saysDir}`));
    // Before, start said `master.ready` while the keeper exited 7 over and over (or, with the data
    // dir a file, exited 3 after 10 s over a bare EEXIST).
    for (const [only, says] of [[{ CORRAL_DATA_DIR: join(dir, 'data') }, saysKey], [{ GOOGLE_APPLICATION_CREDENTIALS: '', SHEET_ID: '' }, saysDir]] as const) {
      const t0 = Date.now();
      const start = await exec(dir, [], ['start'], { ...env, ...only });
      assert.equal(start.code, 78, start.stdout + start.stderr);
      assert.match(start.stderr, new RegExp(`^corral start: \\[CORRAL_ERR_CONFIG_INVALID\\] invalid settings:\n${says}`));
      assert.doesNotMatch(start.stdout, /master\.ready/);
      assert.ok(Date.now() - t0 < 10_000, `refused at once, not after the workers' boot attempts (${Date.now() - t0} ms)`);
      assert.equal(existsSync(join(dir, 'corral.pid')), false, 'nothing was started');
      assert.equal(existsSync(join(dir, 'data')), false, 'the data dir is not created');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'a data dir the user corral runs as cannot write in, or cannot create: config --check and start exit 78 naming it, starting nothing',
  { skip: isRoot ? false : 'runs the CLI as nobody through setpriv, which needs root' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
    try {
      // root's directories, open to nobody for reading only: nobody can neither write in `data`
      // nor create `parent/data` (before, the keeper failed at boot over and over, exit 7).
      chmodSync(dir, 0o777);
      mkdirSync(join(dir, 'data'), { mode: 0o755 });
      mkdirSync(join(dir, 'parent'), { mode: 0o755 });
      const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
      const base = { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_BIND: '127.0.0.1:0', CORRAL_ADMIN_BIND: '127.0.0.1:0', CORRAL_WORKERS: '1' };
      const cases = [
        [join(dir, 'data'), `${join(dir, 'data')} is not writable by uid 65534 \\(EACCES\\), and the keeper keeps its lock and write journal there: give the user corral runs as the directory`],
        [join(dir, 'parent', 'data'), `${join(dir, 'parent', 'data')} does not exist, and uid 65534 cannot create it in ${join(dir, 'parent')} \\(EACCES\\): create it for the user corral runs as`],
      ] as const;
      for (const [data, says] of cases) {
        const env = { ...base, CORRAL_DATA_DIR: data };
        const check = await exec(dir, asNobody, ['config', '--check'], env);
        assert.equal(check.code, 78, check.stdout + check.stderr);
        assert.match(check.stderr, new RegExp(`^corral config: \\[CORRAL_ERR_CONFIG_INVALID\\] invalid settings:\n  CORRAL_DATA_DIR="${data}" \\(from environment\\): ${says}`));
        const start = await exec(dir, asNobody, ['start'], env);
        assert.equal(start.code, 78, start.stdout + start.stderr);
        assert.match(start.stderr, new RegExp(`^corral start: \\[CORRAL_ERR_CONFIG_INVALID\\] invalid settings:\n  CORRAL_DATA_DIR="${data}" \\(from environment\\): ${says}`));
        assert.doesNotMatch(start.stdout, /keeper\.boot/, 'no keeper was started');
        assert.equal(existsSync(join(dir, 'corral.pid')), false, 'nothing was started');
        // root may write there: the same settings pass for root (root is not who runs corral here).
        const asRoot = await exec(dir, [], ['config', '--check'], env);
        assert.equal(asRoot.code, 0, asRoot.stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('an env file that cannot be read (missing, a directory, private to the user corral runs as) exits 78 with its code and the fix, starting nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    for (const [cmd, file, reason] of [
      ['start', join(dir, 'missing.env'), 'ENOENT'],
      ['config', join(dir, 'missing.env'), 'ENOENT'],
      ['start', dir, 'EISDIR'],
    ] as const) {
      const r = await exec(dir, [], [cmd], { CORRAL_ENV_FILE: file, CORRAL_PIDFILE: join(dir, 'corral.pid') });
      assert.equal(r.code, 78, `${cmd} with CORRAL_ENV_FILE=${file}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^corral ${cmd}: \\[CORRAL_ERR_ENV_FILE\\] cannot read env file .*${reason}`));
      assert.equal(existsSync(join(dir, 'corral.pid')), false, 'nothing was started');
    }
    // A settings file private to corral's user, read by a command run as another: the fix names
    // both sides (the master reads it as corral's user; the operator runs status as themselves).
    if (isRoot) {
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, 'private.env'), 'CORRAL_WORKERS=2\n', { mode: 0o600 });
      const r = await exec(dir, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'], ['status'], { CORRAL_ENV_FILE: join(dir, 'private.env') });
      assert.equal(r.code, 78, r.stderr);
      assert.match(r.stderr, /^corral status: \[CORRAL_ERR_ENV_FILE\] cannot read env file .*private\.env: EACCES.*; make it readable by the user corral runs as, and run corral's commands as that user or root \(sudo -u <that user> corral …\)\n$/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('`corral help <command>` prints that command\'s help; an unknown one, or no command at all, is a usage error on stderr', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    for (const name of ['config', 'check', 'systemd-unit']) {
      const r = await corral(dir, 'help', name);
      assert.equal(r.code, 0, `help ${name}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: corral ${name}`));
    }
    const unknown = await corral(dir, 'help', 'frobnicate');
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /unknown command "frobnicate"\n/);
    const none = await corral(dir);
    assert.equal(none.code, 64);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /^Usage: corral <command>/);
    const extra = await corral(dir, '--version', 'extra');
    assert.equal(extra.code, 64, 'an argument after --version is refused, as after `version`');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config refuses what start refuses: an admin API beyond loopback without CORRAL_ADMIN_TOKEN exits 78 with its code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    writeFileSync(join(dir, '.env'), 'CORRAL_ADMIN_BIND=0.0.0.0:9090\n');
    for (const cmd of ['config', 'start']) {
      const r = await exec(dir, [], [cmd], { CORRAL_PIDFILE: join(dir, 'corral.pid') });
      assert.equal(r.code, 78, `${cmd}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^corral ${cmd}: \\[CORRAL_ERR_ADMIN_UNSAFE\\] CORRAL_ADMIN_BIND=0\\.0\\.0\\.0:9090 is reachable from other hosts but CORRAL_ADMIN_TOKEN is unset`));
    }
    // With a token, the same bind is fine.
    const ok = await exec(dir, [], ['config'], { CORRAL_ADMIN_TOKEN: 'a-token-of-24-characters' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^CORRAL_ADMIN_TOKEN\s+<redacted>\s+environment$/m);
    // An empty list is said, not a blank cell.
    assert.match(ok.stdout, /^CORRAL_TRUSTED_PROXIES\s+\(none\)\s+default$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('recommend --admin-url that is not an http(s) URL is a usage error, not "no running corral answered"; one beyond loopback is refused without --allow-remote', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    for (const url of ['127.0.0.1:9090', 'localhost:9090', 'ftp://127.0.0.1:9090']) {
      const r = await exec(dir, [], ['recommend', '--admin-url', url], { CORRAL_ENV_FILE: 'none' });
      assert.equal(r.code, 64, `${url}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`--admin-url must be an http\\(s\\) URL such as http://127\\.0\\.0\\.1:9090, got "${url.replace(/\./g, '\\.')}"`));
    }
    // A remote admin URL would be sent CORRAL_ADMIN_TOKEN in the clear: refused as loadtest --admin is.
    const remote = await exec(dir, [], ['recommend', '--admin-url', 'http://192.0.2.2:19555'], { CORRAL_ENV_FILE: 'none', CORRAL_ADMIN_TOKEN: 'a-token-of-24-characters' });
    assert.equal(remote.code, 64, `${remote.stdout}${remote.stderr}`);
    assert.match(remote.stderr, /^corral recommend: \[CORRAL_ERR_USAGE\] --admin-url 192\.0\.2\.2:19555 is not a loopback address; pass --allow-remote if you own that server and mean to send it the admin token\n/);
    assert.equal(remote.stdout, '');
    // With --allow-remote it is asked (192.0.2.0/24 is TEST-NET-1: nothing answers, within its 2 s).
    const allowed = await exec(dir, [], ['recommend', '--admin-url', 'http://192.0.2.2:19555', '--allow-remote'], { CORRAL_ENV_FILE: 'none' });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /no running corral answered at http:\/\/192\.0\.2\.2:19555/);
    // It sizes workers: the keeper's key (not there, or not readable by this user) is not its business.
    const keyless = await exec(dir, [], ['recommend', '--admin-url', 'http://127.0.0.1:1'], { CORRAL_ENV_FILE: 'none', SHEET_ID: 'sheet-1', GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'absent.json') });
    assert.equal(keyless.code, 0, keyless.stderr);
    assert.match(keyless.stdout, /^CORRAL_WORKERS=\d+$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config --check answers in one line whether start would accept the settings: 0 with the warnings on stderr, 78 with every problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    writeFileSync(join(dir, '.env'), 'CORRAL_WORKERS=2\nCORRAL_WORKRS=3\n');
    const ok = await corral(dir, 'config', '--check');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse((await corral(dir, 'config', '--json')).stdout) as { valid: boolean }).valid, true);
    assert.equal(ok.stdout, `settings OK (env file: ${join(dir, '.env')}; 1 warning on stderr)\n`);
    assert.equal(ok.stderr, `warning: unknown setting CORRAL_WORKRS (${join(dir, '.env')} line 2): did you mean CORRAL_WORKERS?\n`);
    writeFileSync(join(dir, '.env'), 'CORRAL_WORKERS=0\nCORRAL_TIMEOUT=30s\n');
    const refused = await corral(dir, 'config', '--check');
    assert.equal(refused.code, 78);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /\[CORRAL_ERR_CONFIG_INVALID\] invalid settings:\n  CORRAL_WORKERS="0" \(from .*\.env line 1\).*\n  CORRAL_TIMEOUT="30s" \(from .*\.env line 2\): .*in seconds/);
    // --json says the same on stdout, problem by problem, for a script (nothing there reads as success to jq).
    const refusedJson = await corral(dir, 'config', '--json');
    assert.equal(refusedJson.code, 78);
    const answer = JSON.parse(refusedJson.stdout) as { valid: boolean; error: { code: string }; problems: { name: string; value: string; source: string; allowed: string }[] };
    assert.equal(answer.valid, false);
    assert.equal(answer.error.code, 'CORRAL_ERR_CONFIG_INVALID');
    assert.deepEqual(answer.problems.map((p) => [p.name, p.value]), [['CORRAL_WORKERS', '0'], ['CORRAL_TIMEOUT', '30s']]);
    assert.match(answer.problems[1]?.allowed ?? '', /in seconds/);
    assert.match(refusedJson.stderr, /\[CORRAL_ERR_CONFIG_INVALID\]/);
    const both = await corral(dir, 'config', '--check', '--json');
    assert.equal(both.code, 64);
    assert.match(both.stderr, /--check and --json cannot be combined/);
    // A pidfile start could not write (under a plain file; a directory) is refused as start would
    // refuse it; one in a directory not there yet is fine, and nothing is created.
    writeFileSync(join(dir, 'plain'), '');
    for (const [pidfile, why] of [[join(dir, 'plain', 'corral.pid'), /plain is not a directory/], [dir, /it is a directory: name a file in it, e.g. CORRAL_PIDFILE=.*\/corral\.pid/]] as const) {
      writeFileSync(join(dir, '.env'), `CORRAL_WORKERS=2\nCORRAL_PIDFILE=${pidfile}\n`);
      const r = await corral(dir, 'config', '--check');
      assert.equal(r.code, 78, r.stderr);
      assert.match(r.stderr, /\[CORRAL_ERR_PIDFILE\] the pidfile .* \(CORRAL_PIDFILE\) cannot be written: /);
      assert.match(r.stderr, why);
    }
    writeFileSync(join(dir, '.env'), `CORRAL_WORKERS=2\nCORRAL_PIDFILE=${join(dir, 'run', 'corral.pid')}\n`);
    const fresh = await corral(dir, 'config', '--check');
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(existsSync(join(dir, 'run')), false, 'config --check created nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config and start report every problem at once, the settings as a whole included, with the warnings that explain them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    // A misspelt token: "CORRAL_ADMIN_TOKEN is unset" alone did not say why.
    writeFileSync(join(dir, '.env'), 'CORRAL_ADMIN_BIND=0.0.0.0:26031\nCORRAL_ADMIN_TOKNE=0123456789abcdef0123\n');
    for (const cmd of ['config', 'start']) {
      const r = await exec(dir, [], [cmd], { CORRAL_PIDFILE: join(dir, 'corral.pid') });
      assert.equal(r.code, 78, `${cmd}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^corral ${cmd}: \\[CORRAL_ERR_ADMIN_UNSAFE\\] CORRAL_ADMIN_BIND=0\\.0\\.0\\.0:26031 is reachable from other hosts but CORRAL_ADMIN_TOKEN is unset`));
      assert.match(r.stderr, /note: unknown setting CORRAL_ADMIN_TOKNE \(\S+\.env line 2\): did you mean CORRAL_ADMIN_TOKEN\?/);
    }
    const json = await corral(dir, 'config', '--json');
    assert.equal(json.code, 78);
    const answer = JSON.parse(json.stdout) as { error: { code: string }; problems: { name: string; code?: string }[]; warnings: string[] };
    assert.equal(answer.error.code, 'CORRAL_ERR_ADMIN_UNSAFE');
    assert.deepEqual(answer.problems.map((p) => [p.name, p.code]), [['CORRAL_ADMIN_BIND', 'CORRAL_ERR_ADMIN_UNSAFE']]);
    assert.deepEqual(answer.warnings, [`unknown setting CORRAL_ADMIN_TOKNE (${join(dir, '.env')} line 2): did you mean CORRAL_ADMIN_TOKEN?`]);

    // Four mistakes, one run.
    writeFileSync(join(dir, 'afile'), '');
    mkdirSync(join(dir, 'adir'));
    writeFileSync(join(dir, '.env'), 'CORRAL_WORKERS=x\nCORRAL_ADMIN_BIND=0.0.0.0:26032\nCORRAL_LOG_FILE=afile/x.log\nCORRAL_PIDFILE=adir\n');
    for (const args of [['config', '--check'], ['start']]) {
      const r = await corral(dir, ...args);
      assert.equal(r.code, 78, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /\[CORRAL_ERR_CONFIG_INVALID\] invalid settings:\n {2}CORRAL_WORKERS="x".*\n {2}CORRAL_ADMIN_BIND=.*\[CORRAL_ERR_ADMIN_UNSAFE\]\n {2}CORRAL_LOG_FILE=.*\[CORRAL_ERR_LOG_FILE\]\n {2}CORRAL_PIDFILE=.*\[CORRAL_ERR_PIDFILE\]/);
    }
    assert.equal(existsSync(join(dir, 'adir', 'corral.pid')), false, 'nothing was started');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CORRAL_ADMIN_BIND naming this host by its name: status asks the address it was bound to, with no warning that it is no address of this host", async (t) => {
  const name = hostname();
  const resolved = await lookup(name).catch(() => undefined);
  if (!resolved) {
    t.skip(`this host's name (${name}) does not resolve`);
    return;
  }
  const token = 'cli-test-token-0123456789';
  const adminPort = await freePort();
  const env = { CORRAL_ADMIN_BIND: `${name}:${adminPort}`, CORRAL_ADMIN_TOKEN: token };
  const c = await startCorral({ workers: 1, env });
  try {
    const status = await exec(c.dir, [], ['status'], { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: c.pidFile, CORRAL_ADMIN_BIND: env.CORRAL_ADMIN_BIND, CORRAL_ADMIN_TOKEN: token });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stderr, '', 'no warning');
    assert.match(status.stdout, /^workers 1\/1 ready/m);
  } finally {
    await c.stop();
  }
});
