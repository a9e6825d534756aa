// What each kind of child exit counts and says, with real crash ledgers and a backoff without jitter.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXIT } from '../../src/errors.js';
import type { Backoff } from '../../src/master/backoff.js';
import { accountExit, addServed, noneServed, bootErrorOfExit } from '../../src/master/child-exits.js';
import { CrashLedger } from '../../src/master/crash-ledger.js';
import { ExitTally } from '../../src/master/exit-reasons.js';
import { KeeperCrashLedger } from '../../src/master/keeper-crash-ledger.js';
import { newChildRecord, type ChildRecord } from '../../src/master/registry.js';
import { captureLogger } from '../fixtures/capture-logger.js';

const plainBackoff: Backoff = { delayMs: (n) => (n <= 0 ? 0 : 100 * 2 ** (n - 1)) };
const NOW = 2_000_000;

function record(over: Partial<ChildRecord> = {}): ChildRecord {
  const forked = newChildRecord({ id: 4, slot: 4, role: 'worker', generation: 1, handle: { pid: 900, send: () => true, kill() {} }, startedAt: NOW - 3000, forkBatch: 1, beatIntervalMs: 1000 });
  return { ...forked, state: 'ready', readyAt: NOW - 2000, lastBeatAt: NOW, ...over };
}

async function setup() {
  const log = await captureLogger('worker');
  const [crashes, keeperCrashes] = [new CrashLedger(plainBackoff), new KeeperCrashLedger(plainBackoff)];
  return { log, accounts: { crashes, keeperCrashes, log: log.logger }, crashes, keeperCrashes };
}

test('an exit the master asked for is said and counts nothing', async () => {
  const { log, accounts, crashes } = await setup();
  try {
    accountExit({ record: record({ stopReason: 'shutdown' }), code: 0, signal: null }, NOW, accounts);
    const line = log.lines().find((l) => l.event === 'worker.exit');
    assert.equal(line?.msg, 'worker 4 exited (shutdown)');
    assert.equal(line?.level, 'info');
    assert.deepEqual([line?.exit_code, line?.code], [0, undefined], 'the exit code as exit_code; no error code on an expected exit');
    assert.equal(crashes.quickCrashes, 0);
    assert.equal(crashes.nextSpawnAt, 0);
  } finally {
    log.close();
  }
});

test('a worker exiting before ready is a failed boot; an app that cannot load says it cannot boot', async () => {
  const { log, accounts, crashes } = await setup();
  try {
    accountExit({ record: record({ readyAt: undefined }), code: 1, signal: null }, NOW, accounts);
    accountExit({ record: record({ readyAt: undefined, forkBatch: 2, bootError: { code: 'CORRAL_ERR_APP_LOAD', message: 'no createApp' } }), code: EXIT.APP_LOAD_ERROR, signal: null }, NOW, accounts);
    const lines = log.lines().filter((l) => l.event === 'worker.boot_failed');
    assert.deepEqual(
      lines.map((l) => [l.msg, l.failures, l.code, l.exit_code]),
      [
        ['worker 4 failed to boot: worker exited with code 1 before it was ready, not with a boot-failure code (the app or a library called process.exit?)', 1, 'CORRAL_ERR_WORKER_DIED', 1],
        ['worker 4 cannot boot: no createApp', 2, 'CORRAL_ERR_APP_LOAD', EXIT.APP_LOAD_ERROR],
      ],
    );
    assert.equal(crashes.bootFailures, 2);
    assert.equal(crashes.lastBootError?.message, 'no createApp');
  } finally {
    log.close();
  }
});

test('a booting worker killed by a signal is no app-load error: its own code, the signal and who commonly sends it', async () => {
  const { log, accounts, crashes } = await setup();
  try {
    accountExit({ record: record({ readyAt: undefined, state: 'booting' }), code: null, signal: 'SIGKILL' }, NOW, accounts);
    const line = log.lines().find((l) => l.event === 'worker.boot_failed');
    const bootError = line?.boot_error as { code: string; message: string } | undefined;
    assert.equal(bootError?.code, 'CORRAL_ERR_WORKER_DIED');
    assert.match(bootError?.message ?? '', /killed by signal SIGKILL before it was ready.*OOM killer.*operator/);
    assert.equal(line?.msg, `worker 4 failed to boot: ${bootError?.message}`);
    // What reload.failed and boot.exhausted report is this error, not an app-load one.
    assert.equal(crashes.lastBootError?.code, 'CORRAL_ERR_WORKER_DIED');
    assert.equal(crashes.bootFailures, 1);
  } finally {
    log.close();
  }
});

