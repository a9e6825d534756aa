import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, resumeIfStopped, startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} with a slow request in flight: it completes, then the master exits 0 and removes its pidfile`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-stop-'));
    const release = join(dir, 'release');
    // A graceful timeout no loaded machine runs out of before the release (the helper's is 10 s).
    const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_GRACEFUL_TIMEOUT: '120' } });
    try {
      assert.ok(existsSync(c.pidFile));
      // Held until the worker has begun its drain: the stop has to wait for it.
      const held = http(`${c.url}/hold?release=${encodeURIComponent(release)}`, { timeoutMs: 60_000 });
      await c.waitForLog((l) => l.event === 'fixture.holding', 10000, 'the held request in a worker');
      c.kill(signal);
      await c.waitForLog((l) => l.event === 'worker.draining', 10000, 'the workers draining');
      assert.equal(c.events('shutdown.done').length, 0, 'the stop waits for the request');
      writeFileSync(release, '');
      const r = await held;
      assert.equal(r.status, 200);
      assert.equal(r.json<{ released: boolean }>().released, true);
      const { code } = await c.exited;
      assert.equal(code, 0);
      assert.equal(existsSync(c.pidFile), false, 'pidfile removed');
      const events = c.logs().map((l) => l.event);
      assert.ok(events.indexOf('shutdown.start') < events.indexOf('shutdown.done'));
      // No new connections are accepted once stopping.
      await assert.rejects(http(c.url, { timeoutMs: 2000 }));
    } finally {
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('SIGTERM during a reload whose new generation is still loading: the new workers never listen, every worker exits 0, and the master exits 0 without waiting for the load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-stop-reloading-'));
  const timings = join(dir, 'timings.json');
  writeFileSync(timings, JSON.stringify({ bootMs: 0 }));
  const c = await startCorral({ app: 'slow-boot.mjs', workers: 2, env: { FIXTURE_TIMINGS: timings } });
  try {
    // Generation 2 loads its app for 30 s: the stop comes while it does.
    writeFileSync(timings, JSON.stringify({ bootMs: 30_000 }));
    c.kill('SIGHUP');
    await waitFor(() => c.events('fixture.loading').length === 4, 10000, 'generation 2 loading the app');
    const t0 = Date.now();
    c.kill('SIGTERM');
    const exit = await Promise.race([c.exited, new Promise<undefined>((r) => setTimeout(r, 15_000, undefined).unref())]);
    assert.deepEqual(exit, { code: 0, signal: null }, 'the master exited 0');
    assert.ok(Date.now() - t0 < 10_000, 'without waiting for the new generation to load');
    assert.equal(c.events('reload.done').length, 0);
    assert.deepEqual(c.events('worker.listening').map((l) => l.gen), [1, 1], 'generation 2 never listened');
    const exits = c.events('worker.exit');
    assert.equal(exits.length, 4);
    assert.ok(exits.every((l) => l.exit_code === 0 && l.reason === 'shutdown'), JSON.stringify(exits.map((l) => [l.generation, l.exit_code, l.signal, l.reason])));
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a HUP, TTIN or second TERM during a graceful stop is ignored, and the log says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-stop-ignored-'));
  const release = join(dir, 'release');
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_GRACEFUL_TIMEOUT: '120' } });
  try {
    // The three signals land while the stop waits for this request, which is held until they have
    // all been said to be ignored (a graceful timeout of 120 s: the helper's 10 s could run out
    // on a loaded machine while they are said).
    const held = http(`${c.url}/hold?release=${encodeURIComponent(release)}`, { timeoutMs: 60_000 });
    await c.waitForLog((l) => l.event === 'fixture.holding', 10000, 'the held request in the worker');
    c.kill('SIGTERM');
    await c.waitForLog((l) => l.event === 'worker.draining', 10000, 'the worker draining');
    for (const signal of ['SIGHUP', 'SIGTTIN', 'SIGTERM'] as const) {
      c.kill(signal);
      await c.waitForLog((l) => l.event === 'shutdown.ignored' && l.intent === { SIGHUP: 'reload', SIGTTIN: 'ttin', SIGTERM: 'stop' }[signal], 10000, `${signal} said to be ignored`);
    }
    assert.equal(c.events('shutdown.done').length, 0, 'the stop still waits for the request');
    writeFileSync(release, '');
    assert.equal((await held).status, 200, 'the request in flight finished');
    assert.equal((await c.exited).code, 0);
    assert.equal(c.events('reload.start').length, 0);
    assert.equal(c.events('workers.scale').length, 0);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGQUIT stops fast, without waiting for slow requests', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1 });
  try {
    const slow = http(`${c.url}/sleep?ms=8000`, { timeoutMs: 15000 }).catch((e: Error) => e);
    await c.waitForLog((l) => l.event === 'fixture.sleeping', 10000, 'the slow request in the worker');
    const t0 = Date.now();
    c.kill('SIGQUIT');
    const { code } = await c.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 5000, 'fast stop does not wait the graceful timeout');
    assert.ok((await slow) instanceof Error);
  } finally {
    await c.stop();
  }
});

test('SIGQUIT after SIGTERM: a worker draining a slow request closes it at once and exits by itself, not by SIGKILL', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1 });
  try {
    const slow = http(`${c.url}/sleep?ms=20000`, { timeoutMs: 30000 }).catch((e: Error) => e);
    await c.waitForLog((l) => l.event === 'fixture.sleeping', 10000, 'the slow request in the worker');
    c.kill('SIGTERM');
    await c.waitForLog((l) => l.event === 'worker.draining', 10000, 'the worker draining for the graceful stop');
    c.kill('SIGQUIT');
    const { code } = await c.exited;
    assert.equal(code, 0);
    assert.ok((await slow) instanceof Error, 'the slow request was cut');
    // Before, the worker kept its 10 s drain and the master killed it 2 s after the QUIT.
    assert.deepEqual(c.events('worker.kill'), [], 'no SIGKILL');
    assert.equal(c.events('worker.drain_forced').length, 1, 'the worker closed its connections itself');
    // Said as what it is: the QUIT, not a graceful timeout (10 s, far from reached).
    assert.equal(c.events('shutdown.hastened').length, 1, 'the master says the QUIT cut the stop short');
    assert.equal(c.events('worker.drain_forced')[0]?.graceful_ms, 0);
    assert.match(String(c.events('worker.drain_forced')[0]?.msg), /^fast stop/);
    assert.deepEqual(c.events('worker.exit').map((l) => [l.exit_code, l.signal]), [[0, null]]);
  } finally {
    await c.stop();
  }
});

test('SIGTERM while the workers are still loading the app: they never start listening, and the master exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-stop-booting-'));
  const timings = join(dir, 'timings.json');
  // The app loads for 3 s; the close hook it registers first takes 5 s. Stopped mid-load, a
  // worker is still running that hook when its app finishes loading.
  writeFileSync(timings, JSON.stringify({ bootMs: 3000, closeMs: 5000 }));
  const c = await startCorral({ app: 'slow-boot.mjs', workers: 2, waitReady: false, env: { FIXTURE_TIMINGS: timings } });
  try {
    await waitFor(() => c.events('fixture.loading').length === 2, 10000, 'both workers loading the app');
    c.kill('SIGTERM');
    const exit = await Promise.race([c.exited, new Promise<undefined>((r) => setTimeout(r, 20_000, undefined).unref())]);
    assert.deepEqual(exit, { code: 0, signal: null }, 'the master exited 0');
    assert.equal(c.events('worker.listening').length, 0, 'no worker listened after it was told to stop');
    const workerExits = c.events('worker.exit');
    assert.equal(workerExits.length, 2);
    assert.ok(workerExits.every((l) => l.exit_code === 0), JSON.stringify(workerExits.map((l) => [l.exit_code, l.signal])));
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM while a worker is stuck loading the app: it is killed once it is not beating, and the master exits 0 without waiting out CORRAL_TIMEOUT or the graceful timeout', async () => {
  const token = 'stop-test-admin-token-0123456789';
  const c = await startCorral({ app: 'blocks-loading.mjs', workers: 1, waitReady: false, env: { CORRAL_TIMEOUT: '20', CORRAL_GRACEFUL_TIMEOUT: '20', CORRAL_STUCK_STACKS: 'false', CORRAL_ADMIN_TOKEN: token } });
  try {
    const admin = await c.waitForLog((l) => l.event === 'admin.listening', 10000, 'the admin API');
    // Its loop blocked (beats, every second, stopped), long before CORRAL_TIMEOUT (20 s) would
    // call it stuck.
    await waitFor(async () => {
      const stats = (await http(`http://127.0.0.1:${String(admin.port)}/api/admin/stats`, { headers: { authorization: `Bearer ${token}` } })).json<{ workers: { last_beat_s_ago: number | null }[] }>();
      return stats.workers.some((w) => (w.last_beat_s_ago ?? 0) >= 1);
    }, 5000, 'a worker silent for a second');
    c.kill('SIGTERM');
    const signalledAt = Date.now();
    const exit = await Promise.race([c.exited, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined).unref())]);
    assert.deepEqual(exit, { code: 0, signal: null }, `the master exited 0 within 10 s of SIGTERM (${Date.now() - signalledAt} ms), not after the 20 s of CORRAL_TIMEOUT or of the graceful timeout`);
    const killed = c.events('worker.kill');
    assert.deepEqual(killed.map((l) => [l.reason, l.booting, l.drain_reason]), [['not beating', true, 'shutdown']]);
    assert.equal(c.events('worker.timeout').length, 0);
    assert.equal(c.events('worker.exit')[0]?.reason, 'shutdown');
  } finally {
    await c.stop();
  }
});

