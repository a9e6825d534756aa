// The arbiter's tick driven by hand: a fake spawner stands in for fork(), a fake clock for time.

import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ChildMessage } from '../../src/ipc/messages.js';
import { startMonitoring } from '../../src/master/admin/monitoring.js';
import { startAdminServer } from '../../src/master/admin/server.js';
import { masterPauseMs, masterStallKillsMs, type Intent } from '../../src/master/arbiter.js';
import { DeathCauses } from '../../src/master/death-causes.js';
import { BOOT_TIMEOUT_FLOOR_MS } from '../../src/master/stuck-judgement.js';
import { KEEPER_STOP_MS } from '../../src/master/stop-sequence.js';
import { KEEPER_CRASH_BOOT_WAIT_MS, KEEPER_RESTART_DRAIN_MS, KEEPER_RESTART_WAIT_MS } from '../../src/master/keeper-wait.js';
import type { AdminView } from '../../src/master/admin/view.js';
import type { Notifier } from '../../src/master/notify.js';
import { tasksNeeded } from '../../src/task-limit.js';
import { beatAll, ready, setup, type FakeChild } from '../helpers/arbiter-harness.js';

test('workers going over CORRAL_MAX_WORKER_MEMORY_MB one after another within a minute of their ready: the limit is said to be too low, once', async () => {
  const t = await setup({ CORRAL_WORKERS: '3', CORRAL_MAX_WORKER_MEMORY_MB: '256' });
  try {
    t.bootAll();
    t.advance(5000);
    for (const c of t.children) c.say({ type: 'heartbeat', figures: { rssBytes: 300 * 1048576, heapUsedBytes: 1, heapTotalBytes: 1, eventLoopLagMs: 0, activeConnections: 0, requestsServed: 20, errorsServed: 0, latencyP99Ms: 0 } });
    t.arbiter.tick();
    const events = (name: string) => t.log.lines().filter((l) => l.event === name);
    assert.equal(events('worker.memory_limit').length, 3);
    // Named by generation too, as the master's other lines about a child are (README, Logs).
    for (const l of [...events('worker.memory_limit'), ...events('worker.memory_limit_churn')]) assert.equal(l.generation, 1, `${String(l.event)} without generation`);
    const churn = events('worker.memory_limit_churn');
    assert.equal(churn.length, 1);
    assert.deepEqual([churn[0]?.level, churn[0]?.code, churn[0]?.limit_mb, churn[0]?.rss_mb, churn[0]?.in_a_row], ['error', 'CORRAL_ERR_CONFIG_INVALID', 256, 300, 3]);
    assert.match(String(churn[0]?.msg), /CORRAL_MAX_WORKER_MEMORY_MB=256 is below what a worker weighs once it serves: 3 workers in a row went over it within a minute of their ready .* \(e\.g\. 512\) and reload$/);
  } finally {
    t.log.close();
  }
});

test('a worker whose loop blocked right after refusing connections does not hold the host FULL: its last interval is long over', async () => {
  // Its last beat's refusals stayed in the capacity until CORRAL_TIMEOUT replaced it: FULL,
  // can_accept_new false and the 100 % alert held while the other worker served with room.
  const t = await setup({ CORRAL_WORKERS: '2', CORRAL_TIMEOUT: '30', CORRAL_WORKER_CONNECTIONS: '10' });
  try {
    t.bootAll();
    const [stuck, serving] = t.children as [FakeChild, FakeChild];
    const beat = (c: FakeChild, f: Record<string, number>) =>
      c.say({ type: 'heartbeat', figures: { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1, eventLoopLagMs: 0, activeConnections: 0, requestsServed: 0, errorsServed: 0, latencyP99Ms: 0, ...f } });
    beat(stuck, { activeConnections: 3, idleConnections: 0, peakBusyConnections: 10, connectionsRefusedInInterval: 4 });
    beat(serving, { activeConnections: 1, idleConnections: 0, peakBusyConnections: 1 });
    t.arbiter.tick();
    assert.equal(t.arbiter.capacity().status, 'FULL', 'refusals in the interval that just ended: FULL');
    // Its loop blocks: silent for over three beats (1 s each at CORRAL_TIMEOUT 30); the other beats on.
    t.run(3500, [serving]);
    const c = t.arbiter.capacity();
    assert.deepEqual([c.status, c.can_accept_new, c.refused_last_interval, c.peak_busy_connections, c.current_connections], ['LOW', true, 0, 3, 3]);
    assert.match(t.arbiter.statusLine(), /^1\/2 workers ready, generation 1, capacity LOW \(3\/20 busy, 0 idle\)$/);
  } finally {
    t.log.close();
  }
});

/** The worker count the admin API answers: settled first, as the admin server does. */
const settledExpected = (view: AdminView) => {
  view.settle();
  return view.expectedWorkers();
};

/**
 * Every worker booting fails with what `report` says for its attempt (counted from 1), a minute
 * passing between rounds (past any backoff), until the master exits (ten rounds at most).
 */
function failBootsUntilExit(t: Awaited<ReturnType<typeof setup>>, report: (attempt: number) => ChildMessage): void {
  let attempt = 0;
  for (let i = 0; i < 10 && t.exits.length === 0; i++) {
    for (const c of t.children) {
      if (!c.kills.length && !c.exited) {
        c.say(report(++attempt));
        c.exit(4);
      }
    }
    t.advance(60_000);
    t.arbiter.tick();
  }
}

test('boot: the tick forks the configured workers; READY is sent once all of them listen', async () => {
  const t = await setup();
  try {
    t.arbiter.tick();
    assert.equal(t.children.length, 2);
    ready(t.children[0]!);
    t.arbiter.tick();
    assert.ok(!t.calls.some((c) => c.startsWith('ready')));
    ready(t.children[1]!);
    t.arbiter.tick();
    assert.equal(t.calls.filter((c) => c.startsWith('ready')).length, 1);
    assert.match(t.calls.find((c) => c.startsWith('ready')) ?? '', /2\/2 workers ready/);
    t.arbiter.tick();
    assert.equal(t.children.length, 2, 'no extra forks once the count is met');
  } finally {
    t.log.close();
  }
});

test('murder: a worker silent for CORRAL_TIMEOUT is killed with SIGKILL; its exit brings a replacement', async () => {
  const t = await setup();
  try {
    t.bootAll();
    t.run(5000, [t.children[1]!]);
    assert.deepEqual(t.children[0]!.kills, []);
    t.run(250, [t.children[1]!]);
    assert.deepEqual(t.children[0]!.kills, ['SIGKILL']);
    assert.deepEqual(t.children[1]!.kills, []);
    t.children[0]!.exit(null, 'SIGKILL');
    // Stuck within 10 s of its ready: replaced after the crash backoff's first step (at most 250 ms).
    t.run(250, [t.children[1]!]);
    assert.equal(t.children.length, 3, 'a replacement was forked');
    const line = t.log.lines().find((l) => l.event === 'worker.timeout');
    assert.equal(line?.seconds_silent, 5.3);
  } finally {
    t.log.close();
  }
});

test('a reload that lowers CORRAL_TIMEOUT to 1 s does not take old workers, beating once a second, for stuck', async () => {
  const t = await setup({ CORRAL_TIMEOUT: '30' });
  try {
    t.bootAll();
    const old = [...t.children];
    t.setNextEnv({ CORRAL_TIMEOUT: '1' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    // The old generation beats every second, a little late each time (the new one, never ready, is
    // not what this is about).
    for (let beat = 0; beat < 5; beat++) {
      t.run(1010);
      beatAll(old);
    }
    assert.ok(old.every((c) => c.kills.length === 0), `old workers killed: ${JSON.stringify(old.map((c) => c.kills))}`);
    const oldPids = new Set(old.map((c) => c.pid));
    assert.equal(t.log.lines().filter((l) => l.event === 'worker.timeout' && oldPids.has(Number(l.worker_pid))).length, 0);
    // An old worker that misses a beat of its own is still stuck.
    t.run(2250);
    assert.ok(old.every((c) => c.kills.includes('SIGKILL')));
  } finally {
    t.log.close();
  }
});

test('reload: old workers are told to drain only as new ones become ready', async () => {
  const t = await setup();
  try {
    t.bootAll();
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(t.calls.includes('reloading'));
    const fresh = t.children.filter((c) => c.identity.generation === 2);
    assert.equal(fresh.length, 2);
    const old = t.children.filter((c) => c.identity.generation === 1);
    assert.ok(old.every((c) => c.sent.every((m) => m.type !== 'drain')), 'nobody drains before a replacement is ready');
    ready(fresh[0]!);
    t.arbiter.tick();
    assert.equal(old.filter((c) => c.sent.some((m) => m.type === 'drain')).length, 1, 'one old worker drains per ready replacement');
    ready(fresh[1]!);
    t.arbiter.tick();
    assert.equal(old.filter((c) => c.sent.some((m) => m.type === 'drain')).length, 2);
    old.forEach((c) => c.exit(0));
    t.arbiter.tick();
    assert.equal(t.calls.filter((c) => c.startsWith('ready')).length, 2, 'READY again when the reload is done');
    assert.ok(t.log.lines().some((l) => l.event === 'reload.done'));
  } finally {
    t.log.close();
  }
});

test('reload: READY=1 (which ends systemctl reload) comes with reload.done, once the old workers have exited, not when the new ones serve', async () => {
  const t = await setup();
  try {
    t.bootAll();
    t.arbiter.record('reload');
    t.arbiter.tick();
    const fresh = t.children.filter((c) => c.identity.generation === 2);
    const old = t.children.filter((c) => c.identity.generation === 1);
    fresh.forEach(ready);
    t.arbiter.tick();
    const after = (i: number) => t.calls.slice(i).filter((c) => c !== 'watchdog');
    const reloadAt = t.calls.indexOf('reloading');
    assert.ok(reloadAt >= 0);
    // New generation serving, old one draining (a long request): systemd still waits, under
    // TimeoutStartSec, which the unit sizes with CORRAL_GRACEFUL_TIMEOUT (unit.ts).
    assert.deepEqual(after(reloadAt + 1), []);
    old[0]!.exit(0);
    t.arbiter.tick();
    assert.deepEqual(after(reloadAt + 1), [], 'one old worker left');
    old[1]!.exit(0);
    t.arbiter.tick();
    assert.equal(after(reloadAt + 1).length, 1);
    assert.match(after(reloadAt + 1)[0]!, /^ready:/);
  } finally {
    t.log.close();
  }
});

test('systemd is told how long a reload and a stop may take, from the settings the master runs with (EXTEND_TIMEOUT_USEC)', async () => {
  // The unit was generated for the defaults; the .env file now says 200 s.
  const t = await setup({ CORRAL_GRACEFUL_TIMEOUT: '30' });
  try {
    t.bootAll();
    t.setNextEnv({ CORRAL_GRACEFUL_TIMEOUT: '200' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.arbiter.record('stop');
    t.arbiter.tick();
    // A second stop signal does not say it again.
    t.arbiter.record('stop');
    t.arbiter.tick();
    assert.deepEqual(t.timeouts, [`reloading:${(120 + 200) * 1000}`, `stopping:${(200 + 15) * 1000}`]);
  } finally {
    t.log.close();
  }
});

test("a draining worker's 'drained' is answered with 'release' (its cue to exit); the keeper's is not", async () => {
  const t = await setup({}, true);
  try {
    t.arbiter.tick();
    const keeper = t.children.find((c) => c.identity.role === 'keeper')!;
    keeper.say({ type: 'ready' });
    t.arbiter.tick();
    const workers = t.children.filter((c) => c.identity.role === 'worker');
    workers.forEach(ready);
    t.arbiter.tick();
    assert.equal(t.arbiter.view().stopping(), false);
    t.arbiter.record('stop');
    assert.equal(t.arbiter.view().stopping(), true, 'already before the tick handles it: the tick drops what comes after a stop');
    t.arbiter.tick();
    assert.equal(t.arbiter.view().stopping(), true, 'the admin API sees the shutdown (it refuses reload/TTIN then)');
    assert.ok(workers.every((c) => c.sent.some((m) => m.type === 'drain')));
    assert.ok(workers.every((c) => !c.sent.some((m) => m.type === 'release')), 'no release before the worker says it is drained');
    workers[0]!.say({ type: 'drained' });
    assert.deepEqual(workers[0]!.sent.filter((m) => m.type === 'release'), [{ type: 'release' }]);
    assert.ok(!workers[1]!.sent.some((m) => m.type === 'release'), 'only the worker that drained is released');
    workers.forEach((c) => c.exit(0));
    t.arbiter.tick();
    keeper.say({ type: 'drained' });
    assert.ok(!keeper.sent.some((m) => m.type === 'release'), 'the keeper exits on its own');
  } finally {
    t.log.close();
  }
});

test('a reload whose new workers never become ready renews its bound at each boot attempt, so neither systemd nor the admin API\'s answer runs out before the rollback', async () => {
  // CORRAL_TIMEOUT=5: a boot has the minute's floor; 3 attempts and their backoff outlast the
  // 150 s bound RELOADING=1 starts with (2 boots and the 30 s drain).
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_BOOT_ATTEMPTS: '3' });
  try {
    t.bootAll();
    const view = t.arbiter.view();
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.deepEqual(t.timeouts, ['reloading:150000']);
    assert.equal(view.reloadState().boundMs, 150_000);
    const attempt = 60_000 + 30_000 + 10_000;
    const forks: number[] = [];
    let elapsed = 0;
    let leastLeft = Infinity;
    for (; elapsed < 600_000 && !t.log.lines().some((l) => l.event === 'reload.failed'); elapsed += 250) {
      const forked = t.children.filter((c) => c.identity.generation === 2).length;
      t.run(250);
      if (t.children.filter((c) => c.identity.generation === 2).length > forked) forks.push(elapsed);
      beatAll(t.children.filter((c) => !c.exited));
      for (const c of t.children) if (c.kills.includes('SIGKILL') && !c.exited) c.exit(null, 'SIGKILL');
      const left = view.reloadState().boundMs;
      if (left !== undefined) leastLeft = Math.min(leastLeft, left);
    }
    assert.ok(t.log.lines().some((l) => l.event === 'reload.failed'), 'rolled back');
    assert.ok(elapsed > 150_000, `the rollback came after ${elapsed} ms, past the first bound: the case the renewal is for`);
    assert.equal(forks.length, 2, 'two more attempts after the first');
    // Each later attempt told systemd its own bound: the backoff it waited, then the attempt from its fork.
    assert.ok(t.extensions.length >= 2, JSON.stringify(t.extensions));
    assert.ok(t.extensions.every((ms) => ms >= attempt && ms <= attempt + 30_000), JSON.stringify(t.extensions));
    // At a boot's timeout, the drain's time and the margin are still left: it never ran out.
    assert.ok(leastLeft >= 30_000, `the bound ran low while the reload went on (${leastLeft} ms at the least)`);
    assert.equal(view.reloadState().boundMs, undefined, 'none once the reload ended');
    assert.equal(t.calls.filter((c) => c.startsWith('ready')).length, 2, 'READY=1 ends the reload');
  } finally {
    t.log.close();
  }
});

test("a reload's keeper whose boot moves (a journal replayed a step at a time) has the reload's bound move with it", async () => {
  const t = await setup({ CORRAL_WORKERS: '1' }, true);
  try {
    t.bootWithKeeper();
    const view = t.arbiter.view();
    t.setNextEnv({ SHEET_CACHE_TTL: '90' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    const old = t.keepers()[0]!;
    old.say({ type: 'drained' });
    old.exit(0);
    let leastLeft = Infinity;
    let progress = 0;
    // The new keeper replays for 4 minutes, past the attempt's bound from its fork, advancing every second.
    for (let ms = 0; ms < 240_000; ms += 250) {
      t.advance(250);
      const replaying = t.keepers().find((c) => !c.exited && c !== old);
      if (replaying && ms % 1000 === 0) replaying.say({ type: 'heartbeat', figures: { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1, eventLoopLagMs: 0, activeConnections: 0, requestsServed: 0, errorsServed: 0, latencyP99Ms: 0, bootProgress: (progress += 1_000_000) } });
      beatAll(t.children.filter((c) => !c.exited && c.identity.role === 'worker'));
      t.arbiter.tick();
      const left = view.reloadState().boundMs;
      if (left !== undefined) leastLeft = Math.min(leastLeft, left);
    }
    const replaying = t.keepers().find((c) => c !== old);
    assert.ok(replaying && !replaying.exited && replaying.kills.length === 0, 'the replaying keeper is not killed');
    assert.ok(leastLeft >= 60_000, `the bound ran low while the boot moved (${leastLeft} ms at the least)`);
    assert.ok(t.extensions.length > 0, 'systemd was told');
  } finally {
    t.log.close();
  }
});

test('once the old generation drains, the reload\'s bound still covers the drain: the graceful timeout and a margin from then', async () => {
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_GRACEFUL_TIMEOUT: '100' });
  try {
    t.bootAll();
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.deepEqual(t.timeouts, ['reloading:220000']);
    // A boot that takes most of its minute, then the drain of the old worker.
    for (let i = 0; i < 220; i++) {
      t.run(250);
      beatAll(t.children);
    }
    ready(t.children.find((c) => c.identity.generation === 2)!);
    t.arbiter.tick();
    const old = t.children.find((c) => c.identity.generation === 1)!;
    assert.ok(old.sent.some((m) => m.type === 'drain'));
    assert.ok((t.arbiter.view().reloadState().boundMs ?? 0) >= 100_000 + 10_000, 'systemd gives the drain its graceful timeout');
    old.exit(0);
    t.arbiter.tick();
    assert.equal(t.arbiter.view().reloadState().boundMs, undefined, 'the reload is done');
  } finally {
    t.log.close();
  }
});

test('a TTIN after a queued reload is carried by that reload over its CORRAL_WORKERS, not undone by it; one before the reload counts from it', async () => {
  const t = await setup();
  try {
    t.bootAll();
    const expected = t.arbiter.view().expectedWorkers();
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.arbiter.record('ttin');
    t.arbiter.tick();
    assert.equal(t.arbiter.view().expectedWorkers(), expected + 1, 'applied at once');
    t.children.filter((c) => c.identity.generation === 2).forEach(ready);
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 1).forEach((c) => c.exit(0));
    t.arbiter.tick();
    t.arbiter.tick();
    assert.deepEqual(t.log.lines().filter((l) => l.event === 'reload.start').map((l) => l.generation), [2, 3]);
    assert.equal(t.arbiter.view().expectedWorkers(), expected + 1, 'the queued reload, asked for before the TTIN, counts it over its CORRAL_WORKERS');
    const carried = t.log.lines().filter((l) => l.event === 'workers.scale' && l.delta === 1 && l.workers_setting === expected);
    assert.equal(carried.length, 1, 'and says so');
    assert.match(String(carried[0]?.msg), /^reload to generation 3: \d+ workers, CORRAL_WORKERS=\d+ \+1 asked for after this reload was queued$/);
    // A TTIN before a reload that is not queued: that reload counts from its own CORRAL_WORKERS.
    t.children.filter((c) => c.identity.generation === 3).forEach(ready);
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 2).forEach((c) => c.exit(0));
    t.arbiter.tick();
    t.arbiter.record('ttin');
    t.arbiter.tick();
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.equal(t.arbiter.view().expectedWorkers(), expected, 'a reload re-reads CORRAL_WORKERS');
  } finally {
    t.log.close();
  }
});