test('a booting worker that exits without saying why is named by its exit code', () => {
  assert.equal(bootErrorOfExit(EXIT.APP_LOAD_ERROR, null).code, 'CORRAL_ERR_APP_LOAD');
  assert.equal(bootErrorOfExit(EXIT.LISTEN_ERROR, null).code, 'CORRAL_ERR_LISTEN');
  assert.equal(bootErrorOfExit(EXIT.CONFIG, null).code, 'CORRAL_ERR_CONFIG_INVALID');
  assert.equal(bootErrorOfExit(1, null).code, 'CORRAL_ERR_WORKER_DIED');
  assert.equal(bootErrorOfExit(0, null).code, 'CORRAL_ERR_WORKER_DIED');
  assert.match(bootErrorOfExit(null, 'SIGTERM').message, /signal SIGTERM.*operator/);
  assert.match(bootErrorOfExit(null, 'SIGABRT').message, /out of heap memory/);
  assert.match(bootErrorOfExit(null, 'SIGUSR2').message, /another process/);
});

test('a worker crash after ready is counted once, even when its uncaught exception already was', async () => {
  const { log, accounts, crashes } = await setup();
  try {
    accountExit({ record: record({ crashCounted: true, uncaught: 'TypeError: rows is undefined' }), code: 1, signal: null }, NOW, accounts);
    assert.equal(crashes.quickCrashes, 0);
    accountExit({ record: record(), code: null, signal: 'SIGKILL' }, NOW, accounts);
    assert.equal(crashes.quickCrashes, 1);
    const lines = log.lines().filter((l) => l.event === 'worker.exit');
    assert.equal(lines[0]?.msg, 'worker 4 (pid 900) exited after an uncaught exception (TypeError: rows is undefined) (code 1, signal null)');
    assert.equal(lines[0]?.error, 'TypeError: rows is undefined');
    assert.equal(lines[1]?.msg, "worker 4 (pid 900) died unexpectedly (code null, signal SIGKILL) (SIGKILL is commonly sent by the kernel's OOM killer (see dmesg) or an operator (kill -9)); replacing");
    assert.equal(lines[1]?.respawn_in_ms, 100);
    assert.equal(lines[1]?.crash_counted, true);
    assert.deepEqual(lines.map((l) => [l.level, l.code, l.exit_code, l.signal]), [['error', 'CORRAL_ERR_UNCAUGHT', 1, null], ['error', 'CORRAL_ERR_WORKER_DIED', null, 'SIGKILL']]);
  } finally {
    log.close();
  }
});

test('a worker drained for its uncaught exception exits saying what was thrown', async () => {
  const { log, accounts } = await setup();
  try {
    accountExit({ record: record({ crashCounted: true, uncaught: 'RangeError: bad page', stopReason: 'uncaught', drainDeadline: NOW + 1000 }), code: 0, signal: null }, NOW, accounts);
    const line = log.lines().find((l) => l.event === 'worker.exit');
    assert.equal(line?.msg, 'worker 4 exited (uncaught: RangeError: bad page)');
    assert.equal(line?.error, 'RangeError: bad page');
    assert.equal(line?.level, 'info');
  } finally {
    log.close();
  }
});

