import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT } from '../../src/errors.js';
import { isAlive } from '../../src/master/pidfile.js';
import { CORRAL_BIN, FIXTURE_APPS, readLogLines, startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { Client } from 'undici';
import { http } from '../helpers/http.js';

async function distinctWorkers(url: string, want: number): Promise<Set<number>> {
  const seen = new Set<number>();
  await waitFor(async () => {
    // New connection each time: the master round-robins connections across workers.
    const r = await http(url, { headers: { connection: 'close' } });
    seen.add(r.json<{ pid: number }>().pid);
    return seen.size >= want;
  }, 10000, `${want} distinct workers answering`);
  return seen;
}

test('CORRAL_WORKERS=3 boots 3 workers that all serve', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 3 });
  try {
    assert.equal(c.events('worker.ready').length, 3);
    const ready = c.events('master.ready')[0];
    assert.equal(ready?.workers, 3);
    assert.equal((await distinctWorkers(c.url, 3)).size, 3);
    for (const line of c.logs()) {
      assert.ok(['master', 'worker', 'keeper'].includes(String(line.role)), 'every line has a role');
      assert.equal(typeof line.pid, 'number');
      assert.ok('gen' in line && 'worker' in line);
    }
  } finally {
    await c.stop();
  }
});

test('kill -9 of a worker: it is replaced and the others keep serving', async () => {
  const token = 'boot-test-token-0123456789';
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_ADMIN_TOKEN: token } });
  const survivor = new Client(c.url, { keepAliveTimeout: 60_000 });
  try {
    // A keep-alive connection pinned to one worker; the other one is the victim.
    const first = await survivor.request({ path: '/', method: 'GET' });
    const survivorPid = ((await first.body.json()) as { pid: number }).pid;
    const victim = c.events('worker.ready').find((l) => Number(l.worker_pid) !== survivorPid);
    assert.ok(victim);
    process.kill(Number(victim.worker_pid), 'SIGKILL');
    let served = 0;
    const replaced = await waitFor(async () => {
      const r = await survivor.request({ path: '/', method: 'GET' });
      assert.equal(r.statusCode, 200);
      assert.equal(((await r.body.json()) as { pid: number }).pid, survivorPid);
      served++;
      return c.events('worker.ready').find((l) => Number(l.worker_id) > 2);
    }, 15000, 'a replacement worker');
    assert.ok(served > 0);
    const exit = c.events('worker.exit').find((l) => l.worker_pid === victim.worker_pid);
    assert.equal(exit?.signal, 'SIGKILL');
    assert.match(String(exit?.msg), /died unexpectedly/);
    // Counted where an operator looks without reading the log.
    const metrics = (await http(`${c.adminUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text;
    assert.match(metrics, /^corral_child_exits_total\{role="worker",reason="died"\} 1$/m);
    assert.match(metrics, /^corral_child_exits_total\{role="worker",reason="timeout"\} 0$/m);
    // New connections reach both the survivor and the replacement.
    const pids = await distinctWorkers(c.url, 2);
    assert.ok(pids.size === 2);
    assert.ok(replaced);
  } finally {
    await survivor.close();
    await c.stop();
  }
});

test('a bad .env exits 78 and lists every bad setting, starting nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-env-'));
  try {
    writeFileSync(join(dir, '.env'), 'CORRAL_WORKERS=lots\nCORRAL_TIMEOUT=-5\nCORRAL_BIND=nowhere:99999\nCORRAL_WORKRES=3\n');
    const r = spawnSync(process.execPath, [CORRAL_BIN, 'start'], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 15000 });
    assert.equal(r.status, 78, r.stderr);
    for (const name of ['CORRAL_WORKERS', 'CORRAL_TIMEOUT', 'CORRAL_BIND']) assert.match(r.stderr, new RegExp(`${name}=`), `${name} listed`);
    assert.match(r.stderr, /an integer from 1 to/);
    assert.match(r.stderr, /did you mean CORRAL_WORKERS/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a CORRAL_LOG_FILE that cannot be opened exits 78 with the path and why, leaving no pidfile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-logfile-'));
  try {
    // A plain file where the log directory should be: not creatable, even by root.
    writeFileSync(join(dir, 'logs'), '');
    const env = { PATH: process.env.PATH ?? '', CORRAL_LOG_FILE: join(dir, 'logs', 'corral.log'), CORRAL_BIND: '127.0.0.1:0', CORRAL_ADMIN_BIND: '127.0.0.1:0', CORRAL_WORKERS: '1' };
    const r = spawnSync(process.execPath, [CORRAL_BIN, 'start'], { cwd: dir, env, encoding: 'utf8', timeout: 15000 });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr, /\[CORRAL_ERR_LOG_FILE\] cannot open CORRAL_LOG_FILE .*logs\/corral\.log/);
    assert.doesNotMatch(r.stderr, /RangeError|    at /, 'no stack trace');
    assert.equal(existsSync(join(dir, 'corral.pid')), false, 'no pidfile left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker forked while the log file cannot be opened (a rotation gone wrong) boots, its lines on stdout: it failed with exit 78, and the master gave up once no worker was left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-childlog-'));
  const logs = join(dir, 'logs');
  const c = await startCorral({ app: 'basic.mjs', workers: 1, waitReady: false, env: { CORRAL_LOG_FILE: join(logs, 'corral.log'), CORRAL_BOOT_ATTEMPTS: '2' } });
  let stdout = '';
  c.proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  try {
    await waitFor(() => readLogLines(join(logs, 'corral.log')).some((l) => l.event === 'master.ready'), 15000, 'master.ready');
    // The master keeps writing to its open file, now under logs.old; a new process cannot create
    // logs/corral.log, since logs is now a plain file (not creatable, even by root).
    renameSync(logs, `${logs}.old`);
    writeFileSync(logs, '');
    c.kill('SIGTTIN');
    const masterLog = join(`${logs}.old`, 'corral.log');
    await waitFor(() => readLogLines(masterLog).filter((l) => l.event === 'worker.ready').length >= 2, 15000, 'the second worker ready');
    assert.deepEqual(readLogLines(masterLog).filter((l) => l.event === 'worker.boot_failed'), []);
    // Its own lines went to its stdout, which the master relays to its own.
    const said = await waitFor(() => stdout.split('\n').find((l) => l.includes('"event":"log.file_unavailable"')), 5000, 'log.file_unavailable on stdout');
    const line = JSON.parse(said) as Record<string, unknown>;
    assert.equal(line.code, 'CORRAL_ERR_LOG_FILE');
    assert.match(String(line.msg), /cannot open CORRAL_LOG_FILE .*logs\/corral\.log/);
    assert.equal(isAlive(c.pid), true);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an admin API beyond loopback without a token exits 78 naming the fix, leaving no pidfile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-adminbind-'));
  try {
    const env = { PATH: process.env.PATH ?? '', CORRAL_BIND: '127.0.0.1:0', CORRAL_ADMIN_BIND: '0.0.0.0:0', CORRAL_WORKERS: '1' };
    const r = spawnSync(process.execPath, [CORRAL_BIN, 'start'], { cwd: dir, env, encoding: 'utf8', timeout: 15000 });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr, /\[CORRAL_ERR_ADMIN_UNSAFE\] CORRAL_ADMIN_BIND=0\.0\.0\.0:0 is reachable from other hosts but CORRAL_ADMIN_TOKEN is unset/);
    assert.equal(existsSync(join(dir, 'corral.pid')), false, 'no pidfile left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GUNICORN_* aliases from the old deployment are honoured, with a warning each', async () => {
  const c = await startCorral({
    app: 'basic.mjs',
    workers: null,
    env: { GUNICORN_WORKERS: '3', GUNICORN_TIMEOUT: '7', GUNICORN_KEEPALIVE: '2', GUNICORN_WORKER_CLASS: 'gevent' },
  });
  try {
    assert.equal(c.events('worker.ready').length, 3);
    assert.equal(c.events('master.start')[0]?.timeout_s, 7);
    const warnings = c.events('config.warning').map((l) => String(l.msg));
    for (const alias of ['GUNICORN_WORKERS', 'GUNICORN_TIMEOUT', 'GUNICORN_KEEPALIVE']) {
      assert.equal(warnings.filter((w) => w.startsWith(`${alias} is a deprecated alias`)).length, 1, `one warning for ${alias}`);
    }
    assert.ok(warnings.some((w) => /GUNICORN_WORKER_CLASS is ignored/.test(w)));
    const cfg = spawnSync(process.execPath, [CORRAL_BIN, 'config', '--json'], {
      env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', GUNICORN_WORKERS: '3' },
      encoding: 'utf8',
    });
    const rows = (JSON.parse(cfg.stdout) as { settings: { name: string; value: string; source: string }[] }).settings;
    assert.deepEqual(rows.find((r) => r.name === 'CORRAL_WORKERS'), { name: 'CORRAL_WORKERS', value: '3', source: 'alias GUNICORN_WORKERS', description: rows.find((r) => r.name === 'CORRAL_WORKERS')?.['description' as 'name'] });
  } finally {
    await c.stop();
  }
});

test('an app that cannot be imported: bounded retries, then exit 3 with the app error in the log', async () => {
  const c = await startCorral({ app: 'broken-import.mjs', workers: 2, waitReady: false, env: { CORRAL_BOOT_ATTEMPTS: '3' } });
  try {
    const { code } = await c.exited;
    assert.equal(code, 3);
    const failures = c.events('worker.boot_failed');
    assert.ok(failures.length >= 3, `at least 3 boot attempts, saw ${failures.length}`);
    assert.match(JSON.stringify(failures[0]?.boot_error), /missing dependency/);
    const exhausted = c.events('boot.exhausted')[0];
    assert.ok(exhausted, 'boot.exhausted logged');
    assert.match(String(exhausted.msg), /missing dependency/);
    // Each worker's own line reaches the log file although it exits within milliseconds of
    // opening it (it waits for pino's asynchronous open; exiting first lost the line, and pino's
    // exit hook threw "sonic boom is not ready yet", which the master reported in its place).
    const own = c.events('app.load_failed');
    assert.ok(own.length >= 3, `app.load_failed lines from the workers: ${own.length}`);
    for (const l of own) assert.match(String(l.msg), /missing dependency/);
    // Backoff: attempts are spread out, not a burst.
    const times = c.events('worker.boot').map((l) => Date.parse(String(l.time)));
    assert.ok((times.at(-1) ?? 0) - (times[0] ?? 0) >= 250, 'retries are spaced by backoff');
  } finally {
    await c.stop();
  }
});

test('an app importing a module that is not there fails every boot alike: the master says so and exits 78, which its unit does not restart; one whose own start throws still exits 3', async () => {
  const c = await startCorral({ app: 'missing-module.mjs', workers: 1, waitReady: false, env: { CORRAL_BOOT_ATTEMPTS: '2' } });
  try {
    assert.equal((await c.exited).code, 78);
    const exhausted = c.events('boot.exhausted')[0];
    assert.match(String(exhausted?.msg), /not-deployed\.mjs.*; every attempt fails alike until the app's files or the settings change, so corral exits 78/);
    assert.equal(exhausted?.exit_code, 78);
    assert.equal((exhausted?.boot_error as { lasting?: boolean } | undefined)?.lasting, true);
  } finally {
    await c.stop();
  }
  const transient = await startCorral({ app: 'fails-after-loading.mjs', workers: 1, waitReady: false, env: { CORRAL_BOOT_ATTEMPTS: '1' } });
  try {
    assert.equal((await transient.exited).code, 3, 'a database not up yet: the next start may succeed');
    assert.doesNotMatch(String(transient.events('boot.exhausted')[0]?.msg), /fails alike/);
  } finally {
    await transient.stop();
  }
});

test('a start that serves with some workers while the others keep failing to boot is ready (degraded) once the failed boots reach CORRAL_BOOT_ATTEMPTS, and serves', async () => {
  const c = await startCorral({ app: 'fails-past-second-worker.mjs', workers: 3, waitReady: false, env: { CORRAL_BOOT_ATTEMPTS: '2' } });
  try {
    const ready = await c.waitForLog((l) => l.event === 'master.ready', 60_000, 'master.ready');
    assert.deepEqual([ready.degraded, ready.workers, ready.expected], [true, 2, 3]);
    assert.match(String(ready.msg), /^corral ready with 2 of 3 workers on port \d+: the others failed to boot 2 times \(last: .*cannot start here/);
    assert.match((await http(`http://127.0.0.1:${String(ready.port)}/`)).text, /^worker [12]\n$/);
    assert.equal(c.events('boot.exhausted').length, 0, 'not given up');
  } finally {
    await c.stop();
  }
});