test('a SIGHUP during a reload is not lost: one more reload starts when the current one is done (several coalesce)', async () => {
  const t = await setup();
  try {
    t.bootAll();
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.arbiter.record('reload');
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.equal(t.log.lines().filter((l) => l.event === 'reload.queued').length, 1);
    assert.equal(t.children.filter((c) => c.identity.generation === 3).length, 0, 'no third generation while the second boots');
    t.children.filter((c) => c.identity.generation === 2).forEach(ready);
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 1).forEach((c) => c.exit(0));
    t.arbiter.tick();
    assert.ok(t.log.lines().some((l) => l.event === 'reload.done' && l.generation === 2));
    t.arbiter.tick();
    assert.deepEqual(t.log.lines().filter((l) => l.event === 'reload.start').map((l) => l.generation), [2, 3], 'exactly one more reload');
    const fresh = t.children.filter((c) => c.identity.generation === 3);
    assert.equal(fresh.length, 2);
    // systemd hears READY=1 only once the queued reload serves (boot, then the end of the last reload).
    assert.equal(t.calls.filter((c) => c.startsWith('ready')).length, 1, 'no READY=1 between the two reloads');
    fresh.forEach(ready);
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 2).forEach((c) => c.exit(0));
    t.arbiter.tick();
    assert.equal(t.calls.filter((c) => c.startsWith('ready')).length, 2);
    assert.match(t.calls.at(-1) ?? '', /^ready:.*generation 3/);
  } finally {
    t.log.close();
  }
});

test('boot exhaustion: workers that fail before ready are retried with backoff, then the master exits 3', async () => {
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '3' });
  try {
    t.arbiter.tick();
    for (let i = 0; i < 10 && t.exits.length === 0; i++) {
      for (const c of t.children) {
        if (!c.kills.length && !c.exited) {
          c.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'cannot find module x' });
          c.exit(4);
        }
      }
      t.arbiter.tick();
      const before = t.children.length;
      t.arbiter.tick();
      assert.equal(t.children.length, before, 'no respawn before the backoff delay');
      t.advance(60_000);
      t.arbiter.tick();
    }
    assert.deepEqual(t.exits, [3], JSON.stringify(t.log.lines().map((l) => [l.event, l.msg])));
    const exhausted = t.log.lines().find((l) => l.event === 'boot.exhausted');
    assert.match(String(exhausted?.msg), /cannot find module x$/, 'not said to last: the next start may succeed');
    assert.equal(exhausted?.exit_code, 3);
  } finally {
    t.log.close();
  }
});

test('boot exhaustion on a failure no restart gets past (lasting: the app as written, a port not allowed): exit 78, which the unit does not restart, and said so', async () => {
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '2' });
  try {
    t.arbiter.tick();
    failBootsUntilExit(t, () => ({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: "cannot import app module /srv/app.mjs: Cannot find module '/srv/lib.mjs'", lasting: true }));
    assert.deepEqual(t.exits, [78]);
    const exhausted = t.log.lines().find((l) => l.event === 'boot.exhausted');
    assert.equal(exhausted?.exit_code, 78);
    assert.match(String(exhausted?.msg), /Cannot find module .*; every attempt fails alike until the app's files or the settings change, so corral exits 78 \(its systemd unit does not restart that\)$/);
  } finally {
    t.log.close();
  }
});

test('a start that serves with some workers while another keeps failing to boot is ready once the failed boots reach CORRAL_BOOT_ATTEMPTS, said degraded; the missing one is still tried', async () => {
  const t = await setup({ CORRAL_WORKERS: '3', CORRAL_BOOT_ATTEMPTS: '3' });
  try {
    t.arbiter.tick();
    const [a, b] = t.children;
    ready(a!);
    ready(b!);
    // The third fails at every boot: a fork refused under a TasksMax= too low.
    const failThird = () => {
      for (const c of t.children.slice(2)) {
        if (!c.exited) {
          c.say({ type: 'boot-failed', code: 'CORRAL_ERR_FORK', message: 'fork failed: EAGAIN' });
          c.exit(1);
        }
      }
    };
    // Time passes tick by tick, the two beating; each new third worker fails as soon as forked.
    const readyCalls = () => t.calls.filter((c) => c.startsWith('ready'));
    const failures = () => t.log.lines().filter((l) => l.event === 'worker.boot_failed').length;
    for (let i = 0; i < 400 && readyCalls().length === 0; i++) {
      failThird();
      if (failures() < 3) assert.deepEqual(readyCalls(), [], `${failures()} failed boots: not yet`);
      t.run(250, [a!, b!]);
    }
    assert.equal(failures(), 3);
    const readies = readyCalls();
    assert.equal(readies.length, 1, 'READY=1 once the failed boots reach CORRAL_BOOT_ATTEMPTS');
    assert.match(readies[0] ?? '', /2\/3 workers ready/);
    const said = t.log.lines().find((l) => l.event === 'master.ready');
    assert.deepEqual([said?.degraded, said?.workers, said?.expected, said?.boot_failures], [true, 2, 3, 3]);
    assert.match(String(said?.msg), /^corral ready with 2 of 3 workers on port .*: the others failed to boot 3 times \(last: fork failed: EAGAIN\); they are tried again with backoff/);
    assert.deepEqual(t.exits, [], 'not given up: two serve');
    const forked = t.children.length;
    t.run(60_000, [a!, b!]);
    assert.equal(t.children.length, forked + 1, 'the missing worker is forked again');
  } finally {
    t.log.close();
  }
});

test('boot exhaustion whose failures were not all lasting (a deploy half-written at the first attempt, then an error of the app) exits 3', async () => {
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '2' });
  try {
    t.arbiter.tick();
    failBootsUntilExit(t, (attempt) =>
      attempt === 1 ? { type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: "Cannot find module '/srv/lib.mjs'", lasting: true } : { type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'database unreachable' },
    );
    assert.deepEqual(t.exits, [3]);
  } finally {
    t.log.close();
  }
});

test('a start whose other workers hang at boot (failing only at their boot timeout) is ready with those that serve near the unit\'s TimeoutStartSec, not killed by systemd at it', async () => {
  const t = await setup({ CORRAL_WORKERS: '3' });
  try {
    t.arbiter.tick();
    const [a, b] = t.children;
    ready(a!);
    ready(b!);
    // The third beats but never reports ready: killed at its boot timeout (60 s), its replacement
    // too; two failed boots by the TimeoutStartSec of 150 s the unit gets for these settings,
    // short of CORRAL_BOOT_ATTEMPTS (5).
    let readyAt: number | undefined;
    for (let ms = 250; ms < 200_000 && readyAt === undefined; ms += 250) {
      t.run(250, t.children.filter((c) => !c.exited));
      for (const c of t.children) if (c.kills.includes('SIGKILL') && !c.exited) c.exit(null, 'SIGKILL');
      if (t.calls.some((c) => c.startsWith('ready'))) readyAt = ms;
    }
    const said = t.log.lines().find((l) => l.event === 'master.ready');
    assert.ok(readyAt !== undefined && readyAt >= 139_000 && readyAt < 150_000, `READY=1 after ${readyAt} ms: ${String(said?.msg)}`);
    assert.deepEqual([said?.degraded, said?.workers, said?.boot_failures], [true, 2, 2]);
    assert.match(String(said?.msg), /^corral ready with 2 of 3 workers on port .*: the others are not ready after 14\d(\.\d)? s, near the start's bound \(TimeoutStartSec=150 in the unit corral writes\), 2 failed boots \(last: .*\); they are tried again/);
  } finally {
    t.log.close();
  }
});

test('boot exhaustion with a keeper: the keeper is drained as in a stop, and the master exits 3 once it has exited, not SIGKILLed with the workers', async () => {
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '1', CORRAL_GRACEFUL_TIMEOUT: '7' }, true);
  try {
    t.arbiter.tick();
    const keeper = t.keepers()[0];
    assert.ok(keeper);
    keeper.say({ type: 'ready' });
    t.arbiter.tick();
    // One worker fails; the other, forked with it, is still booting (an app that hangs at load).
    const [failing, booting] = t.children.filter((w) => w.identity.role === 'worker');
    assert.ok(failing && booting);
    failing.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'cannot find module x' });
    failing.exit(4);
    t.arbiter.tick();
    assert.ok(t.log.lines().some((l) => l.event === 'boot.exhausted'));
    // It serves nothing: stopped with no grace (SIGTERM, then SIGKILL 2 s on when it hangs), not
    // the 7 s requests get: the keeper, killed at the stop's deadline with the workers, waited
    // that long behind it.
    assert.deepEqual(booting.kills, ['SIGTERM']);
    assert.deepEqual(keeper.sent.filter((m) => m.type === 'drain'), [], 'the keeper goes after the workers');
    keeper.say({ type: 'heartbeat', figures: { rssBytes: 1, heapUsedBytes: 1, requests: 0, activeConnections: 0 } as never });
    t.run(2500);
    assert.deepEqual(booting.kills, ['SIGTERM', 'SIGKILL']);
    booting.exit(null, 'SIGKILL');
    t.arbiter.tick();
    assert.deepEqual(t.exits, [], 'not before the keeper has stopped');
    assert.deepEqual(keeper.kills, [], 'the keeper is not killed');
    // The keeper's share of a stop: what is left of the graceful timeout after the workers (7 + 2 s
    // less the 2.5 s they took), at least KEEPER_STOP_MS.
    const drains = keeper.sent.flatMap((m) => (m.type === 'drain' ? [m] : []));
    assert.deepEqual(drains.map((m) => [m.reason, m.gracefulMs]), [['shutdown', 6500]]);
    const start = t.log.lines().find((l) => l.event === 'shutdown.start');
    assert.deepEqual([start?.reason, start?.msg], ['no worker could boot', 'graceful shutdown: no worker could boot']);
    assert.deepEqual(t.stoppingSaid, ['stopping: no worker could boot'], 'systemd hears STOPPING=1, and why');
    keeper.say({ type: 'drained' });
    keeper.exit(0);
    t.arbiter.tick();
    assert.deepEqual(t.exits, [3]);
    assert.ok(t.log.lines().some((l) => l.event === 'keeper.exit'), 'the keeper\'s exit is said');
  } finally {
    t.log.close();
  }
});

/** A stop (graceful timeout 10 s) whose workers hang in their drain, beating, until its deadline (10 + 2 s). */
async function stopPastTheDeadline() {
  const t = await setup({ CORRAL_GRACEFUL_TIMEOUT: '10' }, true);
  const keeper = t.bootWithKeeper();
  const workers = t.children.filter((c) => c.identity.role === 'worker');
  t.arbiter.record('stop');
  t.arbiter.tick();
  t.run(12_250, [...workers, keeper]);
  return { t, keeper, workers };
}

test('a stop whose worker overruns its drain: the worker is killed at the deadline, the keeper is drained then and has its own time, not killed with it', async () => {
  const { t, keeper, workers } = await stopPastTheDeadline();
  try {
    assert.ok(workers.every((w) => w.kills.includes('SIGKILL')), 'the workers are killed at the deadline');
    assert.deepEqual(keeper.kills, [], 'the keeper is not killed with them');
    const drains = keeper.sent.flatMap((m) => (m.type === 'drain' ? [m] : []));
    assert.deepEqual(drains.map((m) => [m.reason, m.gracefulMs]), [['shutdown', KEEPER_STOP_MS]], 'it is drained, with its own time');
    for (const w of workers) w.exit(null, 'SIGKILL');
    // Its flush takes most of that time: it is not cut.
    t.run(KEEPER_STOP_MS - 500, [keeper]);
    assert.deepEqual(keeper.kills, []);
    keeper.say({ type: 'drained' });
    keeper.exit(0);
    t.arbiter.tick();
    assert.deepEqual(t.exits, [0]);
    assert.equal(t.log.lines().filter((l) => l.event === 'keeper.kill').length, 0);
  } finally {
    t.log.close();
  }
});

test('a stop whose keeper does not finish its drain kills it KEEPER_STOP_MS after that drain, though the workers overran the deadline', async () => {
  const { t, keeper, workers } = await stopPastTheDeadline();
  try {
    for (const w of workers) w.exit(null, 'SIGKILL');
    t.run(KEEPER_STOP_MS + 500, [keeper]);
    assert.deepEqual(keeper.kills, ['SIGKILL']);
    assert.equal(t.log.lines().find((l) => l.event === 'keeper.kill')?.reason, 'graceful timeout');
    keeper.exit(null, 'SIGKILL');
    t.arbiter.tick();
    assert.deepEqual(t.exits, [0]);
  } finally {
    t.log.close();
  }
});

test('workers forked together that fail to boot together are one attempt: retried one probe at a time with backoff, then exit 3', async () => {
  const t = await setup({ CORRAL_WORKERS: '8', CORRAL_BOOT_ATTEMPTS: '3' });
  try {
    t.arbiter.tick();
    assert.equal(t.children.length, 8);
    const fail = (c: FakeChild) => {
      c.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'database unreachable' });
      c.exit(4);
    };
    t.children.forEach(fail);
    t.arbiter.tick();
    assert.deepEqual(t.exits, [], 'eight workers failing at once are one failed attempt, not eight');
    const failures = t.log.lines().filter((l) => l.event === 'worker.boot_failed').map((l) => l.failures);
    assert.deepEqual(failures, [1, 1, 1, 1, 1, 1, 1, 1]);
    // Retries: one probe, and the next only once it has failed and its backoff passed.
    for (let attempt = 2; attempt <= 3; attempt++) {
      const before: number = t.children.length;
      // Past any backoff of these attempts, within CORRAL_TIMEOUT (a probe that stays silent longer is killed).
      t.run(4000);
      assert.equal(t.children.length, before + 1, `attempt ${attempt}: one probe, however long it boots`);
      fail(t.children.at(-1)!);
      t.arbiter.tick();
    }
    assert.deepEqual(t.exits, [3]);
    assert.equal(t.log.lines().find((l) => l.event === 'boot.exhausted')?.attempts, 3);
  } finally {
    t.log.close();
  }
});

test('many workers are forked over several ticks, each within the fork budget, the rest at once after the loop turns; as one fork batch, failing together they are one failed attempt', async () => {
  // Each fork takes 30 ms of real time (fork() waits for the child to start): four fit in a tick's
  // 100 ms. Forked in one loop, 128 workers on 2 cores held the master 9.4 s at start, 18.3 s at a reload.
  let t: Awaited<ReturnType<typeof setup>> | undefined = undefined;
  t = await setup({ CORRAL_WORKERS: '16', CORRAL_BOOT_ATTEMPTS: '3' }, false, { forkClock: () => 30 * (t?.children.length ?? 0) });
  try {
    t.arbiter.tick();
    assert.equal(t.children.length, 4, 'the first tick forks until its budget is spent');
    // The next chunk needs no timer tick: the arbiter asked for one after the loop's I/O.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(t.children.length, 8);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(t.children.length, 12);
    t.arbiter.tick();
    assert.equal(t.children.length, 16);
    t.arbiter.tick();
    assert.equal(t.children.length, 16, 'no more than CORRAL_WORKERS');
    for (const c of t.children) {
      c.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'database unreachable' });
      c.exit(4);
    }
    t.arbiter.tick();
    assert.deepEqual(t.exits, [], 'sixteen workers forked over four ticks and failing together are one failed attempt');
    assert.deepEqual(
      t.log.lines().filter((l) => l.event === 'worker.boot_failed').map((l) => l.failures),
      Array.from({ length: 16 }, () => 1),
    );
  } finally {
    t.log.close();
  }
});

test('a paced round of forks that met a failure forks the rest as a batch of their own: their failures are counted and backed off, not hidden in the spent batch', async () => {
  let t: Awaited<ReturnType<typeof setup>> | undefined = undefined;
  t = await setup({ CORRAL_WORKERS: '16', CORRAL_BOOT_ATTEMPTS: '5' }, false, { forkClock: () => 30 * (t?.children.length ?? 0) });
  const failBoot = (c: FakeChild) => {
    c.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'database unreachable' });
    c.exit(4);
  };
  try {
    t.arbiter.tick();
    assert.equal(t.children.length, 4, 'the first chunk');
    // One of the first chunk fails (counted, a backoff begins); another is then ready (the count
    // resets), so the rest are not forked one at a time as after failures.
    failBoot(t.children[0]!);
    t.arbiter.tick();
    assert.equal(t.children.length, 4, 'nothing forked during the backoff');
    ready(t.children[1]!);
    t.advance(1000);
    t.arbiter.tick();
    const second = t.children.slice(4);
    assert.equal(second.length, 4, 'the next chunk, once the backoff passed');
    second.forEach(failBoot);
    t.arbiter.tick();
    const failures = t.log.lines().filter((l) => l.event === 'worker.boot_failed').map((l) => l.failures);
    assert.deepEqual(failures, [1, 1, 1, 1, 1], 'the later chunk failing is counted, once for the chunk');
    assert.equal(t.children.length, 8, 'and backed off: nothing forked again at once');
  } finally {
    t.log.close();
  }
});

test("a message read after its child was reaped is ignored: a late 'ready' does not reset the boot failures", async () => {
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_BOOT_ATTEMPTS: '2' });
  try {
    t.arbiter.tick();
    const first = t.children[0]!;
    first.exit(1);
    t.arbiter.tick();
    first.say({ type: 'ready', port: 8080 });
    t.advance(60_000);
    t.arbiter.tick();
    const second = t.children[1]!;
    assert.ok(second, 'a second attempt was forked');
    second.exit(1);
    t.arbiter.tick();
    assert.deepEqual(t.exits, [3], 'two failed boots of two allowed');
  } finally {
    t.log.close();
  }
});

test('the systemd watchdog is fed while a worker beats, then while the replacements of the silent ones boot', async () => {
  const t = await setup();
  try {
    t.arbiter.tick();
    t.children.forEach(ready);
    t.advance(1000);
    t.arbiter.tick();
    assert.equal(t.calls.filter((c) => c === 'watchdog').length, 2, 'fed as the workers boot, then once they are ready');
    const first = [...t.children];
    // No beats from here: fed while the last beat is within CORRAL_TIMEOUT (5 s)...
    t.run(4000);
    const fedWhileBeating = t.calls.filter((c) => c === 'watchdog').length;
    assert.ok(fedWhileBeating >= 4, `fed ${fedWhileBeating} times`);
    assert.equal(t.children.length, first.length, 'none replaced yet');
    // ...then the master kills the silent workers and forks their replacements, which boot (for
    // up to the boot timeout's 60 s): the master is doing its job, and the watchdog is fed.
    t.run(6000);
    assert.ok(first.every((c) => c.kills.length > 0), 'the silent workers are killed');
    assert.ok(t.children.length > first.length, 'and replaced');
    const fedWhileReplacing = t.calls.filter((c) => c === 'watchdog').length;
    assert.ok(fedWhileReplacing >= fedWhileBeating + 4, `fed ${fedWhileReplacing - fedWhileBeating} more times while the replacements boot`);
  } finally {
    t.log.close();
  }
});