test('a keeper that left its journal to the keeper that took its lock is said as such, and restarted', async () => {
  const { log, accounts, keeperCrashes } = await setup();
  try {
    accountExit({ record: record({ id: 0, role: 'keeper' }), code: EXIT.KEEPER_LOCK_TAKEN, signal: null }, NOW, accounts);
    assert.equal(keeperCrashes.failures, 1, 'restarted with the keeper backoff');
    const line = log.lines().find((l) => l.event === 'keeper.exit');
    assert.deepEqual([line?.level, line?.code, line?.exit_code, line?.reason], ['error', 'CORRAL_ERR_KEEPER_FILES_REMOVED', 8, 'lock_taken']);
    assert.match(String(line?.msg), /^keeper exited \(code 8\): another keeper took the data dir's lock while it ran \(keeper\.lock_taken\).*restarting it in \d+ ms, and it waits for the lock/);
  } finally {
    log.close();
  }
});

test("the keeper's crash goes to its own ledger", async () => {
  const { log, accounts, crashes, keeperCrashes } = await setup();
  try {
    accountExit({ record: record({ id: 0, role: 'keeper' }), code: 1, signal: null }, NOW, accounts);
    assert.equal(keeperCrashes.failures, 1);
    assert.equal(keeperCrashes.lastKeeperError?.code, 'CORRAL_ERR_KEEPER_UNAVAILABLE');
    assert.equal(crashes.quickCrashes, 0);
    const line = log.lines().find((l) => l.event === 'keeper.exit');
    assert.equal(line?.msg, 'keeper exited unexpectedly (code 1, signal null); restarting');
    assert.deepEqual([line?.level, line?.code, line?.exit_code], ['error', 'CORRAL_ERR_KEEPER_DIED', 1]);
    // One that said why it could not start (keeper.boot_failed) is not said to exit unexpectedly.
    const booting = record({ id: 1, role: 'keeper', state: 'booting', readyAt: undefined });
    booting.bootError = { code: 'CORRAL_ERR_JOURNAL_UNWRITABLE', message: 'cannot write the keeper lock /d/keeper.lock: ENOSPC; free space in /d' };
    accountExit({ record: booting, code: 7, signal: null }, NOW, accounts);
    const said = log.lines().filter((l) => l.event === 'keeper.exit').at(-1);
    assert.match(String(said?.msg), /^keeper could not start \(code 7\): cannot write the keeper lock \/d\/keeper\.lock: ENOSPC; free space in \/d; restarting it in \d+ ms$/);
    assert.equal(said?.code, 'CORRAL_ERR_JOURNAL_UNWRITABLE');
  } finally {
    log.close();
  }
});

test('a serving keeper killed as stuck is counted as a crash, by when it went silent, and said so', async () => {
  const { log, accounts, crashes, keeperCrashes } = await setup();
  try {
    // Ready at NOW - 8 s, silent from NOW - 6.5 s, killed at NOW (CORRAL_TIMEOUT 5 s and a tick).
    const stuck = record({ id: 0, role: 'keeper', state: 'killing', stopReason: 'timeout', readyAt: NOW - 8000, lastBeatAt: NOW - 6500 });
    accountExit({ record: stuck, code: null, signal: 'SIGKILL' }, NOW, accounts);
    assert.deepEqual([keeperCrashes.failures, keeperCrashes.quickCrashes, keeperCrashes.nextSpawnAt], [1, 1, NOW + 100]);
    assert.deepEqual(keeperCrashes.lastKeeperError, { code: 'CORRAL_ERR_WORKER_TIMEOUT', message: 'keeper stopped beating 1.5 s after it was ready, and was killed as stuck at CORRAL_TIMEOUT' });
    assert.equal(crashes.quickCrashes, 0, "not the workers' ledger");
    const line = log.lines().find((l) => l.event === 'keeper.exit');
    assert.deepEqual(
      [line?.level, line?.code, line?.reason, line?.signal, line?.crash_loop, line?.respawn_in_ms],
      ['error', 'CORRAL_ERR_WORKER_TIMEOUT', 'timeout', 'SIGKILL', 1, 100],
    );
    assert.equal(line?.msg, 'keeper 0 (pid 900) was killed as stuck, silent past CORRAL_TIMEOUT from 1.5 s after it was ready (keeper.timeout); restarting it in 100 ms');
  } finally {
    log.close();
  }
});

test('a keeper killed as stuck on its way out (drained, or sent SIGTERM booting), or while the master stops, counts for no backoff', async () => {
  const { log, accounts, keeperCrashes } = await setup();
  try {
    const drained = record({ id: 0, role: 'keeper', state: 'killing', stopReason: 'timeout', drainDeadline: NOW + 3000 });
    accountExit({ record: drained, code: null, signal: 'SIGKILL' }, NOW, accounts);
    const termedBooting = record({ id: 1, role: 'keeper', state: 'killing', stopReason: 'timeout', readyAt: undefined });
    accountExit({ record: termedBooting, code: null, signal: 'SIGKILL' }, NOW, accounts);
    const atStop = record({ id: 2, role: 'keeper', state: 'killing', stopReason: 'timeout' });
    accountExit({ record: atStop, code: null, signal: 'SIGKILL' }, NOW, { ...accounts, stopping: true });
    assert.deepEqual([keeperCrashes.failures, keeperCrashes.nextSpawnAt], [0, 0]);
    const lines = log.lines().filter((l) => l.event === 'keeper.exit');
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        ['info', 'keeper 0 exited (timeout)'],
        ['info', 'keeper 1 exited (timeout)'],
        ['info', 'keeper 2 exited (timeout)'],
      ],
    );
  } finally {
    log.close();
  }
});

