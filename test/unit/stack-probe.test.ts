import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { EXIT } from '../../src/errors.js';
import { IPC_TAG } from '../../src/ipc/messages.js';
import { createSpawner, type SpawnedChild } from '../../src/master/spawner.js';
import { captureStuckStack } from '../../src/master/stack-capture.js';
import { masterGoneExit, ORPHAN_GRACE_MS, startProbeOn, type OrphanExit } from '../../src/stack-probe.js';
import { listeningPortsOf } from '../helpers/tcp-peers.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-probe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const STACK_PROBE = pathToFileURL(join(import.meta.dirname, '../../src/stack-probe.js')).href;

/**
 * Forks `body` as a keeper through the real spawner; the child starts its probe as corral's
 * children do (startStackProbe, from the env the master gave; with `orphan`, its exit when the
 * master is gone) and says it is ready before `body` runs.
 */
async function forkProbed(body: string, orphan?: OrphanExit): Promise<{ spawned: SpawnedChild; pid: number; exited: Promise<{ code: number | null; signal: string | null }> }> {
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    script,
    `import { startStackProbe } from ${JSON.stringify(STACK_PROBE)};\n` +
      `startStackProbe({ warn: (_fields, message) => process.stderr.write(message + '\\n') }, ${orphan ? JSON.stringify(orphan) : 'undefined'});\n` +
      `process.send({ tag: ${JSON.stringify(IPC_TAG)}, type: 'ready' });\n${body}\n`,
  );
  let ready: () => void = () => {};
  const readied = new Promise<void>((resolve) => (ready = resolve));
  let exited: (e: { code: number | null; signal: string | null }) => void = () => {};
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => (exited = resolve));
  const spawner = createSpawner({ workerExec: script, keeperExec: script, listenSocket: { accept: 'shared', backlog: 16 } });
  const spawned = spawner.spawn({ role: 'keeper', workerId: 0, generation: 1 }, {}, { onMessage: () => ready(), onExit: (code, signal) => exited({ code, signal }) });
  await readied;
  return { spawned, pid: spawned.handle.pid, exited: exit };
}

test("a child stuck in a busy loop answers its stack through the probe: the loop's own frames, and no port opened for it", async () => {
  const { spawned, pid, exited } = await forkProbed('function spinForever() { for (;;) {} }\nfunction handler() { spinForever(); }\nsetTimeout(handler, 50);');
  try {
    // Asked before the timer fires, the child answers from the next JavaScript it enters (the
    // timers' own frames); once the loop spins, from inside it.
    let frames = await captureStuckStack(spawned.stackProbe, 2000);
    for (const deadline = Date.now() + 10_000; frames?.[0]?.fn !== 'spinForever' && Date.now() < deadline; ) {
      assert.ok(frames, 'frames came back');
      frames = await captureStuckStack(spawned.stackProbe, 2000);
    }
    assert.ok(frames, 'frames came back');
    assert.deepEqual(frames.slice(0, 2).map((f) => f.fn), ['spinForever', 'handler']);
    assert.ok(frames[0]!.url.endsWith('.mjs') && frames[0]!.line === 4, JSON.stringify(frames[0]));
    assert.deepEqual([...(await listeningPortsOf(pid))], [], 'the child listens on no TCP port (the inspector was never opened)');
    // Asked again, it answers again (the master asks once; the probe does not care).
    assert.equal((await captureStuckStack(spawned.stackProbe, 2000))?.[0]?.fn, 'spinForever');
  } finally {
    spawned.handle.kill('SIGKILL');
    await exited;
  }
  assert.equal(await captureStuckStack(spawned.stackProbe, 2000), undefined, 'a child gone answers nothing, at once');
});

test('a child stopped by a signal cannot answer: the capture gives up at its timeout', async () => {
  const { spawned, pid, exited } = await forkProbed('setInterval(() => {}, 1000);');
  try {
    process.kill(pid, 'SIGSTOP');
    const started = Date.now();
    assert.equal(await captureStuckStack(spawned.stackProbe, 500), undefined);
    assert.ok(Date.now() - started < 1500);
  } finally {
    spawned.handle.kill('SIGKILL');
    process.kill(pid, 'SIGCONT');
    await exited;
  }
});

test('every child gets a probe, whatever CORRAL_STUCK_STACKS says (the master decides whether to ask); no probe, no capture', async () => {
  const { spawned, exited } = await forkProbed('setInterval(() => {}, 1000);');
  try {
    assert.ok(spawned.stackProbe, 'the master holds its end of the probe');
    assert.equal(await captureStuckStack(undefined, 500), undefined);
  } finally {
    spawned.handle.kill('SIGKILL');
    await exited;
  }
});