test('the systemd watchdog is fed while the master waits out its crash-loop backoff: no worker is stuck, and a restart would start the backoff over', async () => {
  const t = await setup({ CORRAL_WORKERS: '1' });
  try {
    t.bootAll();
    // Crash after crash until the wait is several seconds long (step 6: 4-8 s).
    for (let crash = 1; crash <= 6; crash++) {
      t.run(250);
      t.children.filter((c) => !c.exited).forEach((c) => c.exit(1));
      t.arbiter.tick();
      if (crash < 6) {
        t.untilForked(250);
        ready(t.children.at(-1)!);
        t.arbiter.tick();
      }
    }
    const wait = t.arbiter.view().respawnWait();
    assert.ok(wait !== undefined && wait.inMs >= 3000, `waiting ${wait?.inMs} ms`);
    const fed = t.calls.filter((c) => c === 'watchdog').length;
    t.run(3000);
    // Every 1 s (watchdogIntervalMs) through the 3 s of waiting.
    assert.ok(t.calls.filter((c) => c === 'watchdog').length >= fed + 2, 'fed while waiting');
  } finally {
    t.log.close();
  }
});

test('a worker silent while booting counts as a failed boot: backoff, then exit 3 (not an endless respawn)', async () => {
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '3', CORRAL_WORKERS: '1' });
  try {
    for (let round = 0; round < 20 && t.exits.length === 0; round++) {
      t.arbiter.tick();
      // Each beats once, then its loop blocks (at the app's import): one that never beat has the boot timeout.
      beatAll(t.children.filter((c) => !c.exited));
      t.run(6000);
      for (const c of t.children) {
        if (c.kills.includes('SIGKILL') && !c.exited) c.exit(null, 'SIGKILL');
      }
      t.arbiter.tick();
      t.advance(60_000);
    }
    assert.deepEqual(t.exits, [3]);
    assert.ok(t.children.length <= 4, `${t.children.length} forks before giving up`);
    const failed = t.log.lines().filter((l) => l.event === 'worker.boot_failed');
    assert.equal(failed.length, 3);
    assert.match(JSON.stringify(failed[0]?.boot_error), /silent for .* while booting/);
  } finally {
    t.log.close();
  }
});