test('a keeper that exits unasked while the master stops is not said to be restarting, nor counted for a backoff', async () => {
  const { log, accounts, keeperCrashes } = await setup();
  try {
    accountExit({ record: record({ id: 0, role: 'keeper' }), code: null, signal: 'SIGKILL' }, NOW, { ...accounts, stopping: true });
    assert.equal(keeperCrashes.failures, 0);
    const line = log.lines().find((l) => l.event === 'keeper.exit');
    assert.equal(line?.msg, "keeper exited unexpectedly (code null, signal SIGKILL) (SIGKILL is commonly sent by the kernel's OOM killer (see dmesg) or an operator (kill -9)) while the master is stopping; not restarted (journaled rows it had not sent stay in the journal for the next start)");
    assert.deepEqual([line?.level, line?.code, line?.respawn_in_ms], ['error', 'CORRAL_ERR_KEEPER_DIED', null]);
  } finally {
    log.close();
  }
});

test("a keeper killed by the group's Ctrl-C while node was starting it, during the stop that Ctrl-C began, is said as part of the stop; once ready, or by another signal, it is the error", async () => {
  const { log, accounts, keeperCrashes } = await setup();
  try {
    const starting = { id: 0, role: 'keeper' as const, state: 'booting' as const, readyAt: undefined };
    accountExit({ record: record(starting), code: null, signal: 'SIGINT' }, NOW, { ...accounts, stopping: true });
    accountExit({ record: record({ id: 0, role: 'keeper' }), code: null, signal: 'SIGINT' }, NOW, { ...accounts, stopping: true });
    accountExit({ record: record(starting), code: null, signal: 'SIGKILL' }, NOW, { ...accounts, stopping: true });
    const lines = log.lines().filter((l) => l.event === 'keeper.exit');
    assert.deepEqual(
      lines.map((l) => [l.level, l.reason, l.code, l.before_start]),
      [
        ['info', 'shutdown', undefined, true],
        ['error', null, 'CORRAL_ERR_KEEPER_DIED', undefined],
        ['error', null, 'CORRAL_ERR_KEEPER_DIED', undefined],
      ],
    );
    assert.equal(lines[0]?.msg, 'keeper 0 exited (shutdown: the SIGINT sent to the process group reached it while node was starting)');
    assert.equal(keeperCrashes.failures, 0);
  } finally {
    log.close();
  }
});

test("an exited worker's served figures are kept in the totals; the keeper's are not, but its and the workers' Sheets counts are (upstream calls included, for corral_sheets_upstream_calls_total)", () => {
  const totals = noneServed();
  totals.requests = 1;
  const figures = { rssBytes: 0, heapUsedBytes: 0, heapTotalBytes: 0, eventLoopLagMs: 0, activeConnections: 0, requestsServed: 10, errorsServed: 2, latencyP99Ms: 0, connectionsRefused: 3, idleConnectionsClosed: 4 };
  addServed(totals, record({ figures: { ...figures, extra: { l1Hits: 900, l1Misses: 5, l1StaleFallbacks: 1, l1StaleHits: 6 } } }));
  addServed(totals, record({ role: 'keeper', figures: { ...figures, extra: { cacheHits: 4, cacheMisses: 1, cacheStaleHits: 2, upstreamCallsTotal: 7 } } }));
  assert.deepEqual(totals, { requests: 11, errors: 2, refused: 3, idleClosed: 4, sheets: { cacheHits: 4, cacheMisses: 1, cacheStaleHits: 2, l1Hits: 900, l1Misses: 5, l1StaleFallbacks: 1, l1StaleHits: 6, upstreamCallsTotal: 7, journalAppendsRefused: 0, sharedReads: 0, aloneQuotaGrants: 0 } });
});

