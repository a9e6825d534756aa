// The crash-loop and boot-failure rules, driven with a clock of the test's own and a backoff
// without jitter (delayMs(n) = 2^(n-1) × 100 ms).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backoff } from '../../src/master/backoff.js';
import { CrashLedger, QUICK_CRASH_MS } from '../../src/master/crash-ledger.js';
import { KeeperCrashLedger } from '../../src/master/keeper-crash-ledger.js';

const plainBackoff: Backoff = { delayMs: (n) => (n <= 0 ? 0 : 100 * 2 ** (n - 1)) };
const error = { code: 'CORRAL_ERR_APP_LOAD', message: 'boom' };

/** A worker of the current fork batch, ready at `readyAt`. */
function worker(ledger: CrashLedger, id: number, readyAt: number) {
  return { id, readyAt, startedAt: readyAt - 50, forkBatch: ledger.forkBatch };
}

test('quick crashes of workers forked one after another escalate the backoff', () => {
  const ledger = new CrashLedger(plainBackoff);
  let now = 1000;
  const delays: number[] = [];
  for (let id = 1; id <= 4; id++) {
    ledger.newForkBatch();
    const c = worker(ledger, id, now);
    now += 1000;
    const count = ledger.crashed(c, now);
    assert.equal(count.sharedWith, undefined);
    assert.equal(count.uptime, 1000);
    delays.push(count.delay);
  }
  assert.deepEqual(delays, [100, 200, 400, 800]);
  assert.equal(ledger.quickCrashes, 4);
  assert.equal(ledger.nextSpawnAt, now + 800);
});

test('workers of earlier batches crashing together with a counted one share its step', () => {
  const ledger = new CrashLedger(plainBackoff);
  ledger.newForkBatch();
  const all = [1, 2, 3, 4].map((id) => worker(ledger, id, 1000));
  const first = ledger.crashed(all[0]!, 2000);
  assert.equal(first.sharedWith, undefined);
  for (const c of all.slice(1)) {
    const count = ledger.crashed(c, 2010);
    assert.equal(count.sharedWith, 1);
    // What is left of the first one's wait, not a wait of its own.
    assert.equal(count.delay, 90);
  }
  assert.equal(ledger.quickCrashes, 1);
  assert.equal(ledger.nextSpawnAt, 2100);
});

test('a crash more than QUICK_CRASH_MS after the counted step is a step of its own', () => {
  const ledger = new CrashLedger(plainBackoff);
  ledger.newForkBatch();
  const [a, b] = [worker(ledger, 1, 1000), worker(ledger, 2, 1000 + QUICK_CRASH_MS)];
  ledger.crashed(a, 2000);
  const count = ledger.crashed(b, 2000 + QUICK_CRASH_MS);
  assert.equal(count.sharedWith, undefined);
  assert.equal(ledger.quickCrashes, 2);
});

test('a crash after a long life eases the crash loop by one step', () => {
  const ledger = new CrashLedger(plainBackoff);
  for (let id = 1; id <= 3; id++) {
    ledger.newForkBatch();
    ledger.crashed(worker(ledger, id, id * 1000), id * 1000 + 10);
  }
  assert.equal(ledger.quickCrashes, 3);
  ledger.newForkBatch();
  const count = ledger.crashed(worker(ledger, 9, 5000), 5000 + QUICK_CRASH_MS);
  assert.equal(ledger.quickCrashes, 2);
  assert.equal(count.delay, 200);
  assert.equal(count.sharedWith, undefined);
});

test('calm resets the crash loop only 2 × QUICK_CRASH_MS after the replacement was allowed to start', () => {
  const ledger = new CrashLedger({ delayMs: () => 30_000 });
  ledger.newForkBatch();
  ledger.crashed(worker(ledger, 1, 1000), 1500);
  assert.equal(ledger.nextSpawnAt, 31_500);
  // 2 × QUICK_CRASH_MS after the crash, but the replacement could not start before 31.5 s.
  ledger.settle(1500 + 2 * QUICK_CRASH_MS + 1);
  assert.equal(ledger.quickCrashes, 1);
  ledger.settle(31_500 + 2 * QUICK_CRASH_MS);
  assert.equal(ledger.quickCrashes, 1);
  ledger.settle(31_500 + 2 * QUICK_CRASH_MS + 1);
  assert.equal(ledger.quickCrashes, 0);
});