test("a worker that never beat is killed at the boot timeout, not CORRAL_TIMEOUT (node starting on a starved host), and at CORRAL_TIMEOUT once the cgroup refused a fork or thread since its fork", async () => {
  let refused = 0;
  const pids = () => ({ levels: [{ path: '/system.slice/corral.service', max: 40, refused }] });
  const t = await setup({ CORRAL_TIMEOUT: '2', CORRAL_WORKERS: '1' }, false, { deathCauses: new DeathCauses(() => 0, { memory: () => undefined, pids }) });
  try {
    t.arbiter.tick();
    const [first] = t.children;
    assert.ok(first);
    // Ten times CORRAL_TIMEOUT without a beat: not killed.
    t.run(20_000);
    assert.deepEqual(first.kills, []);
    t.run(BOOT_TIMEOUT_FLOOR_MS - 20_000 + 500);
    assert.deepEqual(first.kills, ['SIGKILL']);
    const timeout = t.log.lines().find((l) => l.event === 'worker.timeout');
    assert.equal(timeout?.never_beat, true);
    assert.match(String(timeout?.msg), /has not beaten once in 60\.\d s since it was forked, past the boot timeout/);
    first.exit(null, 'SIGKILL');
    t.arbiter.tick();
    const bootError = (event: Record<string, unknown> | undefined) => String((event?.boot_error as { message?: string } | undefined)?.message);
    assert.match(bootError(t.log.lines().find((l) => l.event === 'worker.boot_failed')), /^no beat in 60\.\d s since it was forked \(node or corral's own modules did not finish starting/);

    // The next one: a thread refused at the cgroup's pids.max since its fork, and it hangs so.
    t.untilForked(250);
    const second = t.children.at(-1);
    assert.ok(second && second !== first);
    refused++;
    t.run(2500);
    assert.deepEqual(second.kills, ['SIGKILL'], 'killed at CORRAL_TIMEOUT');
    const said = t.log.lines().filter((l) => l.event === 'worker.timeout').at(-1);
    assert.match(String(said?.msg), /past CORRAL_TIMEOUT, with a fork or thread refused at the cgroup's process and thread limit since it was forked/);
    second.exit(null, 'SIGKILL');
    t.arbiter.tick();
    const boot = t.log.lines().filter((l) => l.event === 'worker.boot_failed').at(-1);
    assert.equal(boot?.task_limit_reached, true, JSON.stringify(boot));
    assert.match(bootError(boot), /^no beat in [\d.]+ s since it was forked: most likely the process and thread limit: the cgroup's pids\.max 40 .*\(else the host was too short of CPU or memory to start it\)/);
  } finally {
    t.log.close();
  }
});

test('a serving keeper that crashes: the workers are told to wait for its replacement, and told when it is ready; not in a crash loop', async () => {
  const t = await setup({}, true);
  try {
    const keeper = t.bootWithKeeper();
    const workers = t.children.filter((c) => c.identity.role === 'worker');
    const notices = () => workers.map((w) => w.sent.filter((m) => m.type.startsWith('keeper-')));
    keeper.exit(null, 'SIGKILL');
    t.arbiter.tick();
    for (const sent of notices()) {
      assert.equal(sent.length, 1);
      const notice = sent[0] as { type: string; waitMs: number };
      assert.equal(notice.type, 'keeper-restarting');
      // The first crash's backoff (at most 250 ms) and a boot.
      assert.ok(notice.waitMs >= KEEPER_CRASH_BOOT_WAIT_MS && notice.waitMs <= KEEPER_CRASH_BOOT_WAIT_MS + 250, `waitMs ${notice.waitMs}`);
    }
    const second = t.untilForked(50) >= 0 ? t.keepers().find((k) => k !== keeper && !k.exited) : undefined;
    assert.ok(second, 'a new keeper was started');
    second.say({ type: 'ready' });
    for (const sent of notices()) assert.deepEqual(sent.map((m) => m.type), ['keeper-restarting', 'keeper-ready']);
    // Crashing soon after each ready: the backoff grows (250 ms, 500 ms, 1 s, 2 s...), and once it
    // passes a second the workers are no longer told to wait (a 503 with Retry-After serves a
    // client better than a wait that ends the same way).
    let current = second;
    const toldAtCrash: boolean[] = [];
    for (let crash = 0; crash < 6; crash++) {
      const before = notices()[0]!.length;
      current.exit(null, 'SIGKILL');
      t.arbiter.tick();
      toldAtCrash.push(notices()[0]!.length > before);
      t.untilForked(50);
      const next = t.keepers().find((k) => !k.exited);
      assert.ok(next, 'restarted');
      next.say({ type: 'ready' });
      current = next;
    }
    assert.equal(toldAtCrash[0], true, 'told at the first quick crash');
    assert.equal(toldAtCrash.at(-1), false, `not told once the backoff is long (${JSON.stringify(toldAtCrash)})`);
  } finally {
    t.log.close();
  }
});

test('a worker that becomes ready while the keeper restarts is told to wait for it too (it was loading its app when the others were told), with the wait left', async () => {
  const t = await setup({}, true);
  try {
    const keeper = t.bootWithKeeper();
    // A reload: its new workers are forked and still loading their app.
    t.arbiter.record('reload');
    t.arbiter.tick();
    const booting = t.children.filter((c) => c.identity.role === 'worker' && c.identity.generation === 2);
    assert.ok(booting.length > 0);
    keeper.exit(null, 'SIGKILL');
    t.arbiter.tick();
    t.advance(100);
    // What was sent to it while it loaded its app may never have reached it (no listener yet).
    const notices = (w: FakeChild) => w.sent.filter((m) => m.type === 'keeper-restarting') as { type: string; waitMs: number }[];
    const before = notices(booting[0]!).length;
    ready(booting[0]!);
    t.arbiter.tick();
    const told = notices(booting[0]!).slice(before);
    assert.equal(told.length, 1, 'told again once ready');
    assert.ok(told[0]!.waitMs > 0 && told[0]!.waitMs <= KEEPER_CRASH_BOOT_WAIT_MS + 250 - 100, `the wait left: ${told[0]!.waitMs} ms`);
    // Once the new keeper is ready, a worker ready after it is not told.
    t.untilForked(50);
    t.keepers().find((k) => !k.exited)!.say({ type: 'ready' });
    const later = booting[1];
    assert.ok(later, 'two workers boot');
    const laterBefore = notices(later).length;
    ready(later);
    t.arbiter.tick();
    assert.equal(notices(later).length, laterBefore, 'not told: the new keeper serves');
  } finally {
    t.log.close();
  }
});

test('a keeper killed as stuck (CORRAL_TIMEOUT): the workers are told to wait for its replacement, as after a crash', async () => {
  const t = await setup({}, true);
  try {
    const keeper = t.bootWithKeeper();
    const workers = t.children.filter((c) => c.identity.role === 'worker');
    // The keeper falls silent; the workers beat on.
    t.run(5250, workers);
    assert.deepEqual(keeper.kills, ['SIGKILL'], 'killed as stuck');
    keeper.exit(null, 'SIGKILL');
    t.arbiter.tick();
    for (const w of workers) assert.deepEqual(w.sent.filter((m) => m.type.startsWith('keeper-')).map((m) => m.type), ['keeper-restarting']);
  } finally {
    t.log.close();
  }
});

test('a reload that changes a keeper setting restarts the keeper before the new workers boot', async () => {
  const t = await setup({}, true);
  try {
    const keeper = t.bootWithKeeper();
    t.setNextEnv({ SHEET_CACHE_TTL: '90' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(keeper.sent.some((m) => m.type === 'drain'), 'the old keeper drains');
    assert.equal(t.children.filter((c) => c.identity.generation === 2 && c.identity.role === 'worker').length, 0, 'no new worker before the new keeper');
    // The serving workers are told, so that their writes wait for the new keeper instead of failing.
    const serving = t.children.filter((c) => c.identity.role === 'worker');
    for (const w of serving) assert.deepEqual(w.sent.filter((m) => m.type.startsWith('keeper-')), [{ type: 'keeper-restarting', waitMs: KEEPER_RESTART_WAIT_MS }]);
    assert.ok(KEEPER_RESTART_WAIT_MS >= KEEPER_RESTART_DRAIN_MS + 2000 + 1200, 'the wait covers the drain, its exit margin and a boot');
    keeper.exit(0);
    t.arbiter.tick();
    const fresh = t.children.filter((c) => c.identity.role === 'keeper' && c !== keeper);
    assert.equal(fresh.length, 1, 'a new keeper was started');
    fresh[0]!.say({ type: 'ready' });
    for (const w of serving) assert.deepEqual(w.sent.filter((m) => m.type.startsWith('keeper-')).map((m) => m.type), ['keeper-restarting', 'keeper-ready'], 'told once the new keeper is ready');
    t.arbiter.tick();
    assert.equal(t.children.filter((c) => c.identity.generation === 2 && c.identity.role === 'worker').length, 2);
    assert.deepEqual(t.log.lines().find((l) => l.event === 'keeper.restart')?.changed, ['SHEET_CACHE_TTL']);
  } finally {
    t.log.close();
  }
});

test('a reload after corral was upgraded on disk restarts the keeper (the new workers run the new build) and says the master needs a restart, once per build', async () => {
  let build = 'aaaaaaaaaaaa';
  const t = await setup({}, true, { codeIdentity: () => build });
  try {
    const keeper = t.bootWithKeeper();
    // A reload with the same build and settings keeps the keeper.
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(!keeper.sent.some((m) => m.type === 'drain'));
    assert.deepEqual(t.log.lines().filter((l) => l.event === 'reload.code_changed'), []);
    const finishReload = (generation: number) => {
      t.run(250);
      t.children.filter((c) => c.identity.role === 'worker' && c.identity.generation === generation).forEach(ready);
      t.run(250);
      // The old generation drains and exits: the reload is done.
      for (const c of t.children.filter((w) => w.identity.role === 'worker' && !w.exited && w.sent.some((m) => m.type === 'drain'))) c.exit(0);
      t.run(250);
      assert.ok(t.log.lines().some((l) => l.event === 'reload.done' && l.generation === generation), `reload to generation ${generation} done`);
    };
    finishReload(2);

    build = 'bbbbbbbbbbbb';
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(keeper.sent.some((m) => m.type === 'drain' && m.reason === 'reload: new build of corral'), 'the old keeper drains');
    const restart = t.log.lines().find((l) => l.event === 'keeper.restart');
    assert.deepEqual([restart?.changed, restart?.code], [[], { running: 'aaaaaaaaaaaa', on_disk: 'bbbbbbbbbbbb' }]);
    const outcome = t.arbiter.view().reloadOutcome();
    assert.ok(outcome?.outcome === 'started');
    assert.deepEqual(outcome.restartNeeded, [{ setting: 'corral code', running: 'build aaaaaaaaaaaa', configured: 'build bbbbbbbbbbbb on disk' }]);
    const said = t.log.lines().filter((l) => l.event === 'reload.code_changed');
    assert.deepEqual(said.map((l) => [l.running, l.on_disk]), [['aaaaaaaaaaaa', 'bbbbbbbbbbbb']]);
    keeper.exit(0);
    t.arbiter.tick();
    const fresh = t.keepers().filter((c) => c !== keeper);
    assert.equal(fresh.length, 1, 'a new keeper, of the new build');
    fresh[0]!.say({ type: 'ready' });
    finishReload(3);

    // The next reload: the keeper runs the build on disk now and stays; the master still does not.
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(!fresh[0]!.sent.some((m) => m.type === 'drain'), 'the new keeper stays');
    const again = t.arbiter.view().reloadOutcome();
    assert.ok(again?.outcome === 'started');
    assert.deepEqual(again.restartNeeded.map((r) => r.setting), ['corral code'], 'the answer still says so');
    assert.equal(t.log.lines().filter((l) => l.event === 'reload.code_changed').length, 1, 'the log says each build once');
  } finally {
    t.log.close();
  }
});

test('a reload after the release under the path corral was started as was switched says the master runs the old one and a restart is needed, once per release', async () => {
  let move: { launcher: string; running: string; now: string } | undefined;
  const t = await setup({}, true, { codeIdentity: () => 'aaaaaaaaaaaa', installMove: () => move });
  try {
    t.bootWithKeeper();
    move = { launcher: '/opt/corral/current/bin/corral', running: '/opt/corral/releases/1', now: '/opt/corral/releases/2' };
    for (const _ of [1, 2]) {
      t.arbiter.record('reload');
      t.arbiter.tick();
      const outcome = t.arbiter.view().reloadOutcome();
      assert.ok(outcome?.outcome === 'started');
      assert.deepEqual(outcome.restartNeeded, [{ setting: 'corral code', running: '/opt/corral/releases/1', configured: '/opt/corral/releases/2 (where /opt/corral/current/bin/corral leads now)' }]);
      t.run(250);
      t.children.filter((c) => c.identity.role === 'worker' && !c.exited && !c.sent.some((m) => m.type === 'drain')).forEach(ready);
      t.run(250);
      for (const c of t.children.filter((w) => w.identity.role === 'worker' && !w.exited && w.sent.some((m) => m.type === 'drain'))) c.exit(0);
      t.run(250);
    }
    const said = t.log.lines().filter((l) => l.event === 'reload.code_changed');
    assert.equal(said.length, 1, 'said once per release');
    assert.deepEqual([said[0]?.running_dir, said[0]?.launcher, said[0]?.launcher_dir], ['/opt/corral/releases/1', '/opt/corral/current/bin/corral', '/opt/corral/releases/2']);
    assert.match(String(said[0]?.msg), /this reload runs the code of \/opt\/corral\/releases\/1, not of \/opt\/corral\/releases\/2; restart corral/);
  } finally {
    t.log.close();
  }
});

test('a keeper that crashes soon after each ready backs off like a worker; one that lived long is restarted at once', async () => {
  // Its failure count starts again at each ready: it was restarted within 250 ms every time, for good.
  const t = await setup({ CORRAL_WORKERS: '1' }, true);
  try {
    t.bootWithKeeper();
    for (let crash = 1; crash <= 6; crash++) {
      t.run(250);
      t.keepers().at(-1)!.exit(1);
      t.arbiter.tick();
      const line = t.log.lines().filter((l) => l.event === 'keeper.exit').at(-1);
      assert.equal(line?.crash_loop, crash);
      // The admin API says when it comes back, as the log line did.
      const wait = t.arbiter.view().keeperRespawnWait();
      assert.deepEqual([wait?.inMs, wait?.crashLoop], [line?.respawn_in_ms, crash]);
      const waited = t.untilForked(25);
      assert.equal(t.arbiter.view().keeperRespawnWait(), undefined, 'none once the next keeper is forked');
      assert.ok(waited >= 125 * 2 ** (crash - 1), `crash ${crash}: the next keeper waited ${waited} ms`);
      t.keepers().at(-1)!.say({ type: 'ready' });
      t.arbiter.tick();
    }
    // Ready for longer than a quick crash: not a loop any more.
    for (let i = 0; i < 48; i++) {
      t.run(250);
      beatAll(t.children.filter((c) => !c.exited));
    }
    t.keepers().at(-1)!.exit(1);
    t.arbiter.tick();
    assert.equal(t.log.lines().filter((l) => l.event === 'keeper.exit').at(-1)?.crash_loop, 0);
    assert.ok(t.untilForked(25) <= 250, 'restarted after the first step');
  } finally {
    t.log.close();
  }
});

test('a reload that changes no keeper setting keeps the keeper (and its warm cache)', async () => {
  const t = await setup({}, true);
  try {
    t.arbiter.tick();
    const keeper = t.children.find((c) => c.identity.role === 'keeper');
    keeper?.say({ type: 'ready' });
    t.arbiter.tick();
    t.setNextEnv({ CORRAL_WORKERS: '3' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(!keeper?.sent.some((m) => m.type === 'drain'));
    assert.equal(t.children.filter((c) => c.identity.generation === 2).length, 3);
  } finally {
    t.log.close();
  }
});

test('a stop during a reload says that reload is abandoned, in shutdown.start (a reload.start left without its reload.done or reload.failed); a stop without one does not', async () => {
  const t = await setup({ CORRAL_GRACEFUL_TIMEOUT: '30' });
  try {
    t.bootAll();
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.arbiter.record('stop');
    t.arbiter.tick();
    const start = t.log.lines().find((l) => l.event === 'shutdown.start');
    assert.equal(start?.reload_abandoned, 2);
    assert.equal(start?.msg, 'graceful shutdown; the reload to generation 2 in progress is abandoned, and the one queued behind it (its new workers stop with the others)');
  } finally {
    t.log.close();
  }
  const plain = await setup();
  try {
    plain.bootAll();
    plain.arbiter.record('stop');
    plain.arbiter.tick();
    const start = plain.log.lines().find((l) => l.event === 'shutdown.start');
    assert.equal(start?.reload_abandoned, undefined);
    assert.equal(start?.msg, 'graceful shutdown');
  } finally {
    plain.log.close();
  }
});

test('a second TERM during a graceful stop is said to be ignored with what cuts the stop short; a QUIT then hastens it once, and a QUIT during a fast stop is ignored, not said to cut a graceful stop short', async () => {
  const t = await setup({ CORRAL_GRACEFUL_TIMEOUT: '30' });
  try {
    t.bootAll();
    t.arbiter.record('stop');
    t.arbiter.tick();
    t.arbiter.record('stop');
    t.arbiter.tick();
    const ignoredStop = t.log.lines().filter((l) => l.event === 'shutdown.ignored');
    assert.deepEqual(ignoredStop.map((l) => l.intent), ['stop']);
    assert.match(String(ignoredStop[0]?.msg), /^stop ignored: the master is already stopping gracefully \(requests in flight finish, up to CORRAL_GRACEFUL_TIMEOUT=30 s\); QUIT cuts it short \(corral stop --fast, or Ctrl-\\ in a terminal\)$/);
    t.arbiter.record('quit');
    t.arbiter.tick();
    t.arbiter.record('quit');
    t.arbiter.tick();
    assert.equal(t.log.lines().filter((l) => l.event === 'shutdown.hastened').length, 1, 'the first QUIT cuts the graceful stop short, said once');
    const ignored = t.log.lines().filter((l) => l.event === 'shutdown.ignored');
    assert.deepEqual(ignored.map((l) => l.intent), ['stop', 'quit']);
    assert.equal(ignored[1]?.msg, 'quit ignored: the master is already stopping fast');
  } finally {
    t.log.close();
  }
});

test('SIGQUIT after SIGTERM kills a draining worker that hangs within 2 s, and repeated SIGQUITs do not postpone it', async () => {
  const t = await setup({ CORRAL_GRACEFUL_TIMEOUT: '30' });
  try {
    t.bootAll();
    t.arbiter.record('stop');
    t.arbiter.tick();
    const workers = t.children.filter((c) => c.identity.role === 'worker');
    assert.ok(workers.every((c) => c.sent.some((m) => m.type === 'drain')));
    // They hang in their drain, beating; SIGQUIT comes every second.
    let killedAt: number | undefined;
    for (let ms = 0; ms < 10_000 && killedAt === undefined; ms += 250) {
      if (ms % 1000 === 0) t.arbiter.record('quit');
      t.advance(250);
      beatAll(workers);
      t.arbiter.tick();
      if (workers.every((c) => c.kills.includes('SIGKILL'))) killedAt = ms + 250;
    }
    assert.ok(killedAt !== undefined && killedAt <= 2_500, `SIGKILL ${killedAt} ms after the first SIGQUIT, not at the 32 s graceful deadline nor never`);
  } finally {
    t.log.close();
  }
});

test('stop: a booting worker whose event loop is blocked (no beats) gets SIGKILL once it is not beating, not at CORRAL_TIMEOUT or the graceful timeout', async () => {
  const t = await setup({ CORRAL_TIMEOUT: '5', CORRAL_GRACEFUL_TIMEOUT: '30' });
  try {
    t.arbiter.tick();
    const [blocked, loading] = t.children;
    // Both beat once (their own code started); then one's loop blocks, at the app's import.
    beatAll([blocked!, loading!]);
    t.arbiter.record('stop');
    t.arbiter.tick();
    assert.deepEqual(blocked?.kills, ['SIGTERM']);
    // One still loading beats, and runs its close hooks; the other's loop is blocked at import.
    // Beats come every second (CORRAL_TIMEOUT 5): three missed, and it cannot run its SIGTERM handler.
    for (let ms = 0; ms < 3000; ms += 250) {
      beatAll([loading!]);
      t.run(250);
    }
    assert.deepEqual(blocked?.kills, ['SIGTERM']);
    beatAll([loading!]);
    t.run(250);
    assert.deepEqual(blocked?.kills, ['SIGTERM', 'SIGKILL'], 'killed just past three missed beats, not 5 s (CORRAL_TIMEOUT) nor 32 s after the SIGTERM');
    assert.deepEqual(loading?.kills, ['SIGTERM']);
    const line = t.log.lines().find((l) => l.event === 'worker.kill');
    assert.deepEqual([line?.worker_pid, line?.reason, line?.booting, line?.drain_reason], [blocked?.pid, 'not beating', true, 'shutdown']);
    assert.match(String(line?.msg), /while booting: it cannot stop \(shutdown\); killing it now rather than at CORRAL_TIMEOUT \(it serves nothing yet\)/);
    assert.equal(t.log.lines().filter((l) => l.event === 'worker.timeout').length, 0);
    blocked!.exit(null, 'SIGKILL');
    t.arbiter.tick();
    assert.equal(t.log.lines().find((l) => l.event === 'worker.exit')?.reason, 'shutdown');
    assert.equal(t.log.lines().filter((l) => l.event === 'worker.boot_failed').length, 0, 'a stopped worker is no failed boot');
    // The other ran its close hooks and stopped beating on purpose: it is on its way out, not stuck.
    loading!.say({ type: 'drained' });
    t.run(6000);
    assert.deepEqual(loading?.kills, ['SIGTERM']);
  } finally {
    t.log.close();
  }
});

test('stop: a booting worker that does not exit on SIGTERM gets SIGKILL after the graceful timeout, and the master exits', async () => {
  const t = await setup({ CORRAL_GRACEFUL_TIMEOUT: '3' });
  try {
    t.arbiter.tick();
    const [a, b] = t.children;
    t.arbiter.record('stop');
    t.arbiter.tick();
    assert.deepEqual(a?.kills, ['SIGTERM']);
    // Both hang in their close hooks (or a blocked loop), beating all the while.
    for (let ms = 0; ms < 4_500; ms += 500) {
      t.advance(500);
      beatAll(t.children);
      t.arbiter.tick();
    }
    assert.deepEqual(a?.kills, ['SIGTERM'], 'not before the graceful timeout + 2 s');
    t.advance(1_000);
    t.arbiter.tick();
    assert.deepEqual(a?.kills, ['SIGTERM', 'SIGKILL']);
    assert.deepEqual(b?.kills, ['SIGTERM', 'SIGKILL']);
    a?.exit(null, 'SIGKILL');
    b?.exit(null, 'SIGKILL');
    t.arbiter.tick();
    assert.deepEqual(t.exits, [0]);
  } finally {
    t.log.close();
  }
});

test('reload: an old-generation worker still booting is superseded with SIGTERM, then SIGKILL 2 s later if it hangs, so the reload ends', async () => {
  const t = await setup();
  try {
    t.bootAll();
    const [a] = t.children;
    // a crashes and its replacement is still booting when the reload starts.
    a?.exit(1);
    for (let i = 0; i < 20 && t.children.length < 3; i++) {
      t.advance(1_000);
      beatAll(t.children);
      t.arbiter.tick();
    }
    const booting = t.children[2];
    assert.equal(booting?.identity.generation, 1);
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.deepEqual(booting?.kills, ['SIGTERM']);
    for (const c of t.children.slice(3)) ready(c);
    t.advance(2_500);
    beatAll(t.children);
    t.arbiter.tick();
    assert.deepEqual(booting?.kills, ['SIGTERM', 'SIGKILL']);
    booting?.exit(null, 'SIGKILL');
    // The ready old worker drains and exits; the reload then ends with READY=1.
    const old = t.children[1];
    assert.equal(old?.sent.at(-1)?.type, 'drain');
    old?.exit(0);
    t.arbiter.tick();
    assert.ok(t.log.lines().some((l) => l.event === 'reload.done'), 'reload.done logged');
  } finally {
    t.log.close();
  }
});

test('reload refused while booting: READY=1 still waits for the workers', async () => {
  const t = await setup();
  try {
    t.arbiter.tick();
    t.setNextEnv({ CORRAL_WORKERS: '0' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(t.log.lines().some((l) => l.event === 'reload.failed'));
    assert.ok(!t.calls.some((c) => c.startsWith('ready')), 'no READY=1 with 0 workers ready');
    t.children.forEach(ready);
    t.arbiter.tick();
    assert.equal(t.calls.filter((c) => c.startsWith('ready')).length, 1);
  } finally {
    t.log.close();
  }
});

test('a master that did not run for longer than CORRAL_TIMEOUT does not kill its children as stuck', async () => {
  const t = await setup();
  try {
    t.bootAll();
    // SIGSTOP for 40 s (CORRAL_TIMEOUT is 5 s): the workers' beats wait unread in the pipes.
    t.advance(40_000);
    t.arbiter.tick();
    assert.deepEqual(t.children.map((c) => c.kills), [[], []]);
    assert.ok(t.log.lines().some((l) => l.event === 'master.stalled'));
    beatAll([t.children[1]!]);
    // A worker silent while the master runs is still killed once the timeout has passed.
    for (let i = 0; i < 12; i++) {
      t.advance(500);
      beatAll([t.children[1]!]);
      t.arbiter.tick();
    }
    assert.deepEqual(t.children[0]!.kills, ['SIGKILL']);
    assert.deepEqual(t.children[1]!.kills, []);
  } finally {
    t.log.close();
  }
});

test("a pause of the master's shorter than 5 s but past CORRAL_TIMEOUT kills no child, and is not said", async () => {
  const t = await setup({ CORRAL_TIMEOUT: '2' });
  try {
    t.bootAll();
    t.advance(400);
    t.arbiter.tick();
    // SIGSTOP for 3 s: the beats sent meanwhile wait in the pipes (before the fix, every child
    // was killed as silent for 3.4 s).
    t.advance(3000);
    t.arbiter.tick();
    assert.deepEqual(t.children.map((c) => c.kills), [[], []]);
    assert.equal(t.log.lines().some((l) => l.event === 'master.stalled'), false, 'a pause under 5 s is only discounted');
    beatAll(t.children);
    t.advance(250);
    t.arbiter.tick();
    assert.deepEqual(t.children.map((c) => c.kills), [[], []]);
  } finally {
    t.log.close();
  }
});

test("a stall of the master past the boot timeout does not count as a booting worker's time to get ready: its 'ready' may wait unread", async () => {
  const t = await setup({ CORRAL_TIMEOUT: '5' });
  try {
    t.arbiter.tick();
    beatAll(t.children);
    // A paused VM, 61 s: the workers became ready meanwhile, their 'ready' still in the pipes.
    t.advance(BOOT_TIMEOUT_FLOOR_MS + 1000);
    t.arbiter.tick();
    assert.deepEqual(t.children.map((c) => c.kills), [[], []], 'not killed as "not ready after 61 s"');
    t.children.forEach(ready);
    t.arbiter.tick();
    assert.ok(t.calls.some((c) => c.startsWith('ready')));
  } finally {
    t.log.close();
  }
});

test('a booting worker that never gets ready is still killed at the boot timeout after a stall of the master', async () => {
  const t = await setup({ CORRAL_TIMEOUT: '5' });
  try {
    t.arbiter.tick();
    // 30 s of its boot go by while the master runs (beating, createApp never resolving).
    t.run(30_000, t.children);
    t.advance(61_000);
    t.arbiter.tick();
    assert.deepEqual(t.children.map((c) => c.kills), [[], []], 'the stall is not its time');
    t.run(BOOT_TIMEOUT_FLOOR_MS - 30_000 + 1000, t.children);
    assert.deepEqual(t.children.map((c) => c.kills), [['SIGKILL'], ['SIGKILL']], 'killed once the boot timeout passed while the master ran');
    t.children.slice(0, 2).forEach((c) => c.exit(null, 'SIGKILL'));
    t.arbiter.tick();
    assert.match(String(t.log.lines().find((l) => l.event === 'worker.boot_failed')?.msg), /not ready after \d+ s \(createApp never resolved\?\)/);
  } finally {
    t.log.close();
  }
});

test('two stalls of the master back to back, each past CORRAL_TIMEOUT, kill no healthy child; a stuck one is still killed after', async () => {
  const t = await setup({ CORRAL_TIMEOUT: '5' });
  try {
    t.bootAll();
    t.run(1000, t.children);
    // Stalled 8 s (a host swapping): the tick back discounts it.
    t.advance(8000);
    t.arbiter.tick();
    // One turn of the loop reads the beats queued meanwhile, then the master stalls 8 s again
    // before its next tick. Counted, the second stall killed both workers as silent for 8 s.
    beatAll(t.children);
    t.advance(8000);
    t.arbiter.tick();
    assert.deepEqual(t.children.map((c) => c.kills), [[], []]);
    assert.equal(t.log.lines().filter((l) => l.event === 'master.stalled').length, 2, 'each stall is said');
    // A worker silent while the master runs is still killed once the timeout has passed.
    t.run(6000, [t.children[1]!]);
    assert.deepEqual([t.children[0]!.kills, t.children[1]!.kills], [['SIGKILL'], []]);
  } finally {
    t.log.close();
  }
});

test('a master slow on every tick still kills a stuck child: its pauses are not all discounted', async () => {
  const t = await setup({ CORRAL_TIMEOUT: '2' });
  try {
    t.bootAll();
    // Ticks 1.2 s apart, the beats read between them; worker 1 stops beating.
    let elapsed = 0;
    while (t.children[0]!.kills.length === 0 && elapsed < 20_000) {
      t.advance(1200);
      elapsed += 1200;
      beatAll([t.children[1]!]);
      t.arbiter.tick();
    }
    assert.deepEqual(t.children[0]!.kills, ['SIGKILL']);
    // Half the gaps discounted (each past a tick's period): about twice CORRAL_TIMEOUT, not four times or never.
    assert.ok(elapsed <= 6000, `killed after ${elapsed} ms`);
    assert.deepEqual(t.children[1]!.kills, []);
  } finally {
    t.log.close();
  }
});

test('a reload whose new workers cannot all boot, with no old worker left to go back to, ends instead of waiting for good', async () => {
  const t = await setup({ CORRAL_WORKERS: '2', CORRAL_BOOT_ATTEMPTS: '2' });
  try {
    t.bootAll();
    const [x, y] = t.children;
    t.arbiter.record('reload');
    t.arbiter.tick();
    const [a, b] = t.children.filter((c) => c.identity.generation === 2);
    ready(a!);
    t.arbiter.tick();
    // One old worker drains for A; the other dies meanwhile.
    const drained = [x!, y!].find((c) => c.sent.some((m) => m.type === 'drain'))!;
    const other = drained === x ? y! : x!;
    drained.exit(0);
    other.exit(1);
    t.arbiter.tick();
    // B and every retry fail to boot.
    b!.exit(4);
    t.arbiter.tick();
    for (let i = 0; i < 10 && !t.log.lines().some((l) => l.event === 'reload.failed'); i++) {
      t.advance(60_000);
      beatAll(t.children.filter((c) => !c.exited));
      t.arbiter.tick();
      for (const c of t.children.filter((c) => !c.exited && c !== a)) c.exit(4);
      t.arbiter.tick();
    }
    const failed = t.log.lines().find((l) => l.event === 'reload.failed');
    assert.match(String(failed?.msg), /cannot complete: .* 1 of 2 serve/);
    assert.ok(t.calls.some((c) => c.startsWith('ready') && c.includes('reload incomplete')), `READY=1 sent: ${t.calls.join(' | ')}`);
    // The next SIGHUP (the fix) is not queued behind it: it starts generation 3.
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(t.children.some((c) => c.identity.generation === 3), 'generation 3 forked');
    assert.deepEqual(t.exits, [], 'the master keeps running');
  } finally {
    t.log.close();
  }
});

test('a TTIN during a reload that is rolled back is carried over the count the rollback goes back to, and said', async () => {
  const t = await setup({ CORRAL_RELOAD_SETTLE: '2', CORRAL_BOOT_ATTEMPTS: '2' });
  try {
    t.bootAll();
    t.run(3000, t.children);
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.arbiter.record('ttin');
    assert.equal(settledExpected(t.arbiter.view()), 3, 'answered: one more than the reload\'s CORRAL_WORKERS');
    for (let i = 0; i < 6 && !t.log.lines().some((l) => l.event === 'reload.failed'); i++) {
      for (const c of t.children.filter((c) => c.identity.generation === 2 && !c.exited)) {
        c.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'cannot find module x' });
        c.exit(4);
      }
      t.run(40_000, t.children.filter((c) => !c.exited));
    }
    assert.ok(t.log.lines().some((l) => l.event === 'reload.failed'), 'the reload was rolled back');
    t.run(1000, t.children.filter((c) => !c.exited));
    assert.equal(t.arbiter.view().expectedWorkers(), 3, 'the 2 before the reload, +1 asked for during it: not dropped without a word');
    assert.equal(t.children.filter((c) => !c.exited && c.identity.generation === 1).length, 3);
    const said = t.log.lines().filter((l) => l.event === 'workers.scale').at(-1);
    assert.deepEqual([said?.expected, said?.delta, said?.workers_before_reload], [3, 1, 2]);
  } finally {
    t.log.close();
  }
});

test('a reload rolled back keeps its ready new workers serving until the old generation is back to strength', async () => {
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '2', CORRAL_GRACEFUL_TIMEOUT: '30' });
  try {
    t.bootAll();
    t.arbiter.record('reload');
    t.arbiter.tick();
    const [n1, n2] = t.children.filter((c) => c.identity.generation === 2);
    ready(n1!);
    t.arbiter.tick();
    const drainedOld = t.children.filter((c) => c.identity.generation === 1 && c.sent.some((m) => m.type === 'drain'));
    assert.equal(drainedOld.length, 1, 'one old worker made way for the ready new one');
    drainedOld[0]!.exit(0);
    t.arbiter.tick();
    // The other new worker cannot boot, nor its replacement: the reload gives up.
    n2!.exit(3);
    const failed = t.runUntilLogged('reload.failed', () => {
      for (const c of t.children) if (c.identity.generation === 2 && c !== n1 && !c.exited) c.exit(3);
    });
    assert.ok(failed, 'reload rolled back');
    assert.ok(!n1!.sent.some((m) => m.type === 'drain'), 'the ready new worker keeps serving');
    // A worker of the old generation is forked; once it is ready, the new one drains gracefully.
    t.run(250);
    const back = t.children.filter((c) => c.identity.generation === 1 && !c.sent.some((m) => m.type === 'drain'));
    const fresh = back.find((c) => c !== t.children[0] && c !== t.children[1]);
    assert.ok(fresh, 'an old-generation replacement was forked');
    ready(fresh);
    t.run(250);
    const drain = n1!.sent.find((m) => m.type === 'drain');
    assert.deepEqual(drain && { type: drain.type, gracefulMs: (drain as { gracefulMs: number }).gracefulMs }, { type: 'drain', gracefulMs: 30_000 });
  } finally {
    t.log.close();
  }
});

test('a failed reload stays in the status line systemd shows until a reload completes, and each reload that ends is numbered with its outcome (what `corral reload --wait` reads)', async () => {
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '2' });
  /** Lets `ms` pass tick by tick, every live child beating: the status line is re-sent every 5 s. */
  const live = (ms: number) => {
    for (let left = ms; left > 0; left -= 250) {
      t.advance(250);
      beatAll(t.children.filter((c) => !c.exited));
      t.arbiter.tick();
    }
  };
  const failures = () => t.log.lines().filter((l) => l.event === 'reload.failed').length;
  try {
    t.bootAll();
    // Refused for its settings (HUP sent without the unit's check).
    t.setNextEnv({ CORRAL_WORKERS: 'zero' });
    const standing = () => {
      const r = t.arbiter.view().reloadState();
      return { inProgress: r.inProgress, queued: r.queued, last: r.last && { seq: r.last.seq, outcome: r.last.outcome, generation: r.last.generation, code: r.last.code } };
    };
    assert.deepEqual(standing(), { inProgress: undefined, queued: false, last: undefined }, 'no reload yet');
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.match(t.calls.at(-1) ?? '', /^ready:2\/2 workers ready, generation 1, .*; last reload refused \(CORRAL_ERR_CONFIG_INVALID\), generation 1 serves: invalid settings: CORRAL_WORKERS="zero"/);
    assert.deepEqual(standing(), { inProgress: undefined, queued: false, last: { seq: 1, outcome: 'refused', generation: 1, code: 'CORRAL_ERR_CONFIG_INVALID' } });
    const before = t.statuses.length;
    live(6000);
    assert.ok(t.statuses.length > before, 'the status line was re-sent');
    assert.match(t.statuses.at(-1) ?? '', /; last reload refused \(CORRAL_ERR_CONFIG_INVALID\)/, 'still said after the periodic STATUS=');

    // Valid settings, but the new generation cannot boot: rolled back.
    t.setNextEnv({});
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.deepEqual(standing(), { inProgress: 2, queued: false, last: { seq: 1, outcome: 'refused', generation: 1, code: 'CORRAL_ERR_CONFIG_INVALID' } }, 'generation 2 boots');
    // Said of the generation that boots, and of the one that serves meanwhile: not "2/2 workers
    // ready, generation 2" while none of generation 2 has booted.
    assert.match(t.arbiter.statusLine(), /^reloading to generation 2 \(0\/2 workers ready\), generation 1 serving \(2 ready\), capacity /);
    for (let i = 0; i < 200 && failures() < 2; i++) {
      for (const c of t.children) if (c.identity.generation === 2 && !c.exited) c.exit(4);
      live(250);
    }
    assert.equal(failures(), 2, 'the reload was rolled back');
    assert.match(t.calls.at(-1) ?? '', /^ready:2\/2 workers ready, generation 1, .*; last reload rolled back \(CORRAL_ERR_APP_LOAD\), generation 1 serves: the new generation cannot boot/);
    assert.deepEqual(standing(), { inProgress: undefined, queued: false, last: { seq: 2, outcome: 'rolled_back', generation: 1, code: 'CORRAL_ERR_APP_LOAD' } });
    assert.equal(t.arbiter.view().reloadState().last?.message, t.calls.at(-1)?.replace(/^ready:.*?; /, ''), 'the same words as the status line');
    live(6000);
    assert.match(t.statuses.at(-1) ?? '', /; last reload rolled back \(CORRAL_ERR_APP_LOAD\), generation 1 serves/);

    // A reload that completes clears it.
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 3).forEach(ready);
    t.arbiter.tick();
    for (const c of t.children.filter((c) => c.identity.generation === 1 && c.sent.some((m) => m.type === 'drain'))) c.exit(0);
    t.arbiter.tick();
    assert.ok(t.log.lines().some((l) => l.event === 'reload.done'), 'reload.done logged');
    assert.match(t.calls.at(-1) ?? '', /^ready:2\/2 workers ready, generation 3, capacity \w+ \([^)]*\)$/);
    assert.deepEqual(standing(), { inProgress: undefined, queued: false, last: { seq: 3, outcome: 'completed', generation: 3, code: undefined } });
    // And counted by outcome in /metrics, every outcome there from the first scrape.
    const scraped = (await createAdminMetrics(t.arbiter.view(), () => undefined).render()).split('\n').filter((l) => l.startsWith('corral_reloads_total{'));
    assert.deepEqual(scraped, ['corral_reloads_total{outcome="completed"} 1', 'corral_reloads_total{outcome="refused"} 1', 'corral_reloads_total{outcome="rolled_back"} 1', 'corral_reloads_total{outcome="incomplete"} 0']);
    live(6000);
    assert.doesNotMatch(t.statuses.at(-1) ?? '', /last reload/);
  } finally {
    t.log.close();
  }
});

test('a worker forked once its generation has a ready worker is told when that was (it joins a serving generation); a first boot is not, and a rollback gives the old generation its time back', async () => {
  // What lets the app make a generation-wide choice (the session secret file) in the first boot
  // only: a lone replacement that made its own signed tokens the other workers refused.
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '2', CORRAL_GRACEFUL_TIMEOUT: '30' });
  try {
    const before = Date.now();
    t.bootAll();
    const after = Date.now();
    const [w1, w2] = t.children;
    assert.equal(w1!.identity.generationReadyAt, undefined, 'first boot');
    assert.equal(w2!.identity.generationReadyAt, undefined, 'first boot');
    // A recycle's replacement, and a worker added by TTIN, join generation 1.
    w1!.say({ type: 'retire', reason: 'max-requests' });
    t.arbiter.tick();
    const recycled = t.children[2]!;
    const readyAt = recycled.identity.generationReadyAt;
    assert.ok(readyAt !== undefined && readyAt >= before && readyAt <= after, `generation 1 ready at ${readyAt}, in [${before}, ${after}]`);
    ready(recycled);
    t.arbiter.tick();
    w1!.exit(0);
    t.arbiter.record('ttin');
    t.arbiter.tick();
    const added = t.children[3]!;
    assert.equal(added.identity.generationReadyAt, readyAt, 'TTIN');
    ready(added);
    t.arbiter.tick();
    t.arbiter.record('ttou');
    t.arbiter.tick();
    for (const c of t.children.filter((c) => !c.exited && c.sent.some((m) => m.type === 'drain'))) c.exit(0);
    t.arbiter.tick();

    // A reload's workers are its first boot: they may make what the generation shares.
    t.advance(1000);
    t.arbiter.record('reload');
    t.arbiter.tick();
    const [n1, n2] = t.children.filter((c) => c.identity.generation === 2);
    assert.equal(n1!.identity.generationReadyAt, undefined);
    assert.equal(n2!.identity.generationReadyAt, undefined);
    ready(n1!);
    t.arbiter.tick();
    for (const c of t.children.filter((c) => c.identity.generation === 1 && !c.exited && c.sent.some((m) => m.type === 'drain'))) c.exit(0);
    t.arbiter.tick();
    // n2 cannot boot, nor its replacements, which join generation 2: the reload is rolled back.
    n2!.exit(4);
    const failed = t.runUntilLogged('reload.failed', () => {
      for (const c of t.children) if (c.identity.generation === 2 && c !== n1 && !c.exited) c.exit(4);
    });
    assert.ok(failed, 'reload rolled back');
    const joined2 = t.children.filter((c) => c.identity.generation === 2 && c !== n1 && c !== n2);
    assert.ok(joined2.length > 0, 'generation 2 retried its worker');
    for (const c of joined2) assert.ok((c.identity.generationReadyAt ?? 0) >= readyAt, 'joins generation 2, ready since n1');
    // Generation 1 serves again: a worker forked for it joins it as of its own ready time.
    t.run(250);
    const back = t.children.filter((c) => c.identity.generation === 1 && c !== w1 && c !== w2 && c !== recycled && c !== added);
    assert.ok(back.length > 0, 'an old-generation replacement was forked');
    for (const c of back) assert.equal(c.identity.generationReadyAt, readyAt);
  } finally {
    t.log.close();
  }
});