/** A log line's fields as the worker's and keeper's lines have them, and a short grace for the test. */
function orphanExit(logFile: string, graceMs: number): OrphanExit {
  return { ...masterGoneExit('worker', { workerId: 3, generation: 2 }, logFile), graceMs };
}

test("a child stuck in a busy loop when the master's end of its probe closes (the master died) is ended after the grace, with EXIT.MASTER_GONE, and says so in the log file", async () => {
  const logFile = join(dir, 'orphan-busy.log');
  writeFileSync(logFile, '');
  const graceMs = 400;
  const { spawned, exited } = await forkProbed('setTimeout(() => { for (;;) {} }, 20);', orphanExit(logFile, graceMs));
  let killed = false;
  try {
    // Its loop spins: the stack says so (and proves it cannot exit by its own JavaScript).
    let frames = await captureStuckStack(spawned.stackProbe, 2000);
    for (const deadline = Date.now() + 10_000; frames?.[0]?.url.endsWith('.mjs') !== true && Date.now() < deadline; ) frames = await captureStuckStack(spawned.stackProbe, 2000);
    assert.ok(frames?.[0]?.url.endsWith('.mjs'), JSON.stringify(frames));
    const closedAt = Date.now();
    spawned.stackProbe?.destroy();
    const bound = setTimeout(() => {
      killed = true;
      spawned.handle.kill('SIGKILL');
    }, graceMs + 5000);
    const { code, signal } = await exited;
    clearTimeout(bound);
    const took = Date.now() - closedAt;
    assert.ok(!killed, 'ended by its probe, not by the test');
    assert.deepEqual([code, signal], [EXIT.MASTER_GONE, null]);
    assert.ok(took >= graceMs - 50, `ended ${took} ms after the close, not before the grace of ${graceMs} ms`);
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, lines.join('\n'));
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(line).slice(0, 2), ['level', 'time']);
    assert.equal(line.level, 'error');
    assert.ok(Math.abs(Date.parse(String(line.time)) - Date.now()) < 10_000, String(line.time));
    assert.equal(line.event, 'worker.master_gone');
    assert.equal(line.code, 'CORRAL_ERR_MASTER_GONE');
    assert.equal(line.stuck, true);
    assert.equal(line.exit_code, EXIT.MASTER_GONE);
    assert.equal(line.worker, 3);
    assert.equal(line.gen, 2);
    assert.match(String(line.msg), /event loop is blocked/);
  } finally {
    if (!killed) spawned.handle.kill('SIGKILL');
    await exited;
  }
});

test('a child whose loop turns exits by its own JavaScript within the grace: the probe writes nothing', async () => {
  const logFile = join(dir, 'orphan-idle.log');
  writeFileSync(logFile, '');
  // What a worker's 'disconnect' does, here on the probe's own close (no IPC channel is cut).
  const { spawned, exited } = await forkProbed('setInterval(() => {}, 1000);\nsetTimeout(() => process.exit(0), 300);', orphanExit(logFile, 1500));
  spawned.stackProbe?.destroy();
  assert.deepEqual(await exited, { code: 0, signal: null });
  assert.equal(readFileSync(logFile, 'utf8'), '');
});

test('a probe nobody asks stays quiet: a master that does not write (CORRAL_STUCK_STACKS off, or stopped) ends nothing', async () => {
  const { spawned, pid, exited } = await forkProbed('setTimeout(() => { for (;;) {} }, 20);', orphanExit(join(dir, 'orphan-quiet.log'), 100));
  try {
    await new Promise((r) => setTimeout(r, 800));
    process.kill(pid, 0);
  } finally {
    spawned.handle.kill('SIGKILL');
    await exited;
  }
});

test('masterGoneExit: EXIT.MASTER_GONE after ORPHAN_GRACE_MS, the role in the event, the logger\'s fields', () => {
  const o = masterGoneExit('keeper', { workerId: 0, generation: 4 }, '/var/log/corral.log');
  assert.equal(o.exitCode, EXIT.MASTER_GONE);
  assert.equal(o.graceMs, ORPHAN_GRACE_MS);
  assert.equal(o.logFile, '/var/log/corral.log');
  assert.deepEqual(Object.keys(o.fields).slice(0, 5), ['role', 'worker', 'pid', 'gen', 'event']);
  assert.equal(o.fields.event, 'keeper.master_gone');
});

test('a probe whose addon is missing says so with CORRAL_ERR_STACK_PROBE and the fix', () => {
  assert.throws(() => startProbeOn(99, join(dir, 'missing.node')), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_STACK_PROBE' && /npm rebuild/.test(err.message));
});