test('an uncaught exception in the master stops the workers cleanly, then exits 70 so systemd restarts corral', async () => {
  const fault = join(REPO_ROOT, 'test', 'fixtures', 'master-fault.cjs');
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { NODE_OPTIONS: `--require ${fault}` } });
  try {
    c.kill('SIGUSR2');
    const { code } = await c.exited;
    assert.equal(code, 70, 'EXIT.UNCAUGHT, not 0');
    const events = c.logs().map((l) => l.event);
    assert.ok(events.includes('master.uncaught'), 'master.uncaught logged');
    assert.ok(events.includes('shutdown.done'), 'the workers were stopped first');
    assert.equal(c.logs().find((l) => l.event === 'master.exit')?.exit_code, 70);
    // The log goes to a file: the reason is said on the terminal too, once.
    const said = c.stderr().split('\n').filter((l) => l.includes('CORRAL_ERR_UNCAUGHT'));
    assert.equal(said.length, 1, c.stderr());
    assert.match(said[0] ?? '', new RegExp(`^corral start: \\[CORRAL_ERR_UNCAUGHT\\] uncaught exception in the master \\(.+\\); the workers were stopped, and it exits 70 for systemd to restart it; the full log is in ${c.logFile}$`));
  } finally {
    await c.stop();
  }
});