for (const attempts of [3, 2]) {
test(`a reload whose new keeper cannot boot is rolled back: the keeper starts again with the old settings (CORRAL_BOOT_ATTEMPTS=${attempts})`, async () => {
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: String(attempts) }, true);
  try {
    const keeper = t.bootWithKeeper();
    const readyBefore = t.calls.filter((c) => c.startsWith('ready')).length;
    t.setNextEnv({ SHEET_CACHE_TTL: '90' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    keeper.exit(0);
    // Each new keeper reports a failed boot (say, a credentials file that is not there) and exits.
    const failed = t.runUntilLogged('reload.failed', () => {
      const last = t.keepers().at(-1)!;
      if (last.exited) return;
      last.say({ type: 'boot-failed', code: 'CORRAL_ERR_SHEETS_CREDENTIALS', message: 'cannot read /etc/corral/missing.json' });
      last.exit(7);
    });
    assert.ok(failed, 'reload rolled back');
    assert.match(String(failed.msg), new RegExp(`the keeper cannot boot with the new settings \\(${attempts} attempts\\)`));
    assert.equal(t.children.filter((c) => c.identity.role === 'worker' && c.identity.generation === 2).length, 0, 'no new worker was started');
    assert.equal(t.calls.filter((c) => c.startsWith('ready')).length, readyBefore + 1, 'READY=1 ends the reload for systemd');
    t.run(250);
    const back = t.keepers().at(-1)!;
    assert.ok(!back.exited, 'a keeper was started again');
    assert.equal(back.identity.generation, 1, 'with the settings the workers run');
  } finally {
    t.log.close();
  }
});
}

test('a reload rolled back after its new keeper got ready restarts the keeper with the old settings', async () => {
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '2' }, true);
  try {
    const keeper = t.bootWithKeeper();
    t.setNextEnv({ SHEET_CACHE_TTL: '90' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    keeper.exit(0);
    t.arbiter.tick();
    const newKeeper = t.keepers().at(-1)!;
    assert.equal(newKeeper.identity.generation, 2);
    newKeeper.say({ type: 'ready' });
    // The new keeper runs; the new workers cannot boot.
    const failed = t.runUntilLogged('reload.failed', () => {
      for (const c of t.children) if (c.identity.role === 'worker' && c.identity.generation === 2 && !c.exited) c.exit(4);
    });
    assert.ok(failed);
    assert.ok(newKeeper.sent.some((m) => m.type === 'drain'), 'the keeper on the new settings drains');
    newKeeper.exit(0);
    t.run(250);
    const back = t.keepers().at(-1)!;
    assert.notEqual(back, newKeeper);
    assert.equal(back.identity.generation, 1, 'a keeper on the old settings');
  } finally {
    t.log.close();
  }
});