test('failed boots count once per fork batch, and a ready resets them', () => {
  const ledger = new CrashLedger(plainBackoff);
  ledger.newForkBatch();
  for (let i = 0; i < 8; i++) ledger.bootFailed(ledger.forkBatch, error, 1000);
  assert.equal(ledger.bootFailures, 1);
  assert.equal(ledger.nextSpawnAt, 1100);
  ledger.newForkBatch();
  ledger.bootFailed(ledger.forkBatch, { code: 'X', message: 'second' }, 2000);
  assert.equal(ledger.bootFailures, 2);
  assert.equal(ledger.nextSpawnAt, 2200);
  assert.equal(ledger.lastBootError?.message, 'second');
  // A worker of an old batch failing late is part of that attempt.
  ledger.bootFailed(1, error, 3000);
  assert.equal(ledger.bootFailures, 2);
  ledger.workerReady();
  assert.equal(ledger.bootFailures, 0);
});

test('a new generation starts without the boot backoff but keeps the crash loop', () => {
  const ledger = new CrashLedger(plainBackoff);
  ledger.newForkBatch();
  ledger.crashed(worker(ledger, 1, 1000), 1200);
  ledger.bootFailed(ledger.forkBatch, error, 1300);
  ledger.clearBootBackoff();
  assert.equal(ledger.bootFailures, 0);
  assert.equal(ledger.nextSpawnAt, 0);
  assert.equal(ledger.quickCrashes, 1);
});

test('keeper: quick crashes after ready outlast the failure count a ready resets', () => {
  const keeper = new KeeperCrashLedger(plainBackoff);
  const delays: number[] = [];
  let now = 1000;
  for (let i = 0; i < 3; i++) {
    keeper.ready();
    delays.push(keeper.exited(now, error, now + 500));
    now += 1000;
  }
  assert.equal(keeper.failures, 1);
  assert.equal(keeper.quickCrashes, 3);
  assert.deepEqual(delays, [100, 200, 400]);
  assert.equal(keeper.nextSpawnAt, now - 1000 + 500 + 400);
  // One that lived longer starts the count again.
  keeper.ready();
  assert.equal(keeper.exited(now, error, now + QUICK_CRASH_MS), 100);
  assert.equal(keeper.quickCrashes, 0);
});

test('keeper: failures before any ready escalate, and new settings start the count again', () => {
  const keeper = new KeeperCrashLedger(plainBackoff);
  keeper.exited(undefined, error, 0);
  keeper.exited(undefined, { code: 'K', message: 'no credentials' }, 0);
  assert.equal(keeper.failures, 2);
  assert.equal(keeper.nextSpawnAt, 200);
  assert.equal(keeper.lastKeeperError?.message, 'no credentials');
  keeper.restarting();
  assert.equal(keeper.failures, 0);
  keeper.spawnNow();
  assert.equal(keeper.nextSpawnAt, 0);
});

test('keeper: one that failed before its exit (killed as stuck CORRAL_TIMEOUT after its last beat) is a quick crash by when it failed', () => {
  const keeper = new KeeperCrashLedger(plainBackoff);
  const delays: number[] = [];
  let now = 1000;
  for (let i = 0; i < 3; i++) {
    keeper.ready();
    // Silent a second after its ready, killed 30 s later.
    delays.push(keeper.exited(now, error, now + 31_000, now + 1000));
    now += 40_000;
  }
  assert.equal(keeper.quickCrashes, 3);
  assert.deepEqual(delays, [100, 200, 400]);
  // Its backoff is counted from the kill, when it is gone.
  assert.equal(keeper.nextSpawnAt, now - 40_000 + 31_000 + 400);
  // Silent only after a long life: the count starts again.
  keeper.ready();
  assert.equal(keeper.exited(now, error, now + QUICK_CRASH_MS + 30_000, now + QUICK_CRASH_MS), 100);
  assert.equal(keeper.quickCrashes, 0);
});