test('SIGTERM with a worker not beating (its loop blocked): it is killed at once, so new connections are refused at once rather than queued unanswered behind it, and the master exits without waiting for it', async () => {
  // CORRAL_TIMEOUT and the graceful timeout are long: only the stop itself may end the stuck worker.
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_TIMEOUT: '60', CORRAL_GRACEFUL_TIMEOUT: '20', CORRAL_STUCK_STACKS: 'false' } });
  try {
    const spin = http(`${c.url}/spin`, { timeoutMs: 30000 }).then(
      (r) => r.status,
      (err: Error) => err,
    );
    // Not beating as health counts it: three beats (3 s) missed.
    await waitFor(async () => (await http(`${c.adminUrl}/api/admin/health`)).json<{ workers_not_beating?: number }>().workers_not_beating === 1, 10000, 'one worker not beating');
    const stoppedAt = Date.now();
    c.kill('SIGTERM');
    // The healthy worker closes its listener at once; the stuck one held the socket until it was
    // killed, and a new connection waited in the kernel's queue without an answer meanwhile.
    const refused = await waitFor(
      () =>
        http(c.url, { timeoutMs: 1000 }).then(
          () => undefined,
          (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? Date.now() - stoppedAt : undefined),
        ),
      15_000,
      'a new connection refused',
    );
    // Queued behind the stuck worker, a connection would wait for the graceful timeout (20 s) or
    // CORRAL_TIMEOUT (60 s): 10 s tells the two apart and leaves a loaded box its stop and its kill.
    assert.ok(refused < 10_000, `refused ${refused} ms after SIGTERM`);
    const exit = await Promise.race([c.exited, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined).unref())]);
    assert.deepEqual(exit, { code: 0, signal: null }, 'the master exited 0, long before the graceful timeout');
    assert.ok((await spin) instanceof Error, 'the spinning request was cut');
    const kills = c.events('worker.kill');
    assert.equal(kills.length, 1, JSON.stringify(kills));
    assert.equal(kills[0]?.reason, 'not beating');
    assert.equal(kills[0]?.drain_reason, 'shutdown');
    assert.ok(Number(kills[0]?.seconds_silent) >= 3, JSON.stringify(kills[0]));
    assert.match(String(kills[0]?.msg), /has not beaten for [\d.]+ s: it cannot drain \(shutdown\); killing it now/);
    assert.deepEqual(c.events('worker.timeout'), [], 'not killed by CORRAL_TIMEOUT');
    const exits = c.events('worker.exit');
    assert.deepEqual(exits.map((l) => l.reason).sort(), ['shutdown', 'shutdown'], 'both exits expected, neither read as a crash');
    assert.deepEqual(exits.filter((l) => l.signal === 'SIGKILL').map((l) => l.worker_pid), [kills[0]?.worker_pid]);
  } finally {
    await c.stop();
  }
});