test('a reload to an admin bind the next start would refuse is refused now; a safe one says it needs a restart', async () => {
  const t = await setup();
  try {
    t.bootAll();
    t.setNextEnv({ CORRAL_ADMIN_BIND: '0.0.0.0:19999' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    const failed = t.log.lines().find((l) => l.event === 'reload.failed');
    assert.match(String(failed?.msg), /CORRAL_ADMIN_BIND=0\.0\.0\.0:19999 is reachable from other hosts but CORRAL_ADMIN_TOKEN is unset/);
    assert.ok(!t.log.lines().some((l) => l.event === 'reload.start'));
    t.setNextEnv({ CORRAL_ADMIN_BIND: '0.0.0.0:19999', CORRAL_ADMIN_TOKEN: 'a-long-enough-token-1234' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(t.log.lines().some((l) => l.event === 'reload.start'));
    const note = t.log.lines().find((l) => l.event === 'config.restart_needed');
    assert.deepEqual([note?.setting, note?.configured], ['CORRAL_ADMIN_BIND', '0.0.0.0:19999']);
  } finally {
    t.log.close();
  }
});

test('a stalled master whose children beat before its first tick back still kills a stuck one later', async () => {
  const t = await setup();
  try {
    t.bootAll();
    t.advance(40_000);
    // On resume the queued beats of the healthy worker are read before the timer fires.
    beatAll([t.children[1]!]);
    t.arbiter.tick();
    assert.deepEqual(t.children.map((c) => c.kills), [[], []]);
    for (let i = 0; i < 12; i++) {
      t.advance(500);
      beatAll([t.children[0]!]);
      t.arbiter.tick();
    }
    assert.deepEqual(t.children[1]!.kills, ['SIGKILL'], 'silent for 6 s after the stall: killed');
    assert.deepEqual(t.children[0]!.kills, []);
  } finally {
    t.log.close();
  }
});

test('a replacement takes the slot of the worker it replaces, so per-worker metric series stay bounded', async () => {
  const t = await setup();
  try {
    t.bootAll();
    const slots = () => t.arbiter.view().children().filter((c) => c.role === 'worker').map((c) => [c.id, c.slot]);
    assert.deepEqual(slots(), [[1, 1], [2, 2]]);
    t.children[0]!.exit(1);
    t.run(5_000);
    assert.deepEqual(slots(), [[2, 2], [3, 1]], 'worker 3 took slot 1');
    // A reload runs both generations side by side: the new one takes the next free slots.
    t.children.filter((c) => !c.exited).forEach(ready);
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.deepEqual(slots(), [[2, 2], [3, 1], [4, 3], [5, 4]]);
  } finally {
    t.log.close();
  }
});

test('an uncaught exception soon after ready backs off like a crash: each replacement waits longer, and the drained exit is not counted again', async () => {
  const t = await setup({ CORRAL_WORKERS: '1' });
  try {
    t.bootAll();
    let previousDelay = 0;
    for (let crash = 1; crash <= 5; crash++) {
      const crashed = t.children.filter((c) => !c.exited).at(-1)!;
      t.run(250);
      crashed.say({ type: 'retire', reason: 'uncaught' });
      // Each further throw reports again: still one crash.
      crashed.say({ type: 'retire', reason: 'uncaught' });
      t.arbiter.tick();
      const line = t.log.lines().filter((l) => l.event === 'worker.recycle').at(-1);
      assert.equal(line?.reason, 'uncaught');
      assert.equal(line?.crash_loop, crash, 'one crash per uncaught worker, its exit not counted');
      const delay = Number(line?.respawn_in_ms);
      assert.ok(delay >= 125 * 2 ** (crash - 1) && delay >= previousDelay, `respawn_in_ms ${delay} grows (was ${previousDelay})`);
      previousDelay = delay;
      const waited = t.untilForked(25);
      assert.ok(waited >= delay, `the replacement waited ${waited} ms, at least respawn_in_ms ${delay}`);
      assert.equal(crashed.sent.filter((m) => m.type === 'drain').length, 0, 'the crashed worker serves until its replacement is ready');
      ready(t.children.at(-1)!);
      t.arbiter.tick();
      const drain = crashed.sent.find((m) => m.type === 'drain');
      assert.equal(drain?.type === 'drain' ? drain.reason : undefined, 'uncaught');
      crashed.exit(70);
      t.arbiter.tick();
    }
    const exits = t.log.lines().filter((l) => l.event === 'worker.exit');
    assert.equal(exits.length, 5);
    assert.ok(exits.every((l) => l.reason === 'uncaught' && l.exit_code === 70));
  } finally {
    t.log.close();
  }
});

test('a crash loop keeps backing off at the cap: waiting out a long respawn delay does not count as calm', async () => {
  // Delays double to the 30 s cap; the counter used to be zeroed once 20 s passed without a crash,
  // which the wait before the 8th replacement itself outlasts, so the loop started over at 250 ms.
  const t = await setup({ CORRAL_WORKERS: '1' });
  try {
    t.bootAll();
    for (let crash = 1; crash <= 10; crash++) {
      const worker = t.children.filter((c) => !c.exited).at(-1)!;
      t.run(250);
      worker.exit(1);
      t.arbiter.tick();
      const line = t.log.lines().filter((l) => l.event === 'worker.exit').at(-1);
      assert.equal(line?.crash_loop, crash, `crash ${crash} is counted as the ${crash}th of the loop`);
      const waited = t.untilForked(100);
      if (crash >= 8) assert.ok(waited >= 15_000, `crash ${crash}: the replacement waited ${waited} ms, at the cap (30 s, jittered)`);
      ready(t.children.at(-1)!);
      t.arbiter.tick();
    }
  } finally {
    t.log.close();
  }
});

test('workers that crash together are one step of the crash loop: 8 killed at once are all replaced after that step\'s wait', async () => {
  // Counted one by one, the 8th crash made its replacement wait 15-30 s with no worker serving.
  const t = await setup({ CORRAL_WORKERS: '8' });
  try {
    t.bootAll();
    t.run(500);
    const first = t.children.slice(0, 8);
    // Half of them exit, half report an uncaught exception (they keep serving until replaced).
    first.slice(0, 4).forEach((c) => c.exit(null, 'SIGKILL'));
    first.slice(4).forEach((c) => c.say({ type: 'retire', reason: 'uncaught' }));
    t.arbiter.tick();
    const lines = t.log.lines().filter((l) => (l.event === 'worker.exit' || l.event === 'worker.recycle') && l.crash_loop !== undefined);
    assert.equal(lines.length, 8);
    assert.deepEqual(lines.map((l) => l.crash_loop), Array<number>(8).fill(1), 'one step for all eight');
    assert.deepEqual(lines.map((l) => l.crash_counted), [true, ...Array<boolean>(7).fill(false)]);
    assert.ok(lines.every((l) => Number(l.respawn_in_ms) <= 250), `respawn_in_ms: ${lines.map((l) => l.respawn_in_ms).join(', ')}`);
    const waited = t.untilForked(25);
    assert.ok(waited <= 250, `the replacements waited ${waited} ms, one step (at most 250 ms)`);
    assert.equal(t.children.length, 16, 'all eight replacements forked at once');
  } finally {
    t.log.close();
  }
});

test('workers that keep crashing after their replacement still escalate, one step per round of replacements', async () => {
  const t = await setup({ CORRAL_WORKERS: '4' });
  try {
    t.bootAll();
    for (let round = 1; round <= 5; round++) {
      t.run(250);
      const live = t.children.filter((c) => !c.exited);
      assert.equal(live.length, 4);
      live.forEach((c) => c.exit(1));
      t.arbiter.tick();
      const lines = t.log.lines().filter((l) => l.event === 'worker.exit').slice(-4);
      assert.deepEqual(lines.map((l) => l.crash_loop), Array<number>(4).fill(round), `round ${round} is step ${round}`);
      const waited = t.untilForked(25);
      // Step n waits 250 * 2^(n-1) ms, half of it jitter.
      assert.ok(waited >= 125 * 2 ** (round - 1) && waited <= 250 * 2 ** (round - 1) + 25, `round ${round}: waited ${waited} ms`);
      // Replacements come one per tick after the second step: let all four start and get ready.
      for (let i = 0; i < 20 && t.children.filter((c) => !c.exited).length < 4; i++) t.run(250);
      t.children.filter((c) => !c.exited).forEach(ready);
      t.arbiter.tick();
    }
  } finally {
    t.log.close();
  }
});

test('a worker forked with the one whose crash counted, ready and crashing long after it, is a step of its own', async () => {
  const t = await setup({ CORRAL_WORKERS: '2' });
  try {
    t.arbiter.tick();
    const [fast, slow] = [t.children[0]!, t.children[1]!];
    ready(fast);
    t.run(500);
    fast.exit(1);
    t.arbiter.tick();
    assert.equal(t.log.lines().filter((l) => l.event === 'worker.exit').at(-1)?.crash_loop, 1);
    // The slow one keeps booting (beating) well past the crash, then crashes soon after ready.
    for (let i = 0; i < 44; i++) {
      t.run(250);
      beatAll([slow]);
    }
    ready(slow);
    t.run(500);
    slow.exit(1);
    t.arbiter.tick();
    const line = t.log.lines().filter((l) => l.event === 'worker.exit').at(-1);
    assert.equal(line?.worker_id, 2);
    assert.equal(line?.crash_counted, true);
    assert.equal(line?.crash_loop, 2);
  } finally {
    t.log.close();
  }
});

test('while the backoff holds the next fork, the status line and the admin view say so, at once, and the capacity says UNAVAILABLE', async () => {
  // They said only "0/2 workers ready" for up to 30 s, with nothing of why or for how long.
  const t = await setup({ CORRAL_WORKERS: '2' });
  try {
    t.bootAll();
    t.run(250);
    t.children.forEach((c) => c.exit(1));
    t.arbiter.tick();
    const wait = t.arbiter.view().respawnWait();
    assert.equal(wait?.crashLoop, 1);
    assert.equal(wait?.bootFailures, 0);
    assert.ok(wait !== undefined && wait.inMs > 0 && wait.inMs <= 250, `inMs ${wait?.inMs}`);
    assert.match(t.arbiter.statusLine(), /^0\/2 workers ready, generation 1, capacity UNAVAILABLE \(0\/\d+ busy, 0 idle\); respawning in 1 s \(crash loop 1\)$/);
    // No worker left: nothing accepts a connection (it said LOW, with every slot free).
    assert.deepEqual([t.arbiter.capacity().status, t.arbiter.capacity().can_accept_new, t.arbiter.capacity().available_slots], ['UNAVAILABLE', false, 0]);
    assert.match(t.statuses.at(-1) ?? '', /respawning in 1 s \(crash loop 1\)/, 'STATUS= sent when the wait starts');
    t.untilForked(25);
    assert.equal(t.arbiter.view().respawnWait(), undefined, 'forked: no wait');
    assert.doesNotMatch(t.arbiter.statusLine(), /respawning/);
    assert.doesNotMatch(t.statuses.at(-1) ?? '', /respawning/, 'STATUS= sent when the wait ends');
  } finally {
    t.log.close();
  }
});

test('the status line and the capacity say UNAVAILABLE while no worker serves: every ready worker stuck, a crash loop, a stop begun', async () => {
  // They said LOW with can_accept_new and every slot free, where health said 503 unavailable.
  const t = await setup({ CORRAL_WORKERS: '2', CORRAL_TIMEOUT: '30', CORRAL_WORKER_CONNECTIONS: '1000' });
  try {
    t.bootAll();
    beatAll(t.children);
    t.run(250);
    assert.deepEqual([t.arbiter.capacity().status, t.arbiter.capacity().can_accept_new], ['LOW', true]);
    assert.match(t.arbiter.statusLine(), /^2\/2 workers ready, generation 1, capacity LOW /);
    // Both loops blocked: still 'ready' in the registry, silent for over three beats (1 s each at CORRAL_TIMEOUT 30).
    t.run(3500);
    const stuck = t.arbiter.capacity();
    assert.deepEqual([stuck.status, stuck.can_accept_new, stuck.available_slots], ['UNAVAILABLE', false, 0]);
    assert.match(t.arbiter.statusLine(), /^0\/2 workers ready, generation 1, capacity UNAVAILABLE /, 'counted as health counts them');
    // One beats again: it serves.
    beatAll([t.children[0]!]);
    t.arbiter.tick();
    assert.equal(t.arbiter.capacity().status, 'LOW');
    assert.match(t.arbiter.statusLine(), /^1\/2 workers ready/);
    // A stop has begun: the listener is closed to new clients.
    beatAll(t.children);
    t.arbiter.record('stop');
    t.arbiter.tick();
    assert.deepEqual([t.arbiter.capacity().status, t.arbiter.capacity().can_accept_new], ['UNAVAILABLE', false]);
  } finally {
    t.log.close();
  }
});

test('failed boots waiting for their backoff are said as such', async () => {
  const t = await setup({ CORRAL_WORKERS: '2', CORRAL_BOOT_ATTEMPTS: '5' });
  try {
    t.arbiter.tick();
    t.children.forEach((c) => c.exit(4));
    t.arbiter.tick();
    assert.equal(t.arbiter.view().respawnWait()?.bootFailures, 1);
    assert.match(t.arbiter.statusLine(), /respawning in 1 s \(1 failed boot in a row\)$/);
  } finally {
    t.log.close();
  }
});

test('an uncaught exception in a worker already draining is not counted as a crash', async () => {
  const t = await setup({ CORRAL_WORKERS: '1' });
  try {
    t.bootAll();
    t.run(500);
    const old = t.children[0]!;
    t.arbiter.record('reload');
    t.arbiter.tick();
    ready(t.children.at(-1)!);
    t.arbiter.tick();
    assert.ok(old.sent.some((m) => m.type === 'drain'), 'the old worker is draining');
    old.say({ type: 'retire', reason: 'uncaught' });
    t.arbiter.tick();
    old.exit(70);
    t.arbiter.tick();
    assert.equal(t.log.lines().filter((l) => l.event === 'worker.recycle').length, 0);
    assert.equal(t.log.lines().find((l) => l.event === 'worker.exit')?.crash_loop, undefined, 'an expected exit');
    // The next real crash is the first of a loop.
    t.run(500);
    t.children.at(-1)!.exit(1);
    t.arbiter.tick();
    assert.equal(t.log.lines().filter((l) => l.event === 'worker.exit').at(-1)?.crash_loop, 1);
  } finally {
    t.log.close();
  }
});

test('a reload that moves CORRAL_LOG_FILE where the master cannot follow warns once, not at every reload after it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-arbiter-log-'));
  // The master writes to stdout: it can change its level, not move to a file.
  const t = await setup({ CORRAL_WORKERS: '1' }, false, { configureLogs: (next) => next.CORRAL_LOG_FILE === undefined });
  try {
    t.bootAll();
    let generation = 1;
    const reloadTo = (env: Record<string, string>) => {
      t.setNextEnv(env);
      t.arbiter.record('reload');
      t.arbiter.tick();
      generation++;
      t.children.filter((c) => c.identity.generation === generation).forEach(ready);
      t.arbiter.tick();
      t.children.filter((c) => !c.exited && c.identity.generation < generation).forEach((c) => c.exit(0));
      t.arbiter.tick();
    };
    const warnings = () => t.log.lines().filter((l) => l.event === 'config.restart_needed' && l.setting === 'CORRAL_LOG_FILE');
    const file = join(dir, 'corral.log');
    reloadTo({ CORRAL_LOG_FILE: file });
    assert.equal(warnings().length, 1);
    assert.equal(warnings()[0]?.configured, file);
    reloadTo({ CORRAL_LOG_FILE: file, CORRAL_WORKERS: '2' });
    reloadTo({ CORRAL_LOG_FILE: file });
    assert.equal(t.log.lines().filter((l) => l.event === 'reload.done').length, 3);
    assert.equal(warnings().length, 1, 'the reloads that kept the same file said nothing more');
  } finally {
    t.log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload rolled back after it moved the log file: the master writes to the old file again, and later reloads name that one as running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-arbiter-log-'));
  const [fileA, fileB] = [join(dir, 'a.log'), join(dir, 'b.log')];
  // As the logger does: a file can move to another file, not to stdout.
  let writingTo: string | undefined = fileA;
  const configureLogs = (next: { CORRAL_LOG_FILE?: string | undefined }) => {
    if (next.CORRAL_LOG_FILE === writingTo) return true;
    if (writingTo === undefined || next.CORRAL_LOG_FILE === undefined) return false;
    writingTo = next.CORRAL_LOG_FILE;
    return true;
  };
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_BOOT_ATTEMPTS: '2', CORRAL_LOG_FILE: fileA }, false, { configureLogs });
  try {
    t.bootAll();
    t.setNextEnv({ CORRAL_LOG_FILE: fileB });
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.equal(writingTo, fileB, 'the reload moved the master to the new file');
    const failed = t.runUntilLogged('reload.failed', () => {
      for (const c of t.children) if (c.identity.generation === 2 && !c.exited) c.exit(3);
    });
    assert.ok(failed, 'reload rolled back');
    assert.equal(writingTo, fileA, 'the rollback moved it back');

    // Back to stdout ('' is unset), where a master that writes to a file cannot follow.
    t.setNextEnv({ CORRAL_LOG_FILE: '' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    // The reload's answer (POST /api/admin/reload, corral reload) names the file the master writes to.
    const outcome = t.arbiter.view().reloadOutcome();
    assert.equal(outcome?.outcome, 'started');
    const logFile = outcome?.outcome === 'started' ? outcome.restartNeeded.find((r) => r.setting === 'CORRAL_LOG_FILE') : undefined;
    assert.deepEqual([logFile?.running, logFile?.configured], [fileA, '(unset)']);
  } finally {
    t.log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker that exits by itself after reporting an uncaught exception is counted once', async () => {
  const t = await setup();
  try {
    t.bootAll();
    t.run(500);
    t.children[0]!.say({ type: 'retire', reason: 'uncaught' });
    t.arbiter.tick();
    // Its own fallback ran before the master drained it.
    t.children[0]!.exit(70);
    t.arbiter.tick();
    const exit = t.log.lines().find((l) => l.event === 'worker.exit');
    assert.equal(exit?.crash_loop, 1);
    t.run(1000);
    // Its replacement throws too: the next step (worker 2, forked with worker 1, would share its step).
    const replacement = t.children[2]!;
    ready(replacement);
    t.run(250);
    replacement.say({ type: 'retire', reason: 'uncaught' });
    t.arbiter.tick();
    const second = t.log.lines().filter((l) => l.event === 'worker.recycle').at(-1);
    assert.equal(second?.worker_id, 3);
    assert.equal(second?.crash_loop, 2);
  } finally {
    t.log.close();
  }
});

test('recycling after max requests is not a crash: the replacement starts at once', async () => {
  const t = await setup();
  try {
    t.bootAll();
    t.children[0]!.say({ type: 'retire', reason: 'max-requests' });
    t.arbiter.tick();
    assert.equal(t.children.length, 3, 'replacement forked in the same tick');
    const line = t.log.lines().find((l) => l.event === 'worker.recycle');
    assert.equal(line?.reason, 'max-requests');
    assert.equal(line?.crash_loop, undefined);
    assert.equal(line?.generation, 1, 'worker.recycle names the generation, as worker.exit does');
  } finally {
    t.log.close();
  }
});

test('the admin view counts worker-count changes not yet handled, so concurrent TTOUs cannot go under one worker unnoticed', async () => {
  const t = await setup({ CORRAL_WORKERS: '3' });
  try {
    t.bootAll();
    const view = t.arbiter.view();
    assert.equal(settledExpected(view), 3);
    // Three admin requests answered before the next tick.
    view.requestWorkerDelta(-1);
    assert.equal(settledExpected(view), 2);
    view.requestWorkerDelta(-1);
    assert.equal(settledExpected(view), 1);
    view.requestWorkerDelta(-1);
    assert.equal(settledExpected(view), 1, 'the arbiter keeps one worker');
    view.requestWorkerDelta(1);
    assert.equal(settledExpected(view), 2);
    t.arbiter.tick();
    assert.equal(settledExpected(view), 2, 'what the tick applied');
  } finally {
    t.log.close();
  }
});

test('a worker still booting when a TTOU retires it exits as a scale-down, the reason its recycle line gave (not superseded, counted as a reload)', async () => {
  const t = await setup();
  try {
    t.bootAll();
    // A reload's new workers are booting when the TTOU comes: one of them is the one retired.
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.arbiter.record('ttou');
    t.arbiter.tick();
    const recycled = t.log.lines().find((l) => l.event === 'worker.recycle');
    assert.equal(recycled?.reason, 'scale-down');
    const booting = t.children.find((c) => c.pid === recycled?.worker_pid);
    assert.ok(booting, 'a worker of the new generation, still booting');
    booting.exit(0);
    t.arbiter.tick();
    const exit = t.log.lines().find((l) => l.event === 'worker.exit' && l.worker_pid === booting.pid);
    assert.equal(exit?.reason, 'scale-down');
    assert.deepEqual(t.arbiter.view().childExits().worker, { scale_down: 1 });
  } finally {
    t.log.close();
  }
});

test('a TTOU while the worker a TTIN forked still boots stops that one, and the workers that serve keep serving', async () => {
  const t = await setup({ CORRAL_WORKERS: '2' });
  try {
    t.bootAll();
    const serving = t.children.slice();
    t.arbiter.record('ttin');
    t.arbiter.tick();
    const added = t.children.find((c) => !serving.includes(c));
    assert.ok(added, 'the TTIN forked a worker');
    t.arbiter.record('ttou');
    t.arbiter.tick();
    const recycled = t.log.lines().filter((l) => l.event === 'worker.recycle');
    assert.deepEqual(recycled.map((l) => [l.worker_pid, l.reason]), [[added.pid, 'scale-down']], 'the booting worker is the one retired');
    assert.deepEqual(added.kills, ['SIGTERM'], 'stopped at once: it serves nothing yet');
    for (const c of serving) {
      assert.deepEqual(c.kills, [], `worker pid ${c.pid} is not stopped`);
      assert.equal(c.sent.some((m) => m.type === 'drain'), false, `worker pid ${c.pid} is not told to drain`);
    }
  } finally {
    t.log.close();
  }
});

test('TTOU at one worker changes nothing and says so, instead of logging a scale-down', async () => {
  const t = await setup({ CORRAL_WORKERS: '2' });
  try {
    t.bootAll();
    t.arbiter.record('ttou');
    t.arbiter.tick();
    t.arbiter.record('ttou');
    t.arbiter.tick();
    const scale = t.log.lines().filter((l) => l.event === 'workers.scale');
    assert.deepEqual(scale.map((l) => [l.expected, l.delta, l.level]), [[1, -1, 'info'], [1, 0, 'warn']]);
    assert.match(String(scale[1]?.msg), /TTOU ignored: already at the minimum of 1 worker/);
  } finally {
    t.log.close();
  }
});

test('TTIN at 512 workers (the bound of CORRAL_WORKERS) changes nothing and says so', async () => {
  const t = await setup({ CORRAL_WORKERS: '511' });
  try {
    t.arbiter.record('ttin');
    t.arbiter.tick();
    t.arbiter.record('ttin');
    t.arbiter.tick();
    const scale = t.log.lines().filter((l) => l.event === 'workers.scale');
    assert.deepEqual(scale.map((l) => [l.expected, l.delta, l.level]), [[512, 1, 'info'], [512, 0, 'warn']]);
    assert.match(String(scale[1]?.msg), /^TTIN ignored: already at the most of 512 workers \(the bound of CORRAL_WORKERS\)$/);
  } finally {
    t.log.close();
  }
});

test('the admin view answers what the master steers towards when a reload is queued behind a worker-count change', async () => {
  const t = await setup({ CORRAL_WORKERS: '2' });
  try {
    t.bootAll();
    const view = t.arbiter.view();
    t.setNextEnv({ CORRAL_WORKERS: '4' });
    // A TTIN, then a SIGHUP in the same turn: the reload re-reads CORRAL_WORKERS and undoes the TTIN.
    t.arbiter.record('ttin');
    t.arbiter.record('reload');
    assert.equal(settledExpected(view), 4, 'the reload\'s CORRAL_WORKERS, not 2 + 1');
    t.arbiter.tick();
    assert.equal(settledExpected(view), 4, 'what the tick applied');
    const second = t.children.filter((c) => c.identity.generation === 2);
    assert.equal(second.length, 4);
    second.forEach(ready);
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 1).forEach((c) => c.exit(0));
    t.arbiter.tick();
    assert.ok(t.log.lines().some((l) => l.event === 'reload.done' && l.generation === 2));
    // The other order: a change asked for after the reload counts on top of it.
    view.requestReload();
    view.requestWorkerDelta(-1);
    assert.equal(settledExpected(view), 3);
  } finally {
    t.log.close();
  }
});

test('the admin view: a reload refused for its settings leaves the worker-count change queued before it', async () => {
  const t = await setup({ CORRAL_WORKERS: '2' });
  try {
    t.bootAll();
    const view = t.arbiter.view();
    t.setNextEnv({ CORRAL_WORKERS: 'abc' });
    t.arbiter.record('ttin');
    t.arbiter.record('reload');
    assert.equal(settledExpected(view), 3);
    assert.ok(t.log.lines().some((l) => l.event === 'reload.failed'));
  } finally {
    t.log.close();
  }
});

test('the admin view at one worker: a TTOU after a reload back to CORRAL_WORKERS=3 is not refused as going under one', async () => {
  const t = await setup({ CORRAL_WORKERS: '1' });
  try {
    t.bootAll();
    const view = t.arbiter.view();
    t.setNextEnv({ CORRAL_WORKERS: '3' });
    view.requestReload();
    // The admin API refuses a TTOU when this is 1 or less.
    assert.equal(settledExpected(view), 3);
    view.requestWorkerDelta(-1);
    assert.equal(settledExpected(view), 2);
  } finally {
    t.log.close();
  }
});

/**
 * The arbiter's admin view, with `intent` recorded just before a request's first read of it once
 * armed: a signal that arrived in the same turn as that request, still waiting for the tick.
 */
function intentBeforeNextRead(view: AdminView, intent: () => void) {
  let armed = false;
  const proxied = new Proxy(view, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (armed) {
          armed = false;
          intent();
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { view: proxied, arm: () => void (armed = true) };
}

const ADMIN_TOKEN = 'arbiter-admin-token-0123456789';

/** The admin server over this view, as the master runs it (monitoring on the arbiter's own view). */
async function adminOver(t: Awaited<ReturnType<typeof setup>>, view: AdminView) {
  const monitoring = startMonitoring(t.arbiter.view(), t.log.logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000, hostIntervalMs: 60_000 });
  const server = await startAdminServer(view, t.log.logger, { host: '127.0.0.1', port: 0, monitoring });
  const base = `http://127.0.0.1:${server.port}`;
  return {
    fetch: async (path: string, method = 'GET') => {
      const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return { status: res.status, text: await res.text() };
    },
    close: async () => {
      await server.close();
      monitoring.close();
    },
  };
}

test('an admin answer is read from one settled state: a SIGTTOU or SIGHUP recorded in the same turn as the request is handled before any figure is read', async () => {
  const t = await setup({ CORRAL_WORKERS: '3', CORRAL_ADMIN_TOKEN: ADMIN_TOKEN });
  let intent: Intent = 'ttou';
  const { view, arm } = intentBeforeNextRead(t.arbiter.view(), () => t.arbiter.record(intent));
  const admin = await adminOver(t, view);
  try {
    t.bootAll();
    // SIGTTOU: the oldest worker drains at once (the two others are ready), so it is not counted ready.
    arm();
    const health = await admin.fetch('/api/admin/health');
    assert.deepEqual(JSON.parse(health.text), { status: 'ok', workers_ready: 2, workers_expected: 2, capacity: { status: 'LOW', percent_used: 0 } });
    // SIGHUP: the new generation and its booting workers, in the same scrape.
    intent = 'reload';
    arm();
    const metrics = (await admin.fetch('/metrics')).text;
    assert.match(metrics, /^corral_generation 2$/m);
    assert.match(metrics, /^corral_workers_expected 3$/m);
    assert.match(metrics, /^corral_workers\{state="booting"\} 3$/m);
    t.children.filter((c) => c.identity.generation === 2).forEach(ready);
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 1).forEach((c) => c.exit(0));
    t.arbiter.tick();
    assert.ok(t.log.lines().some((l) => l.event === 'reload.done' && l.generation === 2));
    arm();
    const stats = JSON.parse((await admin.fetch('/api/admin/stats')).text) as { master: { generation: number }; workers_expected: number; workers: { generation: number; state: string }[] };
    assert.equal(stats.master.generation, 3);
    assert.equal(stats.workers_expected, 3);
    assert.deepEqual(stats.workers.filter((w) => w.generation === 3).map((w) => w.state), ['booting', 'booting', 'booting']);
  } finally {
    await admin.close();
    t.log.close();
  }
});

test('POST /api/admin/reload answers what became of the reload: refused (409, naming the setting), started (the new generation) or queued behind one in progress', async () => {
  const t = await setup({ CORRAL_WORKERS: '2', CORRAL_ADMIN_TOKEN: ADMIN_TOKEN });
  const admin = await adminOver(t, t.arbiter.view());
  try {
    t.bootAll();
    t.setNextEnv({ CORRAL_WORKERS: 'abc' });
    const refused = await admin.fetch('/api/admin/reload', 'POST');
    assert.equal(refused.status, 409, refused.text);
    const r = JSON.parse(refused.text) as Record<string, unknown>;
    assert.deepEqual([r.success, r.error, r.reload, r.generation, r.code], [false, 'reload_refused', 'refused', 1, 'CORRAL_ERR_CONFIG_INVALID']);
    assert.match(String(r.message), /old workers keep serving generation 1; fix the settings.*CORRAL_WORKERS="abc"/s);
    assert.ok(t.log.lines().some((l) => l.event === 'reload.failed'));

    t.setNextEnv({ CORRAL_WORKERS: '3' });
    const started = await admin.fetch('/api/admin/reload', 'POST');
    assert.equal(started.status, 202, started.text);
    const s = JSON.parse(started.text) as Record<string, unknown>;
    assert.deepEqual([s.success, s.reload, s.generation], [true, 'started', 2]);
    assert.equal(t.children.filter((c) => c.identity.generation === 2).length, 3, 'its workers forked before the answer');

    const queued = await admin.fetch('/api/admin/reload', 'POST');
    assert.equal(queued.status, 202, queued.text);
    const q = JSON.parse(queued.text) as Record<string, unknown>;
    // The generation the queued reload boots, not the one it waits for: what a caller watches for
    // in the stats to know that its settings serve.
    assert.deepEqual([q.success, q.reload, q.generation, q.in_progress_generation], [true, 'queued', 3, 2]);
    assert.match(String(q.message), /generation 2 is in progress; this one starts generation 3 when it ends/);
    // Generation 2 serves and generation 1 has drained: the queued reload starts.
    t.children.filter((c) => c.identity.generation === 2).forEach(ready);
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 1).forEach((c) => c.exit(0));
    t.arbiter.tick();
    t.arbiter.tick();
    assert.equal(t.arbiter.view().generation(), 3, 'the queued reload boots the generation it was answered with');
  } finally {
    await admin.close();
    t.log.close();
  }
});

test('a tick that throws at every run (a bug) is one master.tick_failed line with the error, then a count at most once a minute, then master.tick_recovered once', async () => {
  let broken = false;
  const notifier: Notifier = {
    ready: () => {},
    reloading: () => {},
    extendTimeout: () => {},
    stopping: () => {},
    status: () => {},
    // Fed at every tick: it throws at every tick.
    watchdog: () => {
      if (broken) throw new TypeError("Cannot read properties of undefined (reading 'watchdog')");
    },
    watchdogIntervalMs: 250,
    close: () => {},
  };
  const t = await setup({}, false, { notifier });
  const lines = () => t.log.lines().filter((l) => String(l.event).startsWith('master.tick_'));
  /** `ms` of ticks every 250 ms, the workers beating. */
  const live = (ms: number) => {
    for (let left = ms; left > 0; left -= 250) {
      t.advance(250);
      beatAll(t.children.filter((c) => !c.exited));
      t.arbiter.tick();
    }
  };
  try {
    // From the first tick after the boot on, each feeds the watchdog, and fails.
    t.bootAll();
    broken = true;
    live(50_000);
    assert.deepEqual(
      lines().map((l) => [l.event, l.level, (l.err as { message?: string }).message, l.failed]),
      [['master.tick_failed', 'error', "Cannot read properties of undefined (reading 'watchdog')", 1]],
      'one line for 200 failed ticks',
    );
    live(20_000);
    // The tick a minute after the first line says the 240 since it (a tick every 250 ms).
    assert.deepEqual(lines().map((l) => [l.event, l.failed, l.failed_total]), [
      ['master.tick_failed', 1, 1],
      ['master.tick_failed', 240, 241],
    ]);
    broken = false;
    live(10_000);
    assert.deepEqual(lines().map((l) => [l.event, l.level, l.failed]), [
      ['master.tick_failed', 'error', 1],
      ['master.tick_failed', 'error', 240],
      ['master.tick_recovered', 'info', 280],
    ]);
    assert.equal(t.children.filter((c) => !c.exited).length, 2, 'the workers were served all along');
  } finally {
    t.log.close();
  }
});

test('exits are counted by role and reason, for the admin API and corral_child_exits_total: a stuck worker killed, one dead unasked, a reload', async () => {
  const t = await setup();
  try {
    t.bootAll();
    const view = t.arbiter.view();
    assert.deepEqual(view.childExits(), { worker: {}, keeper: {} });
    // Worker 1 goes silent past CORRAL_TIMEOUT (5 s) and is killed; worker 2 is killed -9 by someone else.
    t.run(5250, [t.children[1]!]);
    assert.deepEqual(t.children[0]!.kills, ['SIGKILL']);
    t.children[0]!.exit(null, 'SIGKILL');
    t.children[1]!.exit(null, 'SIGKILL');
    t.arbiter.tick();
    assert.deepEqual(view.childExits(), { worker: { timeout: 1, died: 1 }, keeper: {} });
    // The kill -9 nobody in corral sent is counted by its signal; the master's own SIGKILL of the
    // stuck one is not (its reason says it).
    assert.deepEqual(view.childSignalDeaths(), { worker: { SIGKILL: 1 }, keeper: {} });
    // The replacements come after the crash backoff's first step (both within 10 s of their ready:
    // one step for the two), boot, and a reload retires them.
    t.run(250);
    t.children.filter((c) => !c.exited).forEach(ready);
    t.arbiter.tick();
    t.arbiter.record('reload');
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 2).forEach(ready);
    t.arbiter.tick();
    const retired = t.children.filter((c) => c.identity.generation === 1 && !c.exited);
    assert.equal(retired.length, 2);
    retired.forEach((c) => c.exit(0));
    t.arbiter.tick();
    assert.deepEqual(view.childExits(), { worker: { timeout: 1, died: 1, reload: 2 }, keeper: {} });
    assert.deepEqual(view.childSignalDeaths(), { worker: { SIGKILL: 1 }, keeper: {} });
  } finally {
    t.log.close();
  }
});

