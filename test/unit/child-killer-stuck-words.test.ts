// The worker.timeout line of a stuck child points at the worker.stack line that follows it, and
// only when one does: with CORRAL_STUCK_STACKS=false the master kills at once and logs no stack.

import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ChildKiller, NEVER_BEAT_GUESS, SILENT_BOOT_GUESS } from '../../src/master/child-killer.js';
import { BOOT_TIMEOUT_FLOOR_MS } from '../../src/master/stuck-judgement.js';
import { newChildRecord, snapshotOf, type ChildRecord } from '../../src/master/registry.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { waitFor } from '../helpers/corral.js';

const NOW = 5_000_000;
const TIMEOUT_MS = 30_000;

function stuckWorker(): ChildRecord & { killed: string[] } {
  const killed: string[] = [];
  const c = newChildRecord({ id: 3, slot: 0, role: 'worker', generation: 1, handle: { pid: 4343, send: () => true, kill: (s?: NodeJS.Signals | number) => void killed.push(String(s)) }, startedAt: NOW - 60_000, forkBatch: 1, beatIntervalMs: 1000 });
  return Object.assign(c, { state: 'ready' as const, readyAt: NOW - 50_000, lastBeatAt: NOW - 31_000, beaten: true, killed });
}

test('with CORRAL_STUCK_STACKS=false, worker.timeout does not send the operator to a worker.stack line, and the kill is at once', async () => {
  const log = await captureLogger('worker');
  try {
    const killer = new ChildKiller({ log: log.logger, now: () => NOW, stuckStacks: () => false, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const c = stuckWorker();
    killer.track(c.id, new PassThrough());
    killer.murder([c], TIMEOUT_MS);
    assert.deepEqual(c.killed, ['SIGKILL']);
    const timeout = log.lines().find((l) => l.event === 'worker.timeout');
    assert.ok(timeout, 'worker.timeout logged');
    assert.doesNotMatch(String(timeout.msg), /worker\.stack shows where/);
    assert.match(String(timeout.msg), /no stack is logged, CORRAL_STUCK_STACKS=false/);
    assert.equal(log.lines().filter((l) => l.event === 'worker.stack').length, 0);
  } finally {
    log.close();
  }
});

test('with CORRAL_STUCK_STACKS on, worker.timeout says worker.stack shows where, and worker.stack follows before the kill', async () => {
  const log = await captureLogger('worker');
  try {
    const killer = new ChildKiller({ log: log.logger, now: () => NOW, stuckStacks: () => true, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const c = stuckWorker();
    // A probe that never answers, as a stopped process's: the stack cannot be captured.
    killer.track(c.id, new PassThrough());
    killer.murder([c], TIMEOUT_MS);
    const timeout = log.lines().find((l) => l.event === 'worker.timeout');
    assert.match(String(timeout?.msg), /worker\.stack shows where/);
    assert.deepEqual(c.killed, [], 'not killed before the stack is tried');
    // Killed once the capture gives up (STACK_CAPTURE_MS), whenever that comes on a loaded machine.
    await waitFor(() => c.killed.length > 0 || undefined, 15_000, 'the kill after the stack capture gave up');
    assert.deepEqual(c.killed, ['SIGKILL']);
    const stack = log.lines().find((l) => l.event === 'worker.stack');
    assert.equal(stack?.frames, null);
  } finally {
    log.close();
  }
});

test("a booting worker that never beat is said not to have finished starting, judged by the boot timeout or by the task limit, never as the app's import", async () => {
  const log = await captureLogger('worker');
  try {
    for (const [refused, now, judged] of [
      [true, NOW + TIMEOUT_MS + 1000, /past CORRAL_TIMEOUT, with a fork or thread refused at the cgroup's process and thread limit since it was forked \(pids\.events\)/],
      [false, NOW + BOOT_TIMEOUT_FLOOR_MS + 1000, /past the boot timeout/],
    ] as const) {
      const killer = new ChildKiller({ log: log.logger, now: () => now, stuckStacks: () => false, taskRefusals: () => () => refused, reloadingTo: () => undefined });
      const killed: string[] = [];
      const c = newChildRecord({ id: 4, slot: 0, role: 'worker', generation: 2, handle: { pid: 4444, send: () => true, kill: (s?: NodeJS.Signals | number) => void killed.push(String(s)) }, startedAt: NOW, forkBatch: 1, beatIntervalMs: 1000 });
      killer.murder([c], TIMEOUT_MS);
      assert.deepEqual(killed, ['SIGKILL']);
      assert.equal(c.bootError?.code, 'CORRAL_ERR_WORKER_TIMEOUT');
      assert.equal(c.bootError?.message, `no beat in ${(now - NOW) / 1000} s since it was forked${NEVER_BEAT_GUESS}`);
      assert.doesNotMatch(c.bootError?.message ?? '', /createApp|the app/);
      const line = log.lines().filter((l) => l.event === 'worker.timeout').at(-1);
      assert.equal(line?.never_beat, true);
      assert.equal(line?.code, 'CORRAL_ERR_WORKER_TIMEOUT');
      assert.match(String(line?.msg), judged);
      assert.match(String(line?.msg), /^worker 4 \(pid 4444\) has not beaten once in [\d.]+ s since it was forked, .*: node or corral's own modules did not finish starting; killing and replacing it$/);
    }
  } finally {
    log.close();
  }
});

test("a booting child told to stop before its first beat is said to be still starting, not to have missed CORRAL_TIMEOUT; the views give it no beat's age", async () => {
  const log = await captureLogger('worker');
  try {
    const killer = new ChildKiller({ log: log.logger, now: () => NOW + 4000, stuckStacks: () => false, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const killed: string[] = [];
    const c = newChildRecord({ id: 5, slot: 0, role: 'worker', generation: 1, handle: { pid: 4545, send: () => true, kill: (s?: NodeJS.Signals | number) => void killed.push(String(s)) }, startedAt: NOW, forkBatch: 1, beatIntervalMs: 1000 });
    assert.equal(snapshotOf(c).lastBeatAt, undefined, 'no beat yet: last_beat_s_ago is null, not its age since the fork');
    killer.killNotBeating(c, 'shutdown');
    assert.deepEqual(killed, ['SIGKILL']);
    const line = log.lines().find((l) => l.event === 'worker.kill');
    assert.equal(line?.never_beat, true);
    assert.equal(line?.booting, true);
    assert.equal(line?.msg, "worker 5 (pid 4545) has not beaten once in 4 s since it was forked, still starting: it cannot stop (shutdown) by itself yet; killing it now (it serves nothing yet)");
    // Once it beat, its silence is a blocked loop, and its age is counted from that beat.
    const beat = newChildRecord({ id: 6, slot: 1, role: 'worker', generation: 1, handle: { pid: 4646, send: () => true, kill: () => {} }, startedAt: NOW, forkBatch: 1, beatIntervalMs: 1000 });
    Object.assign(beat, { beaten: true, lastBeatAt: NOW + 500 });
    assert.equal(snapshotOf(beat).lastBeatAt, NOW + 500);
    killer.killNotBeating(beat, 'shutdown');
    const second = log.lines().filter((l) => l.event === 'worker.kill').at(-1);
    assert.equal(second?.never_beat, undefined);
    assert.match(String(second?.msg), /has not beaten for 3\.5 s while booting: it cannot stop \(shutdown\); killing it now rather than at CORRAL_TIMEOUT/);
  } finally {
    log.close();
  }
});

/** A stack probe that answers every request with `frames`, as a child whose loop still turns does. */
function answeringProbe(frames: readonly object[]): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _encoding, done) {
      this.push(`${JSON.stringify(frames)}\n`);
      done();
    },
  });
}

test('the stack of a child stopped before its first beat is not said to be stuck: its line is a warning without the timeout code, saying it was still starting', async () => {
  const log = await captureLogger('worker');
  try {
    const killer = new ChildKiller({ log: log.logger, now: () => NOW + 4000, stuckStacks: () => true, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const killed: string[] = [];
    const c = newChildRecord({ id: 7, slot: 0, role: 'worker', generation: 2, handle: { pid: 4747, send: () => true, kill: (s?: NodeJS.Signals | number) => void killed.push(String(s)) }, startedAt: NOW, forkBatch: 1, beatIntervalMs: 1000 });
    killer.track(c.id, answeringProbe([{ fn: 'startHeartbeat', url: 'file:///opt/corral/dist/src/worker/heartbeat.js', line: 10, column: 17 }]));
    killer.killNotBeating(c, 'scale-down');
    await waitFor(() => killed.length > 0 || undefined, 15_000, 'the kill after the stack');
    const stack = log.lines().find((l) => l.event === 'worker.stack');
    assert.ok(stack, 'its stack is logged');
    assert.equal(stack.level, 'warn');
    assert.equal(stack.code, undefined, 'no CORRAL_ERR_WORKER_TIMEOUT: it missed no CORRAL_TIMEOUT');
    assert.equal(stack.never_beat, true);
    assert.doesNotMatch(String(stack.msg), /stuck/);
    assert.match(String(stack.msg), /^stack of worker 7, still starting when told to stop \(scale-down\):\n {4}at startHeartbeat \(file:\/\/\/opt\/corral\/dist\/src\/worker\/heartbeat\.js:10:17\)$/);
    // One whose loop is blocked after it beat is stuck, and said so as before.
    const blocked = stuckWorker();
    killer.track(blocked.id, answeringProbe([{ fn: 'spin', url: 'file:///srv/app.mjs', line: 3, column: 1 }]));
    killer.killNotBeating(blocked, 'shutdown');
    await waitFor(() => blocked.killed.length > 0 || undefined, 15_000, 'the kill of the blocked one');
    const second = log.lines().filter((l) => l.event === 'worker.stack').at(-1);
    assert.equal(second?.level, 'error');
    assert.equal(second?.code, 'CORRAL_ERR_WORKER_TIMEOUT');
    assert.match(String(second?.msg), /^stack of stuck worker 3:/);
  } finally {
    log.close();
  }
});

test('a draining worker killed at its drain deadline with its beats stopped is said to be blocked, not slow, and its stack is logged first; one still beating is killed as before', async () => {
  const log = await captureLogger('worker');
  try {
    const killer = new ChildKiller({ log: log.logger, now: () => NOW, stuckStacks: () => true, taskRefusals: () => () => false, reloadingTo: () => undefined });
    // Told to drain 5.2 s ago with a graceful timeout of 3 s; its last beat 4 s ago (a close hook
    // that blocks its loop), short of CORRAL_TIMEOUT (30 s).
    const blocked = Object.assign(stuckWorker(), { state: 'draining' as const, drainDeadline: NOW - 200, lastBeatAt: NOW - 4000 });
    killer.track(blocked.id, answeringProbe([{ fn: 'closeHook', url: 'file:///srv/app.mjs', line: 21, column: 5 }]));
    killer.murder([blocked], TIMEOUT_MS);
    const kill = log.lines().find((l) => l.event === 'worker.kill');
    assert.equal(kill?.reason, 'drain deadline passed');
    assert.equal(kill?.seconds_silent, 4);
    assert.equal(kill?.msg, 'worker 3 did not finish draining: it has not beaten for 4 s, its event loop blocked (a close hook or other synchronous code: worker.stack shows where); killing');
    await waitFor(() => blocked.killed.length > 0 || undefined, 15_000, 'the kill after the stack');
    assert.deepEqual(blocked.killed, ['SIGKILL']);
    const stack = log.lines().find((l) => l.event === 'worker.stack');
    assert.match(String(stack?.msg), /^stack of stuck worker 3:\n {4}at closeHook \(file:\/\/\/srv\/app\.mjs:21:5\)$/);
    // Beating: requests in flight held it; killed at once, no stack.
    const slow = Object.assign(stuckWorker(), { id: 8, state: 'draining' as const, drainDeadline: NOW - 200, lastBeatAt: NOW - 500 });
    killer.murder([slow], TIMEOUT_MS);
    assert.deepEqual(slow.killed, ['SIGKILL']);
    const second = log.lines().filter((l) => l.event === 'worker.kill').at(-1);
    assert.equal(second?.msg, 'worker 8 did not finish draining; killing');
    assert.equal(second?.seconds_silent, undefined);
    // The keeper runs no app's close hook.
    const keeper = Object.assign(newChildRecord({ id: 0, slot: 0, role: 'keeper', generation: 1, handle: { pid: 4000, send: () => true, kill: () => {} }, startedAt: NOW - 60_000, forkBatch: 1, beatIntervalMs: 1000 }), { state: 'draining' as const, readyAt: NOW - 50_000, beaten: true, drainDeadline: NOW - 200, lastBeatAt: NOW - 4000 });
    killer.murder([keeper], TIMEOUT_MS);
    const third = log.lines().filter((l) => l.event === 'keeper.kill').at(-1);
    assert.equal(third?.msg, 'keeper 0 did not finish draining: it has not beaten for 4 s, its event loop blocked (synchronous code: no stack can be read from it); killing');
  } finally {
    log.close();
  }
});

test("a worker whose app blocks its loop while booting fails its boot naming CORRAL_TIMEOUT, its value, the app's frame and the fix: boot.exhausted repeats that error", async () => {
  const log = await captureLogger('worker');
  try {
    const killer = new ChildKiller({ log: log.logger, now: () => NOW, stuckStacks: () => true, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const killed: string[] = [];
    // Beat once (its first beat comes before the app is imported), then silent in createApp.
    const c = newChildRecord({ id: 9, slot: 0, role: 'worker', generation: 1, handle: { pid: 4949, send: () => true, kill: (s?: NodeJS.Signals | number) => void killed.push(String(s)) }, startedAt: NOW - 5000, forkBatch: 1, beatIntervalMs: 750 });
    Object.assign(c, { beaten: true, lastBeatAt: NOW - 3200 });
    const own = new URL('../../src/worker/app-loader.js', import.meta.url).href;
    killer.track(c.id, answeringProbe([
      { fn: 'createApp', url: 'file:///srv/app/slow.mjs', line: 3, column: 3 },
      { fn: 'loadApp', url: own, line: 94, column: 30 },
      { fn: 'processTicksAndRejections', url: 'node:internal/process/task_queues', line: 95, column: 5 },
    ]));
    killer.murder([c], 3000);
    await waitFor(() => killed.length > 0 || undefined, 15_000, 'the kill after the stack');
    assert.equal(c.bootError?.code, 'CORRAL_ERR_WORKER_TIMEOUT');
    const message = c.bootError?.message ?? '';
    assert.match(message, /^silent for 3\.2 s while booting, past CORRAL_TIMEOUT \(3 s\), at \/srv\/app\/slow\.mjs:3:3 \(/);
    assert.match(message, /raise CORRAL_TIMEOUT/);
    assert.ok(message.endsWith(SILENT_BOOT_GUESS), 'the guess stays last, for the cgroup cause to replace it');
    // Without a stack (CORRAL_STUCK_STACKS=false), the same words without the frame.
    const quiet = new ChildKiller({ log: log.logger, now: () => NOW, stuckStacks: () => false, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const d = newChildRecord({ id: 10, slot: 1, role: 'worker', generation: 1, handle: { pid: 5050, send: () => true, kill: () => {} }, startedAt: NOW - 5000, forkBatch: 1, beatIntervalMs: 750 });
    Object.assign(d, { beaten: true, lastBeatAt: NOW - 3200 });
    quiet.murder([d], 3000);
    assert.equal(d.bootError?.message, `silent for 3.2 s while booting, past CORRAL_TIMEOUT (3 s)${SILENT_BOOT_GUESS}`);
  } finally {
    log.close();
  }
});
