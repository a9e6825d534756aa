// Signals that reach the master's whole process group, not the master alone: a terminal's hangup
// (the ssh session of a `corral start` in the foreground closing), `kill -HUP -<pgid>`,
// `systemctl kill --signal=HUP corral` without --kill-who=main. The master acts on them; its
// children must leave it to the master, as they do for Ctrl-C.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

test('SIGHUP to the whole process group is one zero-downtime reload: the request in flight finishes and no worker or keeper dies of the signal', async () => {
  // setsid makes the master the leader of its own process group (the same pid: setsid execs), so
  // the group signal reaches corral's processes and not the test runner.
  const dir = mkdtempSync(join(tmpdir(), 'corral-group-hup-'));
  const release = join(dir, 'release');
  // The old worker's drain lasts up to the graceful timeout: one no loaded machine runs out of
  // before the release (the helper's is 10 s).
  const c = await startCorral({ app: 'basic.mjs', workers: 2, wrap: ['setsid'], env: { CORRAL_GRACEFUL_TIMEOUT: '120' } });
  try {
    // In flight into the reload: released once its worker drains for it (the reload is done once
    // the old generation has left, so only after the answer).
    const held = http(`${c.url}/hold?release=${encodeURIComponent(release)}`, { timeoutMs: 60_000 });
    const holding = await c.waitForLog((l) => l.event === 'fixture.holding', 10000, 'the held request in a worker');
    process.kill(-c.pid, 'SIGHUP');
    await c.waitForLog((l) => l.event === 'worker.draining' && l.pid === holding.pid, 30000, 'the holding worker draining for the reload');
    writeFileSync(release, '');
    const r = await held;
    assert.equal(r.status, 200, 'the request in flight was answered');
    assert.equal(r.json<{ released: boolean }>().released, true);
    await c.waitForLog((l) => l.event === 'reload.done', 30000, 'reload.done');
    // The old generation drains and exits as the reload asks; nothing exits of the signal itself.
    await waitFor(() => c.events('worker.exit').filter((l) => l.generation === 1).length === 2 || undefined, 15000, 'both old workers gone');
    assert.deepEqual(c.events('worker.exit').map((l) => [l.generation, l.reason, l.signal]), [[1, 'reload to generation 2', null], [1, 'reload to generation 2', null]]);
    const byTheSignal = c.logs().filter((l) => (l.event === 'worker.exit' || l.event === 'keeper.exit') && l.signal !== null);
    assert.deepEqual(byTheSignal.map((l) => [l.event, l.worker_id, l.signal]), [], 'no child killed by SIGHUP');
    assert.equal(c.events('keeper.exit').length, 0, 'the keeper kept running');
    assert.equal(c.events('reload.start').length, 1, 'one reload');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM to the whole process group: the keeper waits for the master to drain it after the workers, so an event still arriving in a draining worker is journaled (201)', async () => {
  const c = await startCorral({ app: 'sheets-app.mjs', workers: 1, wrap: ['setsid'], env: { CORRAL_ACCESS_LOG: 'false' } });
  const socket = connect(Number(new URL(c.url).port), '127.0.0.1');
  try {
    await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 30_000, 'keeper.ready');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    // A whole GET, and in the same write the head and first half of an append: once the GET is
    // answered, the worker has begun the append, which waits for the rest of its body.
    const body = JSON.stringify({ range: 'Events', rows: [['group-term-1', 'P001', 'goal', '', '2024-07-01']] });
    const half = Math.floor(body.length / 2);
    socket.write(`GET /figures HTTP/1.1\r\nHost: x\r\n\r\nPOST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`);
    await waitFor(() => /^HTTP\/1\.1 200 /.test(received) && received.includes('\r\n\r\n') || undefined, 10_000, 'the GET answered');
    process.kill(-c.pid, 'SIGTERM');
    await c.waitForLog((l) => l.event === 'shutdown.start', 10_000, 'the master stopping');
    // What the keeper made of the signal, whichever it was: drained at once, or waiting for the master.
    await c.waitForLog((l) => l.role === 'keeper' && (l.event === 'keeper.drained' || l.event === 'keeper.sigterm_deferred'), 10_000, 'the keeper acting on SIGTERM');
    socket.write(body.slice(half));
    const answered = await waitFor(() => received.match(/HTTP\/1\.1 (\d{3}) [^\r]*\r\n[\s\S]*?\r\n\r\n[^]*?HTTP\/1\.1 (\d{3}) [^\r]*\r\n[\s\S]*?\r\n\r\n(.*)$/)?.slice(2) ?? undefined, 20_000, 'the append answered');
    assert.equal(answered[0], '201', `the event was journaled: ${answered[1] ?? ''}`);
    assert.deepEqual(await c.exited, { code: 0, signal: null });
    const exits = c.logs().filter((l) => l.event === 'worker.exit' || l.event === 'keeper.exit');
    assert.deepEqual(exits.map((l) => [l.event, l.reason, l.signal]), [['worker.exit', 'shutdown', null], ['keeper.exit', 'shutdown', null]], 'the keeper last, stopped by the master');
    assert.equal(c.logs().filter((l) => l.code === 'CORRAL_ERR_KEEPER_DIED').length, 0);
  } finally {
    socket.destroy();
    await c.stop();
  }
});