/** `s` matched as it is, in a RegExp. */
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a master that gives up at start (an app that cannot be imported) says why on stderr too when it logs to a file, naming the file; logging to stdout, only there', async () => {
  const broken = join(FIXTURE_APPS, 'broken-import.mjs');
  const c = await startCorral({ app: broken, workers: 1, waitReady: false, env: { CORRAL_BOOT_ATTEMPTS: '1' } });
  try {
    assert.equal((await c.exited).code, EXIT.BOOT_EXHAUSTED);
    const fatal = c.events('boot.exhausted')[0];
    assert.ok(fatal, 'boot.exhausted logged');
    // The same line: code and message, and where the rest is.
    assert.match(c.stderr(), new RegExp(`^corral start: \\[CORRAL_ERR_BOOT_EXHAUSTED\\] ${escape(String(fatal.msg))}; the full log is in ${escape(c.logFile)}$`, 'm'));
    assert.match(String(fatal.msg), /missing dependency/);
    // The keeper was stopped as in any stop: its exit said, its socket and lock removed.
    const keeperExit = c.events('keeper.exit')[0];
    assert.deepEqual([keeperExit?.exit_code, keeperExit?.reason], [0, 'shutdown'], JSON.stringify(keeperExit));
    assert.deepEqual(readdirSync(c.dataDir).filter((f) => f.startsWith('keeper.')), []);
  } finally {
    await c.stop();
  }
  // No CORRAL_LOG_FILE: the JSON line is on stdout, and is not said twice.
  const dir = mkdtempSync(join(tmpdir(), 'corral-fatal-'));
  try {
    const env = { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_APP: broken, CORRAL_BOOT_ATTEMPTS: '1', CORRAL_WORKERS: '1', CORRAL_BIND: '127.0.0.1:0', CORRAL_ADMIN_BIND: '127.0.0.1:0', CORRAL_DATA_DIR: join(dir, 'data') };
    const r = spawnSync(process.execPath, [CORRAL_BIN, 'start'], { cwd: dir, env, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, EXIT.BOOT_EXHAUSTED, r.stderr);
    assert.match(r.stdout, /"event":"boot.exhausted"/);
    assert.doesNotMatch(r.stderr, /CORRAL_ERR_BOOT_EXHAUSTED/);
    // At a level that leaves the fatal line out (silent), a failed start said nothing at all.
    const quiet = spawnSync(process.execPath, [CORRAL_BIN, 'start'], { cwd: dir, env: { ...env, CORRAL_LOG_LEVEL: 'silent' }, encoding: 'utf8', timeout: 30000 });
    assert.equal(quiet.status, EXIT.BOOT_EXHAUSTED, quiet.stderr);
    assert.equal(quiet.stdout, '');
    assert.match(quiet.stderr, /^corral start: \[CORRAL_ERR_BOOT_EXHAUSTED\] no worker could boot after 1 attempt: .*missing dependency.*; CORRAL_LOG_LEVEL=silent leaves this line out of the log$/m);
    assert.doesNotMatch(quiet.stderr, /the full log is in/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CORRAL_BIND already in use: each worker exits 5 saying so, then the master exits 3', async () => {
  // Another process holds the port (an old instance, another service).
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as AddressInfo).port;
  // The access log's file opens asynchronously, and a bind fails within milliseconds: a worker
  // exiting before that open settled threw from pino's exit hook and never exited at all, so the
  // master neither retried nor gave up, and start hung with no worker serving.
  const c = await startCorral({ app: 'basic.mjs', workers: 2, waitReady: false, env: { CORRAL_BIND: `127.0.0.1:${port}`, CORRAL_BOOT_ATTEMPTS: '3' } });
  try {
    // A hang is what this bounds, not three boots and their backoff on a loaded box.
    const timer = setTimeout(() => c.kill('SIGKILL'), 40_000);
    const { code } = await c.exited;
    clearTimeout(timer);
    assert.equal(code, 3, 'the master gives up after CORRAL_BOOT_ATTEMPTS boots');
    const failures = c.events('worker.boot_failed');
    assert.ok(failures.length >= 3, `at least 3 boot attempts, saw ${failures.length}`);
    for (const f of failures) assert.deepEqual([f.exit_code, f.code], [5, 'CORRAL_ERR_LISTEN'], 'each worker exited with the listen error code');
    assert.match(JSON.stringify(failures[0]?.boot_error), /EADDRINUSE/);
    // The worker's own line says it is the listen that failed, naming the setting: not app.load_failed.
    assert.equal(c.events('app.load_failed').length, 0);
    const own = c.events('worker.listen_failed');
    assert.ok(own.length >= 1, 'worker.listen_failed');
    assert.equal(own[0]?.code, 'CORRAL_ERR_LISTEN');
    // The holder is named, read from /proc: here this test's own process.
    assert.match(String(own[0]?.msg), new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port} \\(CORRAL_BIND\\): .*EADDRINUSE.*; port ${port} is held by pid ${process.pid} \\([^)]*daemon-boot\\.test\\.js[^)]*\\): stop it, or point CORRAL_BIND at a free port$`));
    assert.match(String(c.events('boot.exhausted')[0]?.msg), /EADDRINUSE/);
    // The log goes to a file: its fatal line is said on stderr too, once.
    const said = c.stderr().split('\n').filter((l) => l.startsWith('corral start: [CORRAL_ERR_BOOT_EXHAUSTED]'));
    assert.equal(said.length, 1, c.stderr());
    assert.match(said[0]!, new RegExp(`^corral start: \\[CORRAL_ERR_BOOT_EXHAUSTED\\] no worker could boot after 3 attempts: .*EADDRINUSE.*; the full log is in ${c.logFile}$`));
  } finally {
    await c.stop();
    await new Promise((resolve) => holder.close(resolve));
  }
});

/** The exit code a worker of the exit-recorder fixture wrote for itself, if it has exited. */
function recordedExit(c: CorralProcess, pid: unknown): string | undefined {
  try {
    return readFileSync(join(c.dataDir, 'exits', String(pid)), 'utf8');
  } catch {
    return undefined;
  }
}

test('when the master is killed with SIGKILL, its workers exit (no orphans serving), saying so with EXIT.MASTER_GONE', async () => {
  // node:cluster's own 'disconnect' listener exits a worker with 0 when the channel drops: the
  // fixture app records each worker's exit code, since no process is left to wait for them.
  const c = await startCorral({ app: 'exit-recorder.mjs', workers: 3 });
  const codeOf = (pid: unknown) => recordedExit(c, pid);
  try {
    // A worker the master stops (here, scaled down) exits 0, as before.
    c.kill('SIGTTOU');
    const retired = await c.waitForLog((l) => l.event === 'worker.exit', 10000, 'one worker retired');
    assert.equal(retired.reason, 'scale-down');
    assert.equal(retired.exit_code, 0);
    assert.equal(codeOf(retired.worker_pid), '0');
    const pids = c.events('worker.ready').map((l) => Number(l.worker_pid)).filter((pid) => pid !== Number(retired.worker_pid));
    assert.equal(pids.length, 2);
    c.kill('SIGKILL');
    await c.exited;
    await waitFor(() => pids.every((pid) => !isAlive(pid) && codeOf(pid) !== undefined), 10000, 'workers to exit after the master died');
    assert.deepEqual(pids.map(codeOf), [String(EXIT.MASTER_GONE), String(EXIT.MASTER_GONE)]);
    assert.deepEqual(c.events('worker.master_gone').map((l) => Number(l.pid)).sort(), [...pids].sort(), 'each orphan says why it exits');
  } finally {
    await c.stop();
  }
});

test('a worker the master asked to drain cuts what it holds and exits EXIT.MASTER_GONE if the master dies meanwhile, saying so', async () => {
  // It exited 0 through node:cluster's own listener, and the request it held was cut with no line:
  // the log ended at the master's shutdown.start.
  const c = await startCorral({ app: 'exit-recorder.mjs', workers: 1 });
  const pid = Number(c.events('worker.ready')[0]?.worker_pid);
  const codeOf = () => recordedExit(c, pid);
  try {
    // An in-flight request keeps the worker draining after the master's SIGTERM.
    const slow = http(`${c.url}/sleep?ms=20000`).catch(() => undefined);
    await c.waitForLog((l) => l.event === 'fixture.sleeping', 10000, 'the request in the worker');
    c.kill('SIGTERM');
    await c.waitForLog((l) => l.event === 'worker.draining', 10000, 'the worker draining');
    c.kill('SIGKILL');
    await c.exited;
    await waitFor(() => codeOf(), 10000, 'the draining worker to exit');
    assert.equal(codeOf(), String(EXIT.MASTER_GONE));
    const gone = await c.waitForLog((l) => l.event === 'worker.master_gone', 10000, 'the worker saying its master is gone');
    assert.equal(gone.draining, true);
    const forced = await c.waitForLog((l) => l.event === 'worker.drain_forced', 10000, 'the worker cutting what its drain held');
    assert.equal(forced.open_connections, 1);
    await slow;
  } finally {
    await c.stop();
  }
});

test('workers that crash soon after boot back off, whether they exit or throw an uncaught exception', async () => {
  // Both failure modes side by side, over the same window. Without backoff an uncaught exception
  // 300 ms after boot brought about 24 forks in 8 s; with it, a handful, like exit(1).
  const [thrown, exited] = await Promise.all(['throw', 'exit'].map((mode) => startCorral({ app: 'crash-after-boot.mjs', workers: 2, env: { CRASH_MODE: mode } })));
  try {
    // The window over which the forks are counted: at most so many, however fast the machine.
    await new Promise((r) => setTimeout(r, 8000));
    const bootsIn8s = [thrown, exited].map((c) => c!.events('worker.boot').length);
    for (const [c, mode] of [[thrown, 'throw'], [exited, 'exit']] as const) {
      assert.ok(bootsIn8s[mode === 'throw' ? 0 : 1]! <= 12, `${mode}: ${bootsIn8s.join(', ')} worker boots in 8 s`);
      // worker.recycle reports an uncaught exception, worker.exit an unexpected exit.
      const crashesOf = () => c!.events(mode === 'throw' ? 'worker.recycle' : 'worker.exit').filter((l) => l.crash_loop !== undefined);
      // Each crash of a replacement is a step; a crash of a worker that was already running when
      // the last step was counted (its twin, forked with it) is part of that step. Three steps
      // take about 2 s plus two boots: waited for, since two corrals booting beside other test
      // files may take longer than the window.
      await waitFor(() => crashesOf().filter((l) => l.crash_counted === true).length >= 3, 30_000, `${mode}: three crash-loop steps`);
      const crashes = crashesOf();
      const steps = crashes.filter((l) => l.crash_counted === true);
      steps.forEach((l, i) => assert.equal(l.crash_loop, i + 1, `${mode}: crash_loop counts every step`));
      for (const l of crashes) assert.ok(l.crash_counted === true || steps.some((s) => s.crash_loop === l.crash_loop), `${mode}: a crash not counted shares a counted one's step`);
      const delays = steps.map((l) => Number(l.respawn_in_ms));
      assert.ok(delays.at(-1)! >= 2 * delays[0]!, `${mode}: respawn delays grow: ${delays.join(', ')}`);
    }
    const uncaughtExits = thrown!.events('worker.exit');
    assert.ok(uncaughtExits.length > 0);
    for (const l of uncaughtExits) assert.equal(l.exit_code, 70, 'a worker that threw exits EXIT.UNCAUGHT, even when the master drained it');
  } finally {
    await Promise.all([thrown?.stop(), exited?.stop()]);
  }
});

