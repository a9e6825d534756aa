// A keeper replaying a large journal (audit F3): its boot beats carry the bytes read, the master
// counts its boot deadline from their last advance, and whatever it kills or sees die is said in
// the keeper's words (its journal, CORRAL_TIMEOUT, SHEETS_JOURNAL_MAX_MB, the heap), not the app's.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accountExit } from '../../src/master/child-exits.js';
import { applyChildMessage } from '../../src/master/child-messages.js';
import { ChildKiller } from '../../src/master/child-killer.js';
import { CrashLedger } from '../../src/master/crash-ledger.js';
import { KeeperCrashLedger } from '../../src/master/keeper-crash-ledger.js';
import { newChildRecord, type ChildRecord } from '../../src/master/registry.js';
import { BOOT_TIMEOUT_FLOOR_MS, judgeChild } from '../../src/master/stuck-judgement.js';
import type { ChildFigures } from '../../src/ipc/messages.js';
import { captureLogger } from '../fixtures/capture-logger.js';

const NOW = 5_000_000;
const TIMEOUT_MS = 30_000;
const MIB = 1048576;

/** A keeper that has beaten (the master has read at least one beat of it), unless `over` says otherwise. */
function keeper(over: Partial<ChildRecord> = {}): ChildRecord & { killed: string[] } {
  const killed: string[] = [];
  const c = newChildRecord({ id: 0, slot: 0, role: 'keeper', generation: 1, handle: { pid: 4242, send: () => true, kill: (s?: NodeJS.Signals | number) => void killed.push(String(s)) }, startedAt: NOW, forkBatch: 1, beatIntervalMs: 1000 });
  return Object.assign(c, { beaten: true }, over, { killed });
}

const figures = (over: Partial<ChildFigures> = {}): ChildFigures => ({
  rssBytes: 900 * MIB,
  heapUsedBytes: 700 * MIB,
  heapTotalBytes: 800 * MIB,
  eventLoopLagMs: 80,
  activeConnections: 0,
  requestsServed: 0,
  errorsServed: 0,
  latencyP99Ms: 0,
  ...over,
});

test('a booting keeper whose journal replay advances is not killed at the boot deadline; one that stops advancing is, a deadline after its last advance', () => {
  const c = keeper();
  let now = NOW;
  // 90 s of replay, a chunk read every second: beyond BOOT_TIMEOUT_FLOOR_MS since the start.
  for (let s = 1; s <= 90; s++) {
    now = NOW + s * 1000;
    applyChildMessage(c, { type: 'heartbeat', figures: figures({ bootProgress: s * 4 * MIB, extra: { journalBytes: 600 * MIB } }) }, now, 0);
    assert.equal(judgeChild(c, now, TIMEOUT_MS).kind, 'none', `at ${s} s`);
  }
  assert.equal(c.bootProgressAt, now);
  // Beats go on, but the bytes read stop growing (a boot that hangs after its replay).
  const stalledFrom = now;
  for (let s = 1; s <= BOOT_TIMEOUT_FLOOR_MS / 1000; s++) {
    now = stalledFrom + s * 1000;
    applyChildMessage(c, { type: 'heartbeat', figures: figures({ bootProgress: 360 * MIB, extra: { journalBytes: 600 * MIB } }) }, now, 0);
  }
  assert.equal(judgeChild(c, now, TIMEOUT_MS).kind, 'none');
  assert.deepEqual(judgeChild(c, now + 1, TIMEOUT_MS), { kind: 'boot-timeout', bootMs: now + 1 - NOW });
  // A worker's beats carry no progress: its deadline still counts from its start.
  const w = { ...keeper(), role: 'worker' as const };
  applyChildMessage(w, { type: 'heartbeat', figures: figures() }, NOW + BOOT_TIMEOUT_FLOOR_MS + 1, 0);
  assert.equal(judgeChild(w, NOW + BOOT_TIMEOUT_FLOOR_MS + 1, TIMEOUT_MS).kind, 'boot-timeout');
});