test("SIGUSR2 (gunicorn's binary upgrade), to the master or the whole group: said and ignored; the request in flight finishes and every process goes on", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-group-usr2-'));
  const release = join(dir, 'release');
  const c = await startCorral({ app: 'basic.mjs', workers: 1, wrap: ['setsid'] });
  try {
    const held = http(`${c.url}/hold?release=${encodeURIComponent(release)}`, { timeoutMs: 60_000 });
    await c.waitForLog((l) => l.event === 'fixture.holding', 10000, 'the held request in a worker');
    c.kill('SIGUSR2');
    await c.waitForLog((l) => l.event === 'signal.ignored' && l.signal === 'SIGUSR2', 10000, 'USR2 to the master said and ignored');
    process.kill(-c.pid, 'SIGUSR2');
    await waitFor(() => c.events('signal.ignored').length === 2 || undefined, 10000, 'USR2 to the group said and ignored');
    writeFileSync(release, '');
    const r = await held;
    assert.equal(r.status, 200, 'the request in flight was answered');
    assert.equal((await http(c.url)).status, 200, 'still serving');
    assert.deepEqual(c.logs().filter((l) => l.event === 'worker.exit' || l.event === 'keeper.exit').map((l) => [l.event, l.signal]), [], 'no child exited');
    assert.equal(c.proc.exitCode, null, 'the master runs');
    assert.equal(c.proc.signalCode, null);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A corral (1 worker, in its own process group) whose children hold the loading of `modules`
 * (path suffixes) for 2 s each: test/fixtures/slow-child-load.mjs. `marks` is where each hold is said.
 */
async function corralLoadingSlowly(modules: readonly string[]) {
  const marks = mkdtempSync(join(tmpdir(), 'corral-slow-load-'));
  const c = await startCorral({
    workers: 1,
    wrap: ['setsid'],
    waitReady: false,
    env: {
      NODE_OPTIONS: `--import=${join(REPO_ROOT, 'test', 'fixtures', 'slow-child-load.mjs')}`,
      CORRAL_TEST_SLOW_LOAD_DIR: marks,
      CORRAL_TEST_SLOW_LOAD_MODULES: modules.join(','),
      CORRAL_TEST_SLOW_LOAD_MS: '2000',
    },
  });
  return { c, marks, holding: (file: string) => waitFor(() => readdirSync(marks).some((f) => f.startsWith(`${file}-`)) || undefined, 30_000, `a child loading ${file}`) };
}

for (const [role, module] of [['keeper', '/dist/src/sheets/keeper-main.js'], ['worker', '/dist/src/worker/main.js']] as const) {
  test(`Ctrl-C to the whole process group while the ${role} is still loading corral's code: it does not die of SIGINT, the master stops it and exits 0`, async () => {
    // A child ignores the group's SIGINT (and HUP, USR1, USR2) from its first statement, before
    // its code loads: 0.1 s idle, over a second on a 2-core host booting 8 workers at once. Before,
    // the listeners came with that code, and a Ctrl-C just after `npm start` killed the booting
    // keeper (an error, CORRAL_ERR_KEEPER_DIED) and workers by the signal.
    const { c, marks, holding } = await corralLoadingSlowly([module]);
    try {
      await holding(module.split('/').pop() ?? '');
      process.kill(-c.pid, 'SIGINT');
      await c.waitForLog((l) => l.event === 'shutdown.start', 10_000, 'the master stopping');
      assert.deepEqual(await c.exited, { code: 0, signal: null });
      const exits = c.logs().filter((l) => l.event === 'worker.exit' || l.event === 'keeper.exit' || l.event === 'worker.boot_failed');
      assert.ok(exits.some((l) => l.event === `${role}.exit`), `the ${role} exited: ${JSON.stringify(exits)}`);
      assert.deepEqual(exits.filter((l) => l.signal === 'SIGINT').map((l) => [l.event, l.worker_pid]), [], 'no child killed by the SIGINT');
      assert.deepEqual(c.logs().filter((l) => l.level === 'error' || l.level === 'fatal').map((l) => l.event), [], 'no error said');
    } finally {
      await c.stop();
      rmSync(marks, { recursive: true, force: true });
    }
  });
}

test("Ctrl-C to the whole process group while the keeper is in node's own start, before its first statement: it dies of the signal, said as part of the stop (info), not as an error", async () => {
  // Holding group-signals.js, the entry's one static import, stands for node's own start, the
  // window no listener can cover (a second on a busy 2-core host forking 8 processes at once).
  // Whether the master reaps that exit before or after it has begun draining the keeper is a race
  // (both came of the one Ctrl-C); either way it is no error. The unit child-exits test drives the
  // order that used to say CORRAL_ERR_KEEPER_DIED.
  const { c, marks, holding } = await corralLoadingSlowly(['/dist/src/group-signals.js']);
  try {
    await holding('group-signals.js');
    process.kill(-c.pid, 'SIGINT');
    assert.deepEqual(await c.exited, { code: 0, signal: null });
    const exit = c.events('keeper.exit')[0];
    assert.ok(exit, 'the keeper exited');
    // Of the Ctrl-C, or of the SIGTERM the master sends it at once: a keeper the loaded host had
    // not run in that millisecond holds both signals pending, and Node's handler of each (it
    // restores the terminal, then raises the signal again) may run first on a thread of its own.
    // Seen: 2 of 6 runs beside two busy loops died of SIGTERM, 9 ms after the Ctrl-C.
    assert.ok(exit.signal === 'SIGINT' || exit.signal === 'SIGTERM', `died of ${String(exit.signal)}`);
    assert.equal(exit.level, 'info');
    assert.equal(exit.reason, 'shutdown');
    assert.deepEqual(c.logs().filter((l) => l.level === 'error' || l.level === 'fatal').map((l) => [l.event, l.code]), [], 'no error said');
  } finally {
    await c.stop();
    rmSync(marks, { recursive: true, force: true });
  }
});
