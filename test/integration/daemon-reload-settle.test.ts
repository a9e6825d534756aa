// The settle window of a reload (CORRAL_RELOAD_SETTLE): an app that listens and then crashes is a
// failed boot, rolled back while the old generation serves; a sound one completes once its
// workers have been ready for the settle time.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Agent } from 'undici';
import { CORRAL_BIN, FIXTURE_APPS, startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

const run = promisify(execFile);

/** `corral reload --wait` run in `dir`, as systemd's ExecReload= runs it. */
async function reloadWait(dir: string, pidFile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CORRAL_BIN, 'reload', '--wait'], { cwd: dir, env: { PATH: process.env.PATH ?? '', CORRAL_PIDFILE: pidFile }, timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * Clients over loopback on `concurrency` keep-alive connections, noting which generation answered
 * and when; a refused or reset request is a failure. A connection stays with the worker that
 * accepted it until that worker drains (its answers then say Connection: close, and the client
 * opens another, which any ready worker may take): so connections opened before a reload are
 * answered by the old generation for as long as it is not drained.
 */
function generationLoop(url: string, concurrency: number) {
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 30_000 });
  const answers: { at: number; generation: number }[] = [];
  const failures: string[] = [];
  let stopped = false;
  const one = async () => {
    while (!stopped) {
      try {
        const r = await http(url, { dispatcher: agent });
        if (r.status === 200) answers.push({ at: Date.now(), generation: r.json<{ generation: number }>().generation });
        else failures.push(`${r.status} ${r.text.slice(0, 200)}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, one)).then(() => agent.close());
  return {
    answers,
    failures,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/**
 * A corral of two slow-boot workers in its own directory, with its .env there (reload --wait reads
 * it) and the fixture's timings file, settling for `settleS` seconds: what a test edits between
 * reloads is `timings`.
 */
async function startSettling(prefix: string, settleS: number, bootAttempts = 2) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const timings = join(dir, 'timings.json');
  writeFileSync(timings, '{}');
  const adminPort = await freePort();
  writeFileSync(
    join(dir, '.env'),
    [`CORRAL_BIND=127.0.0.1:0`, `CORRAL_ADMIN_BIND=127.0.0.1:${adminPort}`, 'CORRAL_ADMIN_TOKEN=settle-test-token-0123456789', 'CORRAL_WORKERS=2', `CORRAL_APP=${join(FIXTURE_APPS, 'slow-boot.mjs')}`, `CORRAL_BOOT_ATTEMPTS=${bootAttempts}`, `CORRAL_RELOAD_SETTLE=${settleS}`].join('\n'),
    { mode: 0o600 },
  );
  const c = await startCorral({ cwd: dir, workers: null, unset: ['CORRAL_ADMIN_BIND'], env: { CORRAL_ENV_FILE: '.env', FIXTURE_TIMINGS: timings } });
  return { c, dir, timings, adminPort };
}

test('a reload to an app that exits 0.5 s after it is ready is rolled back with no old worker drained: the old generation answers throughout, and reload --wait exits 1 naming the cause; a sound reload then completes, each old worker drained once a new one settled', async () => {
  const { c, dir, timings, adminPort } = await startSettling('corral-settle-', 2);
  const loop = generationLoop(c.url, 4);
  try {
    await waitFor(() => loop.answers.length >= 20, 30_000, '20 requests answered before the reload');

    // The new release listens, then its init fails half a second later, in every worker.
    writeFileSync(timings, JSON.stringify({ crashAfterReadyMs: 500 }));
    const from = loop.answers.length;
    const rolledBack = await reloadWait(dir, c.pidFile);
    const to = loop.answers.length;
    assert.equal(rolledBack.code, 1, `${rolledBack.stdout}${rolledBack.stderr}`);
    assert.match(rolledBack.stderr, /^corral reload: last reload rolled back \(CORRAL_ERR_WORKER_DIED\), generation 1 serves: the new generation cannot boot \(worker exited with code 1 \d\.\d s after it was ready, before it settled \(CORRAL_RELOAD_SETTLE\)\)\n$/);
    const failed = c.events('reload.failed');
    assert.equal(failed.length, 1);
    assert.match(String(failed[0]?.msg), /worker exited with code 1 \d\.\d s after it was ready/);
    // Each new worker that died on probation is a failed boot of generation 2: at least one such
    // line (an empty list met every() as well, so none logged passed).
    const bootFailed = c.events('worker.boot_failed');
    assert.ok(bootFailed.length > 0, 'worker.boot_failed said for the workers that died after they were ready');
    assert.deepEqual(bootFailed.filter((l) => l.generation !== 2 || l.code !== 'CORRAL_ERR_WORKER_DIED'), [], 'each one of generation 2, CORRAL_ERR_WORKER_DIED');
    assert.deepEqual(c.events('reload.done'), [], 'never said done');
    assert.deepEqual(c.events('worker.settled'), [], 'no new worker lived through its settle time');
    // Not one old worker was told to drain, nor exited: the rollback found the generation whole.
    assert.deepEqual(c.events('worker.draining').filter((l) => l.gen === 1), []);
    assert.deepEqual(c.events('worker.exit').filter((l) => l.generation === 1), []);
    const standing = (await http(`http://127.0.0.1:${adminPort}/api/admin/reload`)).json<{ last: { outcome: string; code: string; generation: number } }>();
    assert.deepEqual([standing.last.outcome, standing.last.code, standing.last.generation], ['rolled_back', 'CORRAL_ERR_WORKER_DIED', 1]);
    // Generation 1 answered every request made during the reload (its workers' connections were
    // never closed for a drain), with no gap a drain would leave.
    const during = loop.answers.slice(from, to);
    assert.ok(during.length >= 20, `${during.length} answers during the reload`);
    assert.deepEqual([...new Set(during.map((a) => a.generation))], [1]);
    const gaps = during.slice(1).map((a, i) => a.at - (during[i]?.at ?? a.at));
    assert.ok(Math.max(...gaps) < 2000, `the longest wait between two answers: ${Math.max(...gaps)} ms`);
    assert.deepEqual(loop.failures, [], 'no request refused or reset during the reload');
    await waitFor(() => loop.answers.length >= to + 20, 30_000, '20 more answers after the rollback');
    assert.deepEqual([...new Set(loop.answers.slice(to).map((a) => a.generation))], [1], 'generation 1 serves after the rollback');

    // A sound release: its workers settle, and only then does each old worker drain.
    writeFileSync(timings, '{}');
    const done = await reloadWait(dir, c.pidFile);
    assert.equal(done.code, 0, `${done.stdout}${done.stderr}`);
    assert.match(done.stdout, /\nreload done: generation 3 serves/);
    const settled = c.events('worker.settled');
    assert.deepEqual(settled.map((l) => l.generation), [3, 3]);
    assert.ok(settled.every((l) => Number(l.ready_ms) >= 2000 && Number(l.ready_ms) < 3000), JSON.stringify(settled.map((l) => l.ready_ms)));
    const oldExits = c.events('worker.exit').filter((l) => l.generation === 1);
    assert.deepEqual(oldExits.map((l) => [l.reason, l.exit_code]), [['reload to generation 3', 0], ['reload to generation 3', 0]]);
    const firstSettled = Date.parse(String(settled[0]?.time));
    const oldDraining = c.events('worker.draining').filter((l) => l.gen === 1);
    assert.equal(oldDraining.length, 2, 'each old worker said it was draining');
    assert.ok(oldDraining.every((l) => Date.parse(String(l.time)) >= firstSettled), 'no old worker drained before a new one settled');
    const total = loop.answers.length;
    await waitFor(() => loop.answers.length >= total + 20, 30_000, '20 more answers after the reload');
    // Requests sent before reload.done may have been answered since by the draining old workers.
    assert.deepEqual([...new Set(loop.answers.slice(total + 4).map((a) => a.generation))], [3]);
    await loop.stop();
    assert.deepEqual(loop.failures, [], 'no request refused or reset across both reloads');
  } finally {
    await loop.stop();
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a TTOU during the settle time retires a new worker, not the old generation: the reload is not done before its workers settle, and one throwing after ready still rolls it back with an old worker serving, saying what it threw', async () => {
  const { c, dir, timings, adminPort } = await startSettling('corral-settle-ttou-', 5);
  try {
    // The new release's init throws 2 s after it listens, within the 5 s settle time.
    writeFileSync(timings, JSON.stringify({ throwAfterReadyMs: 2000 }));
    c.kill('SIGHUP');
    await waitFor(() => c.events('worker.ready').filter((l) => l.generation === 2).length >= 2, 20_000, 'both new workers ready');
    c.kill('SIGTTOU');
    const failed = await c.waitForLog((l) => l.event === 'reload.failed', 30_000, 'the reload rolled back');
    // What it threw, as the worker reported it: the operator reads the cause in the rollback.
    assert.match(String(failed.msg), /worker threw an uncaught exception \d+(\.\d)? s after it was ready, before it settled \(CORRAL_RELOAD_SETTLE\): Error: connect ECONNREFUSED 127\.0\.0\.1:5432/);
    assert.equal(failed.code, 'CORRAL_ERR_UNCAUGHT');
    assert.deepEqual(c.events('reload.done'), [], 'never said done');
    // The scale-down took a new worker and one old one (one worker is the count now); the other
    // old worker served on, and is what the rollback went back to.
    assert.equal(c.events('worker.draining').filter((l) => l.gen === 1).length, 1, 'one old worker drained for the count of one');
    const standing = (await http(`http://127.0.0.1:${adminPort}/api/admin/reload`)).json<{ last: { outcome: string; generation: number } }>();
    assert.deepEqual([standing.last.outcome, standing.last.generation], ['rolled_back', 1]);
    // A worker that threw is retired once a replacement is ready, as at any time (the capacity
    // holds): the rollback's count is generation 1's two, so the last new worker serves until a
    // second old one is up, then drains. From then on generation 1 alone answers.
    const ofGeneration2 = (event: string) => c.events(event).filter((l) => l.generation === 2).length;
    await waitFor(() => ofGeneration2('worker.exit') === ofGeneration2('worker.boot'), 30_000, 'every worker of generation 2 gone');
    const r = await http(c.url);
    assert.equal(r.status, 200);
    assert.equal(r.json<{ generation: number }>().generation, 1);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing reload during which an old worker is killed goes back at its first failed boot, not its fifth, and the settings that served fork the lost worker again', async () => {
  const { c, dir, timings } = await startSettling('corral-settle-lost-', 2, 5);
  try {
    // The new release boots for a second and dies half a second after it listens, in every worker;
    // the workers of generation 1 the rollback forks again boot sound (a status read more than half
    // a second after one was ready found it dead, 1/2 ready, on a loaded box).
    writeFileSync(timings, JSON.stringify({ bootMs: 1000, crashAfterReadyMs: 500, crashGeneration: 2 }));
    const reload = reloadWait(dir, c.pidFile);
    await waitFor(() => c.events('reload.start').length === 1, 30_000, 'the reload started');
    const [lost] = c.events('worker.ready').filter((l) => l.generation === 1);
    process.kill(Number(lost?.worker_pid), 'SIGKILL');
    const rolledBack = await reload;
    assert.equal(rolledBack.code, 1, `${rolledBack.stdout}${rolledBack.stderr}`);
    assert.match(rolledBack.stderr, /generation 1 serves: the new generation fails to boot \(worker exited with code 1 \d\.\d s after it was ready, before it settled \(CORRAL_RELOAD_SETTLE\)\) while generation 1 lost 1 worker meanwhile/);
    const failedBoots = c.events('worker.boot_failed').filter((l) => l.generation === 2);
    assert.ok(failedBoots.length >= 1 && failedBoots.length < 5, `${failedBoots.length} failed boots of 5 allowed`);
    const died = c.events('worker.exit').filter((l) => l.generation === 1);
    assert.deepEqual(died.map((l) => [l.worker_pid, l.signal, l.replaced_by_reload]), [[lost?.worker_pid, 'SIGKILL', 2]]);
    await waitFor(() => c.events('worker.ready').filter((l) => l.generation === 1).length === 3, 30_000, 'a worker of generation 1 forked again and ready');
    const status = await run(process.execPath, [CORRAL_BIN, 'status'], { cwd: dir, env: { PATH: process.env.PATH ?? '', CORRAL_PIDFILE: c.pidFile } });
    assert.match(status.stdout, /generation 1, .*\nworkers 2\/2 ready/);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