test("a child the master killed (a boot past its timeout) is not said OOM-killed though the counters rose; the OOM kill is put to the next child that died unasked", async () => {
  let kills = 0;
  const causes = new DeathCauses(() => 0, { memory: () => ({ version: 2, oomKills: kills, limits: [{ path: '/system.slice/corral.service', limitBytes: 2 ** 29, reached: kills }] }), pids: () => undefined });
  const t = await setup({ CORRAL_WORKERS: '1' }, false, { deathCauses: causes });
  try {
    t.arbiter.tick();
    const [hung] = t.children;
    // Beating, never ready: killed at its boot timeout (a minute), with no stopReason.
    t.run(61_000, [hung!]);
    assert.deepEqual(hung!.kills, ['SIGKILL']);
    // The kernel killed some process of the cgroup meanwhile; the master's own SIGKILL lands too.
    kills = 1;
    hung!.exit(null, 'SIGKILL');
    t.arbiter.tick();
    assert.deepEqual(t.log.lines().filter((l) => l.oom_kill === true), [], "the master's kill is not the OOM killer's");
    t.untilForked(250);
    const next = t.children.find((c) => !c.exited);
    assert.ok(next, 'a replacement');
    ready(next);
    t.arbiter.tick();
    next.exit(null, 'SIGKILL');
    t.arbiter.tick();
    const said = t.log.lines().filter((l) => l.oom_kill === true);
    assert.equal(said.length, 1, JSON.stringify(t.log.lines().slice(-6).map((l) => [l.event, l.msg])));
    assert.equal(said[0]?.worker_pid, next.pid);
  } finally {
    t.log.close();
  }
});

test("a reload whose worker's fork is refused at a cgroup's pids.max names that limit and how to raise it, not the list of limits EAGAIN may mean", async () => {
  let refused = 0;
  const causes = new DeathCauses(() => 0, { memory: () => undefined, pids: () => ({ levels: [{ path: '/system.slice/corral.service', max: 40, refused }] }) });
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_BOOT_ATTEMPTS: '1' }, false, { deathCauses: causes });
  try {
    t.bootAll();
    t.arbiter.record('reload');
    t.arbiter.tick();
    const forked = t.children.find((c) => c.identity.generation === 2);
    assert.ok(forked, "the new generation's worker");
    refused = 1;
    forked.exit(null, null, Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' }));
    t.arbiter.tick();
    const failed = t.log.lines().find((l) => l.event === 'worker.boot_failed');
    assert.equal(failed?.code, 'CORRAL_ERR_FORK');
    const bootError = failed?.boot_error as Record<string, unknown>;
    assert.equal(bootError.task_limit_reached, true);
    assert.equal(bootError.task_limit, 40);
    assert.equal(bootError.task_limit_cgroup, '/system.slice/corral.service');
    assert.match(String(bootError.message), /^could not fork a worker process: spawn EAGAIN: the process and thread limit was reached: the cgroup's pids\.max 40 \(\/system\.slice\/corral\.service\) .*systemctl set-property corral\.service TasksMax=/);
    assert.doesNotMatch(String(bootError.message), /ulimit -u/, 'the limit is known: not the list of every limit EAGAIN may mean');
    const rolledBack = t.log.lines().find((l) => l.event === 'reload.failed');
    assert.equal(rolledBack?.code, 'CORRAL_ERR_FORK');
    assert.match(String(rolledBack?.msg), /pids\.max 40/);
  } finally {
    t.log.close();
  }
});

test('a fork refused at the pids limit after TTINs advises the TasksMax= of the workers asked for, not of CORRAL_WORKERS', async () => {
  let refused = 0;
  const causes = new DeathCauses(() => 0, { memory: () => undefined, pids: () => ({ levels: [{ path: '/system.slice/corral.service', max: 40, refused }] }) });
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_BOOT_ATTEMPTS: '1' }, false, { deathCauses: causes });
  try {
    t.bootAll();
    t.arbiter.record('ttin');
    t.arbiter.tick();
    t.arbiter.record('ttin');
    t.arbiter.tick();
    assert.equal(t.arbiter.view().expectedWorkers(), 3);
    const forked = t.children.filter((c) => c.identity.role === 'worker').at(-1);
    assert.ok(forked);
    refused = 1;
    forked.exit(null, null, Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' }));
    t.arbiter.tick();
    const failed = t.log.lines().find((l) => l.event === 'worker.boot_failed');
    const need = tasksNeeded(3, t.arbiter.view().settings().CORRAL_EXPORT_THREADS);
    assert.match(String((failed?.boot_error as { message: string }).message), new RegExp(`TasksMax=${need}\\b`), `the need of 3 workers, ${need}`);
  } finally {
    t.log.close();
  }
});

test("a fork refused for descriptors (EMFILE) is not put to the pids limit, though the cgroup's refusals rose since the last exit", async () => {
  let refused = 0;
  const causes = new DeathCauses(() => 0, { memory: () => undefined, pids: () => ({ levels: [{ path: '/system.slice/corral.service', max: 400, refused }] }) });
  const t = await setup({ CORRAL_WORKERS: '1' }, false, { deathCauses: causes });
  try {
    t.arbiter.tick();
    refused = 3;
    t.children[0]!.exit(null, null, Object.assign(new Error('spawn EMFILE'), { code: 'EMFILE' }));
    t.arbiter.tick();
    const failed = t.log.lines().find((l) => l.event === 'worker.boot_failed');
    assert.match(String((failed?.boot_error as { message: string }).message), /^could not fork a worker process: spawn EMFILE: the master is out of file descriptors/);
    assert.equal(failed?.task_limit_reached, undefined);
  } finally {
    t.log.close();
  }
});

test('a fork refused with no limit counted by the cgroup says the limits EAGAIN may mean', async () => {
  const causes = new DeathCauses(() => 0, { memory: () => undefined, pids: () => undefined });
  const t = await setup({ CORRAL_WORKERS: '1' }, false, { deathCauses: causes });
  try {
    t.arbiter.tick();
    const [first] = t.children;
    first!.exit(null, null, Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' }));
    t.arbiter.tick();
    const failed = t.log.lines().find((l) => l.event === 'worker.boot_failed');
    assert.equal(failed?.code, 'CORRAL_ERR_FORK');
    assert.match(String((failed?.boot_error as { message: string }).message), /^could not fork a worker process: spawn EAGAIN: the process or thread limit is reached \(systemd TasksMax=, a cgroup pids\.max, ulimit -u\)/);
    assert.equal((failed?.boot_error as Record<string, unknown>).task_limit_reached, undefined);
  } finally {
    t.log.close();
  }
});

test('logs.reopen says what asked for it: USR1, or the log file watch (a removed or replaced file), not "(USR1)" for both', async () => {
  let reopened = 0;
  const t = await setup({}, false, {
    reopenLogs: (said) => {
      reopened++;
      said?.();
    },
  });
  t.bootAll();
  t.arbiter.record('reopen-logs');
  t.arbiter.tick();
  t.arbiter.record('log-file-changed');
  t.arbiter.tick();
  const lines = t.log.lines().filter((l) => l.event === 'logs.reopen');
  assert.deepEqual(lines.map((l) => l.trigger), ['USR1', 'file_watch']);
  assert.match(String(lines[0]?.msg), /\(USR1\)/);
  assert.doesNotMatch(String(lines[1]?.msg), /USR1/);
  assert.match(String(lines[1]?.msg), /removed or replaced/);
  assert.equal(reopened, 2);
  // Either way every child is asked to reopen.
  assert.ok(t.children.every((c) => c.sent.filter((m) => m.type === 'reopen-logs').length === 2));
});

test('one worker, one attempt: said in the singular ("corral ready: 1 worker", "after 1 attempt"), not "1 workers", "1 attempts"', async () => {
  const one = await setup({ CORRAL_WORKERS: '1' });
  try {
    one.bootAll();
    assert.match(String(one.log.lines().find((l) => l.event === 'master.ready')?.msg), /^corral ready: 1 worker on port 8080$/);
  } finally {
    one.log.close();
  }
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_BOOT_ATTEMPTS: '1' });
  try {
    t.arbiter.tick();
    const [c] = t.children;
    c!.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'cannot find module x' });
    c!.exit(4);
    t.arbiter.tick();
    assert.deepEqual(t.exits, [3]);
    assert.match(String(t.log.lines().find((l) => l.event === 'boot.exhausted')?.msg), /^no worker could boot after 1 attempt: cannot find module x$/);
  } finally {
    t.log.close();
  }
});

// ---------------------------------------------------------------- the settle window (CORRAL_RELOAD_SETTLE)

const drainedOf = (cs: FakeChild[]) => cs.filter((c) => c.sent.some((m) => m.type === 'drain'));
const ofGeneration = (t: { children: FakeChild[] }, g: number) => t.children.filter((c) => c.identity.role === 'worker' && c.identity.generation === g);

/** Boots generation 1, reloads, and has every worker of generation 2 say ready: the tick after that ready. */
function reloadToReady(t: Awaited<ReturnType<typeof setup>>): { old: FakeChild[]; fresh: FakeChild[] } {
  t.bootAll();
  t.arbiter.record('reload');
  t.arbiter.tick();
  const old = ofGeneration(t, 1);
  const fresh = ofGeneration(t, 2);
  fresh.forEach(ready);
  t.arbiter.tick();
  return { old, fresh };
}

test('reload with a settle time: an old worker drains only once a new one has been ready for it, at the first tick after, and reload.done follows the old ones\' exits', async () => {
  const t = await setup({ CORRAL_RELOAD_SETTLE: '2' });
  try {
    const { old } = reloadToReady(t);
    assert.deepEqual(drainedOf(old), [], 'ready is not enough');
    for (let i = 0; i < 7; i++) {
      t.advance(250);
      beatAll(t.children);
      t.arbiter.tick();
    }
    assert.deepEqual(drainedOf(old), [], 'ready for 1.75 s');
    t.advance(250);
    beatAll(t.children);
    t.arbiter.tick();
    assert.equal(drainedOf(old).length, 2, 'both drain at the tick at 2 s');
    assert.deepEqual(t.log.lines().filter((l) => l.event === 'worker.settled').map((l) => l.ready_ms), [2000, 2000]);
    assert.ok(!t.log.lines().some((l) => l.event === 'reload.done'), 'not done while the old ones drain');
    old.forEach((c) => c.exit(0));
    t.arbiter.tick();
    assert.equal(t.log.lines().filter((l) => l.event === 'reload.done').length, 1);
  } finally {
    t.log.close();
  }
});