test('SIGTERM with the keeper not beating (stopped): once the workers are gone it is killed at once rather than waited for, and the master exits 0', async () => {
  const token = 'stop-test-admin-token-0123456789';
  // The bundled app (the default CORRAL_APP) runs a keeper.
  const c = await startCorral({ workers: 1, env: { CORRAL_TIMEOUT: '60', CORRAL_GRACEFUL_TIMEOUT: '20', CORRAL_STUCK_STACKS: 'false', CORRAL_ADMIN_TOKEN: token } });
  let keeperPid: number | undefined;
  try {
    keeperPid = (await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${token}` } })).json<{ keeper: { pid: number } | null }>().keeper?.pid;
    assert.ok(keeperPid, 'the stats name the keeper');
    process.kill(keeperPid, 'SIGSTOP');
    await waitFor(async () => (await http(`${c.adminUrl}/api/admin/health`)).json<{ keeper?: string }>().keeper === 'not_beating', 15_000, 'the keeper not beating');
    c.kill('SIGTERM');
    const stoppedAt = Date.now();
    const exit = await Promise.race([c.exited, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined).unref())]);
    assert.deepEqual(exit, { code: 0, signal: null }, `the master exited 0 within 10 s of SIGTERM (${Date.now() - stoppedAt} ms), not after the keeper's drain deadline or CORRAL_TIMEOUT`);
    const kills = c.events('keeper.kill');
    assert.equal(kills.length, 1, JSON.stringify(kills));
    assert.deepEqual([kills[0]?.reason, kills[0]?.drain_reason], ['not beating', 'shutdown']);
    assert.equal(c.events('keeper.exit')[0]?.reason, 'shutdown', 'an expected exit, not a crash');
  } finally {
    resumeIfStopped(keeperPid);
    await c.stop();
  }
});