test("a worker of the outgoing generation that dies during a reload is not said to be replaced: the reload's generation brings its successor", async () => {
  const { log, accounts } = await setup();
  try {
    accountExit({ record: record({ generation: 3 }), code: null, signal: 'SIGKILL' }, NOW, { ...accounts, reloadingTo: 4 });
    accountExit({ record: record({ generation: 4 }), code: null, signal: 'SIGKILL' }, NOW + 60_000, { ...accounts, reloadingTo: 4 });
    const [old, current] = log.lines().filter((l) => l.event === 'worker.exit');
    assert.match(String(old?.msg), /; not replaced: the reload to generation 4 brings its successor, ready when that generation's workers are \(a reload whose boots fail goes back to this generation's settings, which fork it again\)$/);
    assert.equal(old?.respawn_in_ms, null);
    assert.equal(old?.replaced_by_reload, 4);
    assert.match(String(current?.msg), /; replacing$/, "one of the reload's own generation is replaced");
    assert.equal(current?.replaced_by_reload, undefined);
  } finally {
    log.close();
  }
});

test('a serving worker that exits 0 unasked without draining is said to have called process.exit, not to have been sent SIGTERM', async () => {
  const { log, accounts } = await setup();
  try {
    // A SIGTERM sent to the worker itself: it drains, says 'drained', then exits 0.
    accountExit({ record: record({ drainedReported: true }), code: 0, signal: null }, NOW, accounts);
    // The app (or a library) calls process.exit(0) in a handler: no drain, no 'drained'.
    accountExit({ record: record({ id: 5 }), code: 0, signal: null }, NOW + 60_000, accounts);
    const [term, exited] = log.lines().filter((l) => l.event === 'worker.exit');
    assert.match(String(term?.msg), /a SIGTERM sent to the worker itself/);
    assert.doesNotMatch(String(exited?.msg), /SIGTERM/);
    assert.match(String(exited?.msg), /process\.exit/);
  } finally {
    log.close();
  }
});

test('a worker killed by a signal nobody in corral sent while it drained (kill -9, the OOM killer) is said as a death that cut its requests, and counted as died', async () => {
  const { log, accounts, crashes } = await setup();
  try {
    // Recycled for memory, draining its requests, then SIGKILLed from outside: the likeliest OOM victim.
    const killed = record({ state: 'draining', stopReason: 'memory', drainDeadline: NOW + 30_000 });
    accountExit({ record: killed, code: null, signal: 'SIGKILL' }, NOW, accounts);
    const line = log.lines().find((l) => l.event === 'worker.exit');
    assert.equal(line?.level, 'error');
    assert.equal(line?.code, 'CORRAL_ERR_WORKER_DIED');
    assert.equal(line?.reason, 'memory');
    assert.match(String(line?.msg), /^worker 4 \(pid 900\) died while draining \(memory\), signal SIGKILL \(SIGKILL is commonly sent by the kernel's OOM killer \(see dmesg\) or an operator \(kill -9\)\): any request it still held was cut$/);
    assert.equal(crashes.quickCrashes, 0, 'on its way out: no crash of the loop');
    const tally = new ExitTally();
    tally.count(killed, 'SIGKILL');
    assert.deepEqual(tally.snapshot(), { worker: { died: 1 }, keeper: {} });
    assert.deepEqual(tally.signalDeaths(), { worker: { SIGKILL: 1 }, keeper: {} });
    // Ended as a drain is (SIGTERM: the master's own when its drain order could not be sent), or
    // after it reported drained (nothing left to cut): its stop's reason, as before.
    for (const [over, signal] of [[{}, 'SIGTERM'], [{ drainedReported: true }, 'SIGKILL']] as const) {
      const calm = record({ state: 'draining', stopReason: 'max-requests', drainDeadline: NOW + 30_000, ...over });
      accountExit({ record: calm, code: null, signal }, NOW, accounts);
      const said = log.lines().filter((l) => l.event === 'worker.exit').at(-1);
      assert.deepEqual([said?.level, said?.msg], ['info', 'worker 4 exited (max-requests)']);
      const t = new ExitTally();
      t.count(calm, signal);
      assert.deepEqual(t.snapshot(), { worker: { max_requests: 1 }, keeper: {} });
    }
  } finally {
    log.close();
  }
});
