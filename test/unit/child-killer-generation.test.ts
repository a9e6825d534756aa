// Every master line about a child names its generation (README, Logs: "its boot, exit, kill,
// timeout"), so that during a reload `jq 'select(.generation == 2)'` finds all of the new
// generation's kills and stacks, not only some of them.

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ChildKiller } from '../../src/master/child-killer.js';
import { newChildRecord, type ChildRecord } from '../../src/master/registry.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { waitFor } from '../helpers/corral.js';

const NOW = 5_000_000;
const TIMEOUT_MS = 30_000;

function child(patch: Partial<ChildRecord>): ChildRecord & { killed: string[] } {
  const killed: string[] = [];
  const c = newChildRecord({ id: 7, slot: 0, role: 'worker', generation: 2, handle: { pid: 4747, send: () => true, kill: (s?: NodeJS.Signals | number) => void killed.push(String(s)) }, startedAt: NOW - 60_000, forkBatch: 1, beatIntervalMs: 1000 });
  return Object.assign(c, { state: 'ready' as const, readyAt: NOW - 50_000, lastBeatAt: NOW - 500, beaten: true, killed }, patch);
}

test('worker.kill names the generation of the child it kills, whatever the reason', async () => {
  const log = await captureLogger('worker');
  try {
    const killer = new ChildKiller({ log: log.logger, now: () => NOW, stuckStacks: () => false, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const afterSigterm = child({ state: 'killing', sigkillAt: NOW - 1, drainedReported: true });
    const drainDeadline = child({ state: 'draining', drainDeadline: NOW - 1 });
    const drainBlocked = child({ state: 'draining', drainDeadline: NOW - 1, lastBeatAt: NOW - 10_000 });
    killer.murder([afterSigterm], TIMEOUT_MS);
    killer.murder([drainDeadline], TIMEOUT_MS);
    killer.murder([drainBlocked], TIMEOUT_MS);
    killer.killAtGracefulTimeout([child({})]);
    const kills = log.lines().filter((l) => l.event === 'worker.kill');
    assert.deepEqual(kills.map((l) => l.reason), ['no exit after SIGTERM', 'drain deadline passed', 'drain deadline passed', 'graceful timeout']);
    for (const line of kills) assert.equal(line.generation, 2, `${String(line.reason)}: ${JSON.stringify(line)}`);
  } finally {
    log.close();
  }
});

test('worker.stack names the generation of the stuck child, also when the stack could not be read', async () => {
  const log = await captureLogger('worker');
  try {
    const killer = new ChildKiller({ log: log.logger, now: () => NOW, stuckStacks: () => true, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const c = child({ lastBeatAt: NOW - 31_000 });
    // A probe that never answers, as a stopped process's.
    killer.track(c.id, new PassThrough());
    killer.murder([c], TIMEOUT_MS);
    await waitFor(() => c.killed.length > 0 || undefined, 15_000, 'the kill after the stack capture gave up');
    const stack = log.lines().find((l) => l.event === 'worker.stack');
    assert.equal(stack?.frames, null);
    assert.equal(stack?.generation, 2);
  } finally {
    log.close();
  }
});
