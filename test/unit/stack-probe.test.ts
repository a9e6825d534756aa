import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { IPC_TAG } from '../../src/ipc/messages.js';
import { createSpawner, type SpawnedChild } from '../../src/master/spawner.js';
import { captureStuckStack } from '../../src/master/stack-capture.js';
import { startProbeOn } from '../../src/stack-probe.js';
import { listeningPortsOf } from '../helpers/tcp-peers.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-probe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const STACK_PROBE = pathToFileURL(join(import.meta.dirname, '../../src/stack-probe.js')).href;

/**
 * Forks `body` as a keeper through the real spawner; the child starts its probe as corral's
 * children do (startStackProbe, from the env the master gave) and says it is ready before `body` runs.
 */
async function forkProbed(body: string, stackProbes = true): Promise<{ spawned: SpawnedChild; pid: number; exited: Promise<void> }> {
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    script,
    `import { startStackProbe } from ${JSON.stringify(STACK_PROBE)};\n` +
      `startStackProbe({ warn: (_fields, message) => process.stderr.write(message + '\\n') });\n` +
      `process.send({ tag: ${JSON.stringify(IPC_TAG)}, type: 'ready' });\n${body}\n`,
  );
  let ready: () => void = () => {};
  const readied = new Promise<void>((resolve) => (ready = resolve));
  let exited: () => void = () => {};
  const exit = new Promise<void>((resolve) => (exited = resolve));
  const spawner = createSpawner({ workerExec: script, keeperExec: script, stackProbes: () => stackProbes, listenSocket: { accept: 'shared', backlog: 16 } });
  const spawned = spawner.spawn({ role: 'keeper', workerId: 0, generation: 1 }, {}, { onMessage: () => ready(), onExit: () => exited() });
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
    assert.deepEqual([...listeningPortsOf(pid)], [], 'the child listens on no TCP port (the inspector was never opened)');
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

test('without CORRAL_STUCK_STACKS a child gets no probe, and a capture asks nothing', async () => {
  const { spawned, exited } = await forkProbed('setInterval(() => {}, 1000);', false);
  try {
    assert.equal(spawned.stackProbe, undefined);
    assert.equal(await captureStuckStack(undefined, 500), undefined);
  } finally {
    spawned.handle.kill('SIGKILL');
    await exited;
  }
});

test('a probe whose addon is missing says so with CORRAL_ERR_STACK_PROBE and the fix', () => {
  assert.throws(() => startProbeOn(99, join(dir, 'missing.node')), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_STACK_PROBE' && /npm rebuild/.test(err.message));
});