test('reload with a settle time: new workers that exit 0.5 s after ready are failed boots, counted once per fork batch and not as quick crashes; CORRAL_BOOT_ATTEMPTS of them roll the reload back with the old generation never drained', async () => {
  const t = await setup({ CORRAL_RELOAD_SETTLE: '2', CORRAL_BOOT_ATTEMPTS: '2' });
  try {
    const { old, fresh: first } = reloadToReady(t);
    t.advance(500);
    first.forEach((c) => c.exit(1));
    t.arbiter.tick();
    const failed = t.log.lines().filter((l) => l.event === 'worker.boot_failed');
    assert.equal(failed.length, 2);
    assert.deepEqual(failed.map((l) => l.failures), [1, 1], 'the batch fails once');
    assert.equal((failed[0]?.boot_error as { message: string }).message, 'worker exited with code 1 0.5 s after it was ready, before it settled (CORRAL_RELOAD_SETTLE)');
    assert.equal(failed[0]?.code, 'CORRAL_ERR_WORKER_DIED');
    assert.deepEqual(t.log.lines().filter((l) => l.event === 'worker.exit' && l.generation === 2), [], 'not said (nor counted) as crashes');
    // One probe after the backoff; ready, it is still the only one while it settles.
    t.untilForked(50);
    const probe = ofGeneration(t, 2).filter((c) => !first.includes(c));
    assert.equal(probe.length, 1);
    ready(probe[0]!);
    t.arbiter.tick();
    t.advance(250);
    beatAll(t.children.filter((c) => !c.exited));
    t.arbiter.tick();
    assert.equal(ofGeneration(t, 2).length, 3, 'no other fork while the probe settles');
    t.advance(250);
    probe[0]!.exit(1);
    t.arbiter.tick();
    const rolledBack = t.log.lines().find((l) => l.event === 'reload.failed');
    assert.ok(rolledBack, 'reload.failed');
    assert.equal(rolledBack.code, 'CORRAL_ERR_WORKER_DIED');
    assert.match(String(rolledBack.msg), /^reload failed: the new generation cannot boot \(worker exited with code 1 0\.5 s after it was ready, before it settled \(CORRAL_RELOAD_SETTLE\)\); generation 1 keeps serving$/);
    assert.deepEqual(drainedOf(old), [], 'the old generation served throughout');
    const view = t.arbiter.view();
    assert.equal(view.reloadState().last?.outcome, 'rolled_back');
    assert.ok(!t.log.lines().some((l) => l.event === 'reload.done'));
  } finally {
    t.log.close();
  }
});

test('reload with a settle time: a new worker that throws before it settled is one failed boot (its exit not counted again), and the old generation is not drained to keep it', async () => {
  const t = await setup({ CORRAL_RELOAD_SETTLE: '2', CORRAL_BOOT_ATTEMPTS: '3' });
  try {
    const { old, fresh } = reloadToReady(t);
    t.advance(300);
    // One says what it threw (as workers of this build do), the other does not (an older build).
    fresh[0]?.say({ type: 'retire', reason: 'uncaught', error: 'Error: connect ECONNREFUSED 127.0.0.1:5432' });
    fresh[1]?.say({ type: 'retire', reason: 'uncaught' });
    t.arbiter.tick();
    const failed = t.log.lines().filter((l) => l.event === 'worker.boot_failed');
    assert.deepEqual(failed.map((l) => l.code), ['CORRAL_ERR_UNCAUGHT', 'CORRAL_ERR_UNCAUGHT']);
    assert.match((failed[0]?.boot_error as { message: string }).message, /^worker threw an uncaught exception 0\.3 s after it was ready, .*: Error: connect ECONNREFUSED 127\.0\.0\.1:5432$/);
    assert.match(String(failed[0]?.msg), /failed to boot: worker threw .*ECONNREFUSED/);
    assert.match((failed[1]?.boot_error as { message: string }).message, /: its worker\.uncaught line has the error$/);
    assert.deepEqual(drainedOf(old), [], 'the old ones serve');
    assert.equal(drainedOf(fresh).length, 2, 'the ones that threw drain: the old generation holds the count');
    fresh.forEach((c) => c.exit(70));
    t.arbiter.tick();
    assert.equal(t.log.lines().filter((l) => l.event === 'worker.boot_failed').length, 2, 'their exits are not counted again');
    assert.equal(t.log.lines().filter((l) => l.event === 'worker.exit' && l.generation === 2 && l.crash_loop !== undefined && l.crash_loop !== 0).length, 0);
  } finally {
    t.log.close();
  }
});

test('reload with a settle time: a TTOU during it retires a new worker, not the whole old generation; the reload is not done before the other settles, and its death then rolls it back', async () => {
  const t = await setup({ CORRAL_RELOAD_SETTLE: '2', CORRAL_BOOT_ATTEMPTS: '1' });
  try {
    const { old, fresh } = reloadToReady(t);
    t.arbiter.record('ttou');
    t.arbiter.tick();
    assert.deepEqual(drainedOf(fresh).map((c) => c.identity.generation), [2], 'the scale-down retires a new worker');
    assert.equal(drainedOf(old).length, 1, 'one old worker stays beside the new one while it settles');
    assert.ok(!t.log.lines().some((l) => l.event === 'reload.done'), 'not done with a worker on probation');
    t.advance(500);
    fresh.find((c) => !drainedOf([c]).length)!.exit(1);
    t.arbiter.tick();
    assert.equal(t.arbiter.view().reloadState().last?.outcome, 'rolled_back');
    assert.ok(!t.log.lines().some((l) => l.event === 'reload.done'));
  } finally {
    t.log.close();
  }
});

test('with a settle time, a worker dying 0.5 s after its ready is a crash as before at the first start, and after a reload\'s worker settled', async () => {
  const t = await setup({ CORRAL_RELOAD_SETTLE: '2' });
  try {
    t.bootAll();
    t.advance(500);
    t.children[0]!.exit(1);
    t.arbiter.tick();
    assert.deepEqual(t.log.lines().filter((l) => l.event === 'worker.boot_failed'), []);
    assert.equal(t.log.lines().filter((l) => l.event === 'worker.exit' && l.code === 'CORRAL_ERR_WORKER_DIED').length, 1, 'a crash, counted as one');
    t.untilForked(50);
    ready(t.children.at(-1)!);
    t.run(5000);
    beatAll(t.children.filter((c) => !c.exited));
    t.arbiter.record('reload');
    t.arbiter.tick();
    const fresh = ofGeneration(t, 2);
    fresh.forEach(ready);
    for (let i = 0; i < 10; i++) {
      t.advance(250);
      beatAll(t.children.filter((c) => !c.exited));
      t.arbiter.tick();
    }
    fresh[0]!.exit(1);
    t.arbiter.tick();
    assert.deepEqual(t.log.lines().filter((l) => l.event === 'worker.boot_failed'), [], 'settled: its death is a crash');
  } finally {
    t.log.close();
  }
});

test('a recycle does not drain its retiree while a settled worker it would leave alone serving is blocked (not beating)', async () => {
  // Settled once, a worker whose loop then blocked (a long synchronous step, stuck until
  // CORRAL_TIMEOUT) was counted as taking the retiree's place: drained, the host served 1 of 2.
  const t = await setup({ CORRAL_WORKERS: '2', CORRAL_RELOAD_SETTLE: '2', CORRAL_TIMEOUT: '30' });
  try {
    t.bootAll();
    const [blocked, retiree] = t.children as [FakeChild, FakeChild];
    t.run(3000, [blocked, retiree]);
    // Its loop blocks; the other worker reaches its max requests.
    t.run(1500, [retiree]);
    retiree.say({ type: 'retire', reason: 'max-requests' });
    t.run(500, [retiree]);
    const replacement = t.children[2]!;
    ready(replacement);
    t.run(2500, [retiree, replacement]);
    assert.ok(!retiree.sent.some((m) => m.type === 'drain'), 'the retiree serves on while the other worker is blocked');
    assert.match(t.arbiter.statusLine(), /^2\/2 workers ready/);
    // Its loop free again, the blocked worker beats: the retiree drains.
    t.run(500, [blocked, retiree, replacement]);
    assert.ok(retiree.sent.some((m) => m.type === 'drain'), 'drained once the other worker beats again');
  } finally {
    t.log.close();
  }
});

test('a reload after the key file GOOGLE_APPLICATION_CREDENTIALS names was replaced in place restarts the keeper, which read the old key at its start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-key-rotation-'));
  const keyFile = join(dir, 'key.json');
  const { generateServiceAccountKey } = await import('../../src/sheets/emulator/keys.js');
  const { writeFileSync } = await import('node:fs');
  const writeKey = () => writeFileSync(keyFile, JSON.stringify(generateServiceAccountKey({ clientEmail: 'corral@p.iam.gserviceaccount.com', tokenUri: 'https://oauth2.googleapis.com/token' }).key));
  writeKey();
  const t = await setup({ SHEET_ID: '1abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', GOOGLE_APPLICATION_CREDENTIALS: keyFile, CORRAL_DATA_DIR: dir }, true);
  try {
    const keeper = t.bootWithKeeper();
    // The key rotated as Google's console does it: a new key written over the file, then a reload.
    writeKey();
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(t.log.lines().some((l) => l.event === 'reload.start'), 'the reload started');
    assert.ok(keeper.sent.some((m) => m.type === 'drain'), 'the keeper, which signs with the key it read at its start, is restarted to read the new one');
    assert.deepEqual(t.log.lines().find((l) => l.event === 'keeper.restart')?.files_changed, ['GOOGLE_APPLICATION_CREDENTIALS']);
    keeper.exit(0);
    t.arbiter.tick();
    const fresh = t.keepers().find((c) => c !== keeper);
    assert.ok(fresh, 'a new keeper was started');
    fresh.say({ type: 'ready' });
    t.arbiter.tick();
    t.children.filter((c) => c.identity.role === 'worker' && c.identity.generation === 2).forEach(ready);
    t.run(1000, t.children.filter((c) => !c.exited));
    // The same key again: the keeper that read it stays.
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(!fresh.sent.some((m) => m.type === 'drain'), 'a reload with the key it read keeps the keeper');
  } finally {
    t.log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload whose new workers cannot boot, after its old generation died meanwhile, goes back to the settings that served rather than exit', async () => {
  // One worker, OOM-killed while a reload with a broken app boots: the reload does not replace it
  // (its successor is the new generation's). The master exited 3 at CORRAL_BOOT_ATTEMPTS.
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_BOOT_ATTEMPTS: '3' });
  try {
    t.bootAll();
    const [old] = t.children;
    t.setNextEnv({ CORRAL_KEEPALIVE: '7' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    old!.exit(null, 'SIGKILL');
    t.arbiter.tick();
    for (let i = 0; i < 10 && !t.log.lines().some((l) => l.event === 'reload.failed'); i++) {
      for (const c of t.children.filter((c) => !c.exited && c !== old)) {
        c.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'cannot import the app' });
        c.exit(4);
      }
      t.advance(60_000);
      t.arbiter.tick();
    }
    assert.deepEqual(t.exits, [], 'the master keeps running');
    const failed = t.log.lines().find((l) => l.event === 'reload.failed');
    assert.match(String(failed?.msg), /fails to boot \(cannot import the app\) while generation 1 lost 1 worker meanwhile \(a reload does not replace them; going back does\); generation 1 is started again with the settings it ran with/);
    t.arbiter.tick();
    const again = t.children.filter((c) => c.identity.generation === 1 && c !== old);
    assert.equal(again.length, 1, 'a worker of the settings that served is forked');
    ready(again[0]!);
    t.arbiter.tick();
    assert.match(t.arbiter.statusLine(), /^1\/1 workers ready, generation 1/);
    assert.equal(t.arbiter.settings.CORRAL_KEEPALIVE, 5, 'the settings that served, not the reload\'s');
    assert.ok(t.calls.some((c) => c.startsWith('ready') && c.includes('rolled back')), 'READY=1 ends the reload');
  } finally {
    t.log.close();
  }
});

test('a failing reload whose old generation loses a worker goes back at once and forks it again, not after CORRAL_BOOT_ATTEMPTS boots', async () => {
  // The new app hangs or throws at boot; an old worker is OOM-killed meanwhile. Nothing replaced
  // it while the reload tried its five boots (up to a minute each): the host served 2 of 3.
  const t = await setup({ CORRAL_WORKERS: '3', CORRAL_BOOT_ATTEMPTS: '5' });
  try {
    t.bootAll();
    const old = [...t.children];
    t.setNextEnv({ CORRAL_KEEPALIVE: '7' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    const firstAttempt = t.children.filter((c) => c.identity.generation === 2);
    assert.equal(firstAttempt.length, 3, 'the reload forks its generation');
    old[0]!.exit(null, 'SIGKILL');
    t.arbiter.tick();
    assert.ok(!t.log.lines().some((l) => l.event === 'reload.failed'), 'an old worker lost while the new ones boot alone is no reason to go back: they may yet serve');
    assert.equal(t.children.filter((c) => c.identity.generation === 1).length, 3, 'nor is it replaced meanwhile');
    firstAttempt[0]!.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'cannot import the app' });
    firstAttempt[0]!.exit(4);
    t.arbiter.tick();
    const failed = t.log.lines().filter((l) => l.event === 'reload.failed');
    assert.equal(failed.length, 1, 'the first failed boot rolls the reload back');
    assert.match(String(failed[0]?.msg), /^reload failed: the new generation fails to boot \(cannot import the app\) while generation 1 lost 1 worker meanwhile \(a reload does not replace them; going back does\); generation 1 keeps serving$/);
    assert.equal(failed[0]?.code, 'CORRAL_ERR_APP_LOAD');
    t.arbiter.tick();
    const again = t.children.filter((c) => c.identity.generation === 1 && !old.includes(c));
    assert.equal(again.length, 1, 'the lost worker is forked again with the settings that served');
    for (const c of firstAttempt.slice(1)) assert.ok(c.kills.length > 0 || c.sent.some((m) => m.type === 'drain'), `the reload's booting worker ${c.identity.workerId} is stopped`);
    ready(again[0]!);
    t.arbiter.tick();
    assert.match(t.arbiter.statusLine(), /^3\/3 workers ready, generation 1/);
    assert.equal(t.arbiter.settings.CORRAL_KEEPALIVE, 5, 'the settings that served');
    assert.deepEqual(t.exits, []);
  } finally {
    t.log.close();
  }
});

test('a reload whose new workers boot goes on when an old worker dies meanwhile: its own generation replaces it', async () => {
  const t = await setup({ CORRAL_WORKERS: '2' });
  try {
    t.bootAll();
    const old = [...t.children];
    t.setNextEnv({ CORRAL_KEEPALIVE: '7' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    old[0]!.exit(null, 'SIGKILL');
    t.arbiter.tick();
    t.children.filter((c) => c.identity.generation === 2).forEach(ready);
    t.run(1000, t.children.filter((c) => !c.exited));
    old[1]!.exit(0);
    t.run(500, t.children.filter((c) => !c.exited));
    assert.ok(t.log.lines().some((l) => l.event === 'reload.done'), 'the reload completes');
    assert.ok(!t.log.lines().some((l) => l.event === 'reload.failed'));
    assert.equal(t.arbiter.settings.CORRAL_KEEPALIVE, 7);
  } finally {
    t.log.close();
  }
});

test('at CORRAL_TIMEOUT=1 a pause of the master under a second kills no child: its pause is read against the timeout, not a fixed second', async () => {
  const t = await setup({ CORRAL_TIMEOUT: '1' });
  try {
    t.bootAll();
    beatAll(t.children);
    t.advance(200);
    t.arbiter.tick();
    // The master does not run for 0.9 s: the beats sent meanwhile wait in the pipes. The workers'
    // silence read at the next tick is 1.1 s, past the timeout (both were SIGKILLed).
    t.advance(900);
    t.arbiter.tick();
    assert.deepEqual(t.children.map((c) => c.kills), [[], []]);
    // A worker silent while the master runs is still killed once the timeout has passed.
    for (let i = 0; i < 8; i++) {
      t.advance(250);
      beatAll([t.children[1]!]);
      t.arbiter.tick();
    }
    assert.deepEqual(t.children[0]!.kills, ['SIGKILL']);
    assert.deepEqual(t.children[1]!.kills, []);
  } finally {
    t.log.close();
  }
});

test('the gap read as the master pausing: a second, or less where CORRAL_TIMEOUT would kill sooner, never under two ticks', () => {
  assert.deepEqual([1, 2, 3, 30].map(masterPauseMs), [500, 1000, 1000, 1000]);
  // Past these a gap alone reads a healthy child as stuck: discounted even after a discounted gap.
  assert.deepEqual([1, 2, 5, 30].map(masterStallKillsMs), [500, 1250, 3750, 28750]);
});

test('a reload that changes CORRAL_GRACEFUL_TIMEOUT tells the keeper it keeps, and a rollback tells it the old one again', async () => {
  const t = await setup({ CORRAL_GRACEFUL_TIMEOUT: '30' }, true);
  try {
    const keeper = t.bootWithKeeper();
    const told = () => keeper.sent.filter((m) => m.type === 'graceful-timeout').map((m) => (m as { ms: number }).ms);
    t.setNextEnv({ CORRAL_GRACEFUL_TIMEOUT: '120' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.ok(!keeper.sent.some((m) => m.type === 'drain'), 'the graceful timeout is no keeper setting: the keeper is kept');
    assert.deepEqual(told(), [120_000]);
    // The new workers cannot boot: the reload goes back to 30 s, and says so to the keeper.
    t.setNextEnv({});
    for (let i = 0; i < 10 && !t.log.lines().some((l) => l.event === 'reload.failed'); i++) {
      for (const c of t.children.filter((c) => !c.exited && c.identity.generation === 2)) {
        c.say({ type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'cannot import the app' });
        c.exit(4);
      }
      t.advance(60_000);
      t.arbiter.tick();
    }
    assert.ok(t.log.lines().some((l) => l.event === 'reload.failed'));
    assert.deepEqual(told(), [120_000, 30_000]);
  } finally {
    t.log.close();
  }
});

test('a master stopped before its loop started does not start it: no master.start after its exit', async () => {
  const t = await setup();
  try {
    t.arbiter.record('stop');
    t.arbiter.tick();
    assert.deepEqual(t.exits, [0], 'stopped with nothing forked');
    t.arbiter.start();
    assert.ok(!t.log.lines().some((l) => l.event === 'master.start'), 'master.start after the exit');
    assert.equal(t.children.length, 0);
  } finally {
    t.log.close();
  }
});

test("the settings a reload applies say whether it restarts the keeper (which then says its start's warnings itself), and a rollback's say so", async () => {
  const applied: { keeperRestarts: boolean; rollBack: boolean }[] = [];
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_BOOT_ATTEMPTS: '1' }, true, { settingsApplied: (_s, how) => applied.push(how) });
  try {
    const keeper = t.bootWithKeeper();
    t.setNextEnv({ CORRAL_TIMEOUT: '45' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.deepEqual(applied, [{ keeperRestarts: false, rollBack: false }], 'a worker setting keeps the keeper');
    assert.ok(!keeper.sent.some((m) => m.type === 'drain'));
    // Its new worker fails its one boot: rolled back.
    for (let i = 0; i < 20 && !t.log.lines().some((l) => l.event === 'reload.failed'); i++) {
      for (const c of t.children.filter((c) => c.identity.generation === 2 && !c.exited)) c.exit(4);
      t.advance(1000);
      t.arbiter.tick();
    }
    assert.ok(t.log.lines().some((l) => l.event === 'reload.failed'), 'rolled back');
    assert.deepEqual(applied.at(-1), { keeperRestarts: false, rollBack: true });
    applied.length = 0;
    t.setNextEnv({ SHEET_CACHE_TTL: '90' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.deepEqual(applied, [{ keeperRestarts: true, rollBack: false }], 'a keeper setting restarts it');
    assert.ok(keeper.sent.some((m) => m.type === 'drain'));
  } finally {
    t.log.close();
  }
});