test("a keeper killed as silent while booting is said to be replaying its journal, with its size and how to fix it, not to be an app's import", async () => {
  const log = await captureLogger('worker');
  try {
    const killer = new ChildKiller({ log: log.logger, now: () => NOW + 31_000, stuckStacks: () => false, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const c = keeper({ figures: figures({ bootProgress: 120 * MIB, extra: { journalBytes: 648 * MIB } }), lastBeatAt: NOW });
    killer.murder([c], TIMEOUT_MS);
    assert.deepEqual(c.killed, ['SIGKILL']);
    assert.equal(c.bootError?.code, 'CORRAL_ERR_WORKER_TIMEOUT');
    const message = c.bootError?.message ?? '';
    assert.match(message, /^keeper silent for 31 s while booting \(replaying its write journal of 648 MiB, 120 MiB read\)/);
    assert.match(message, /raise CORRAL_TIMEOUT/);
    assert.match(message, /SHEETS_JOURNAL_MAX_MB/);
    assert.doesNotMatch(message, /createApp|the app/);
    // Before its first boot beat told the size.
    const early = keeper({ lastBeatAt: NOW });
    killer.murder([early], TIMEOUT_MS);
    assert.match(early.bootError?.message ?? '', /its size not reported yet/);
  } finally {
    log.close();
  }
});

test('a keeper beating but not advancing past the boot deadline is a keeper boot error in its own words', async () => {
  const log = await captureLogger('worker');
  try {
    const now = NOW + BOOT_TIMEOUT_FLOOR_MS + 10_000;
    const killer = new ChildKiller({ log: log.logger, now: () => now, stuckStacks: () => false, taskRefusals: () => () => false, reloadingTo: () => undefined });
    const c = keeper({ figures: figures({ bootProgress: 300 * MIB, extra: { journalBytes: 300 * MIB } }), lastBeatAt: now, bootProgressAt: NOW + 5000 });
    killer.murder([c], TIMEOUT_MS);
    assert.deepEqual(c.killed, ['SIGKILL']);
    assert.equal(c.bootError?.code, 'CORRAL_ERR_KEEPER_BOOT');
    assert.match(c.bootError?.message ?? '', /^keeper not ready after 70 s, its boot not advancing for 65 s \(its write journal of 300 MiB read, replaying and rewriting it\)/);
    assert.doesNotMatch(c.bootError?.message ?? '', /createApp/);
  } finally {
    log.close();
  }
});

test('a keeper that exits by SIGABRT is said to have likely run out of heap, with how to raise it or lower the backlog cap', async () => {
  const log = await captureLogger('worker');
  try {
    const accounts = { crashes: new CrashLedger({ delayMs: () => 0 }), keeperCrashes: new KeeperCrashLedger({ delayMs: () => 0 }), log: log.logger };
    const c = keeper({ state: 'ready', readyAt: NOW, figures: figures({ heapUsedBytes: 4000 * MIB, extra: { journalBytes: 2020 * MIB } }) });
    accountExit({ record: c, code: null, signal: 'SIGABRT' }, NOW + 1000, accounts);
    accountExit({ record: keeper({ state: 'ready', readyAt: NOW }), code: null, signal: 'SIGKILL' }, NOW + 2000, accounts);
    const [abort, kill] = log.lines().filter((l) => l.event === 'keeper.exit');
    assert.equal(abort?.likely, 'out_of_heap');
    assert.match(String(abort?.msg), /^keeper exited unexpectedly \(code null, signal SIGABRT\): likely out of heap memory \(V8's "Reached heap limit" goes to stderr only, 4000 MiB of heap in use at its last heartbeat, its journal 2020 MiB\)/);
    assert.match(String(abort?.msg), /NODE_OPTIONS=--max-old-space-size=<MiB>/);
    assert.match(String(abort?.msg), /lower SHEETS_JOURNAL_MAX_MB/);
    assert.equal(kill?.likely, undefined);
    assert.equal(kill?.msg, "keeper exited unexpectedly (code null, signal SIGKILL) (SIGKILL is commonly sent by the kernel's OOM killer (see dmesg) or an operator (kill -9)); restarting");
  } finally {
    log.close();
  }
});

test("a keeper that never beat since its fork (node and its modules still loading) has the boot timeout, not CORRAL_TIMEOUT, and is then said never to have beaten, not to be replaying its journal", async () => {
  const log = await captureLogger('worker');
  try {
    const c = keeper({ beaten: false, lastBeatAt: NOW });
    // Past CORRAL_TIMEOUT, no refusal at the task limit: not killed.
    const early = new ChildKiller({ log: log.logger, now: () => NOW + TIMEOUT_MS + 1000, stuckStacks: () => false, taskRefusals: () => () => false, reloadingTo: () => undefined });
    early.murder([c], TIMEOUT_MS);
    assert.deepEqual(c.killed, []);
    assert.equal(c.state, 'booting');
    const late = new ChildKiller({ log: log.logger, now: () => NOW + BOOT_TIMEOUT_FLOOR_MS + 1000, stuckStacks: () => false, taskRefusals: () => () => false, reloadingTo: () => undefined });
    late.murder([c], TIMEOUT_MS);
    assert.deepEqual(c.killed, ['SIGKILL']);
    assert.match(c.bootError?.message ?? '', /^no beat in 61 s since it was forked \(/);
    assert.doesNotMatch(c.bootError?.message ?? '', /journal/);
    const line = log.lines().find((l) => l.event === 'keeper.timeout');
    assert.equal(line?.never_beat, true);
    assert.match(String(line?.msg), /^keeper 0 \(pid 4242\) has not beaten once in 61 s since it was forked, past the boot timeout/);
  } finally {
    log.close();
  }
});