test('workers that all fail to boot at once (a database down) are one attempt: retried one at a time with backoff before the master exits 3', async () => {
  const c = await startCorral({ app: 'fails-after-loading.mjs', workers: 4, waitReady: false, env: { CORRAL_BOOT_ATTEMPTS: '3' } });
  try {
    // Three boots one after the other and two waits of the backoff: seconds on a loaded box.
    const exit = await Promise.race([c.exited, new Promise<undefined>((r) => setTimeout(r, 40_000, undefined).unref())]);
    assert.deepEqual(exit, { code: 3, signal: null });
    await c.waitForLog((l) => l.event === 'master.exit', 5000, 'master.exit');
    const lines = c.logs().filter((l) => l.role === 'master' && (l.event === 'worker.boot' || l.event === 'worker.boot_failed'));
    // The first four together, then two probes, each forked after the one before it failed.
    assert.deepEqual(
      lines.map((l) => l.event),
      [...Array<string>(4).fill('worker.boot'), ...Array<string>(4).fill('worker.boot_failed'), 'worker.boot', 'worker.boot_failed', 'worker.boot', 'worker.boot_failed'],
    );
    assert.deepEqual(c.events('worker.boot_failed').map((l) => l.failures), [1, 1, 1, 1, 2, 3]);
    assert.equal(c.events('boot.exhausted')[0]?.attempts, 3);
  } finally {
    await c.stop();
  }
});
