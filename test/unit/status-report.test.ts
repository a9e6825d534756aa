// The master's status line, its respawn wait, and when capacity, STATUS= and the watchdog are sent.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MasterMessage } from '../../src/ipc/messages.js';
import { computeCapacity } from '../../src/master/capacity.js';
import type { Notifier } from '../../src/master/notify.js';
import type { ChildRecord } from '../../src/master/registry.js';
import { respawnWaitOf, StatusReporter, statusLineOf, type ReportInput } from '../../src/master/status-report.js';

const capacity = (active: number[], idle: number[] = []) => computeCapacity({ activeConnections: active, idleConnections: idle, workers: 2, workerConnections: 10, maxConnections: 0, serving: true });

test('the respawn wait is shown while the backoff holds a missing worker, and not while stopping or with every worker there', () => {
  const waiting = { now: 1000, stopping: false, nextSpawnAt: 3500, active: 1, expected: 2, quickCrashes: 3, bootFailures: 0 };
  assert.deepEqual(respawnWaitOf(waiting), { inMs: 2500, crashLoop: 3, bootFailures: 0 });
  assert.equal(respawnWaitOf({ ...waiting, stopping: true }), undefined);
  assert.equal(respawnWaitOf({ ...waiting, now: 3500 }), undefined);
  assert.equal(respawnWaitOf({ ...waiting, active: 2 }), undefined);
});

test('the status line says how many serve, how busy, and why the others wait', () => {
  const cap = capacity([6, 2], [1, 0]);
  assert.equal(statusLineOf({ ready: 2, expected: 2, generation: 3, capacity: cap, wait: undefined }), '2/2 workers ready, generation 3, capacity LOW (7/20 busy, 1 idle)');
  assert.equal(
    statusLineOf({ ready: 1, expected: 2, generation: 4, capacity: cap, wait: undefined, reloading: { from: 3, serving: 2 } }),
    'reloading to generation 4 (1/2 workers ready), generation 3 serving (2 ready), capacity LOW (7/20 busy, 1 idle)',
  );
  assert.equal(
    statusLineOf({ ready: 0, expected: 2, generation: 1, capacity: cap, wait: { inMs: 2001, crashLoop: 4, bootFailures: 0 } }),
    '0/2 workers ready, generation 1, capacity LOW (7/20 busy, 1 idle); respawning in 3 s (crash loop 4)',
  );
  assert.match(statusLineOf({ ready: 0, expected: 2, generation: 1, capacity: cap, wait: { inMs: 500, crashLoop: 0, bootFailures: 1 } }), /respawning in 1 s \(1 failed boot in a row\)$/);
  assert.match(statusLineOf({ ready: 0, expected: 2, generation: 1, capacity: cap, wait: { inMs: 500, crashLoop: 2, bootFailures: 2 } }), /\(2 failed boots in a row\)$/);
});

test('while stopping, the status line says the drain, not "0/2 workers ready, capacity UNAVAILABLE"', () => {
  const cap = capacity([1, 0], [0, 0]);
  assert.equal(statusLineOf({ ready: 0, expected: 2, generation: 3, capacity: cap, wait: undefined, stopping: { workers: 2 } }), 'stopping: 2 workers finishing their requests (1 connection busy)');
  assert.equal(statusLineOf({ ready: 0, expected: 2, generation: 3, capacity: cap, wait: undefined, stopping: { workers: 1 } }), 'stopping: 1 worker finishing its requests (1 connection busy)');
});

test('while the first workers boot, the status line says corral is starting, not "0/2 workers ready, capacity UNAVAILABLE"', () => {
  const cap = capacity([0, 0], [0, 0]);
  assert.equal(statusLineOf({ ready: 0, expected: 2, generation: 1, capacity: cap, wait: undefined, starting: true }), 'starting: 0/2 workers ready, generation 1');
  // A failed boot's backoff is said as ever.
  assert.equal(
    statusLineOf({ ready: 1, expected: 2, generation: 1, capacity: cap, wait: { inMs: 900, crashLoop: 0, bootFailures: 1 }, starting: true }),
    'starting: 1/2 workers ready, generation 1; respawning in 1 s (1 failed boot in a row)',
  );
  // A stop during the start is a stop.
  assert.match(statusLineOf({ ready: 0, expected: 2, generation: 1, capacity: cap, wait: undefined, starting: true, stopping: { workers: 2 } }), /^stopping: /);
});

test('the status line carries the failure of the last reload on one line, cut short (the log has the rest)', () => {
  const cap = capacity([0, 0], [0, 0]);
  const refused = 'last reload refused (CORRAL_ERR_CONFIG_INVALID), generation 3 serves: invalid settings:\n  CORRAL_WORKERS="zero": an integer\n  CORRAL_TIMEOUT="x": a number';
  assert.equal(
    statusLineOf({ ready: 2, expected: 2, generation: 3, capacity: cap, wait: undefined, reloadFailure: refused }),
    '2/2 workers ready, generation 3, capacity LOW (0/20 busy, 0 idle); last reload refused (CORRAL_ERR_CONFIG_INVALID), generation 3 serves: invalid settings: CORRAL_WORKERS="zero": an integer CORRAL_TIMEOUT="x": a number',
  );
  const long = statusLineOf({ ready: 2, expected: 2, generation: 3, capacity: cap, wait: undefined, reloadFailure: `last reload rolled back: ${'x'.repeat(1000)}` });
  assert.match(long, /; last reload rolled back: x+…$/);
  assert.equal(long.length, '2/2 workers ready, generation 3, capacity LOW (0/20 busy, 0 idle); '.length + 240);
});

function setup(watchdogIntervalMs: number | undefined = 1000) {
  const statuses: string[] = [];
  let fed = 0;
  const notifier: Notifier = {
    ready() {},
    reloading() {},
    extendTimeout() {},
    stopping() {},
    status: (s) => void statuses.push(s),
    watchdog: () => void fed++,
    watchdogIntervalMs,
    close() {},
  };
  const sent: MasterMessage[] = [];
  const worker = { state: 'ready', lastBeatAt: 0, handle: { pid: 1, send: (m: MasterMessage) => (sent.push(m), true), kill() {} } } as unknown as ChildRecord;
  const reporter = new StatusReporter(notifier);
  const input = (over: Partial<ReportInput>): ReportInput => ({ now: 0, workers: [worker], capacity: capacity([0, 0]), workerCapOf: () => 10, waiting: false, statusLine: () => 'line', timeoutMs: 5000, ...over });
  return { reporter, statuses, sent, worker, input, fed: () => fed };
}

test('capacity goes to the workers when FULL, their cap or the host cap change, or every 5 s', () => {
  const { reporter, sent, input } = setup(undefined);
  reporter.report(input({ now: 10_000 }));
  assert.equal(sent.length, 1);
  reporter.report(input({ now: 10_250 }));
  assert.equal(sent.length, 1);
  reporter.report(input({ now: 10_500, capacity: capacity([10, 10]) }));
  assert.deepEqual(sent.at(-1), { type: 'capacity', full: true, current: 20, max: 20, workerCap: 10, status: 'FULL', percentUsed: 100 });
  reporter.report(input({ now: 10_750, capacity: capacity([10, 10]), workerCapOf: () => 7 }));
  assert.equal(sent.length, 3);
  reporter.report(input({ now: 14_999, capacity: capacity([10, 10]), workerCapOf: () => 7 }));
  assert.equal(sent.length, 3);
  reporter.report(input({ now: 15_000, capacity: capacity([10, 10]), workerCapOf: () => 7 }));
  assert.equal(sent.length, 4);
});

test("each worker is sent its own cap: one whose share changed at once, the others not; a booting one once it is ready", () => {
  const sent = new Map<number, MasterMessage[]>();
  const workerOf = (pid: number, state: string) => ({ state, lastBeatAt: 0, handle: { pid, send: (m: MasterMessage) => (sent.set(pid, [...(sent.get(pid) ?? []), m]), true), kill() {} } }) as unknown as ChildRecord;
  const [first, second, third] = [workerOf(1, 'ready'), workerOf(2, 'ready'), workerOf(3, 'booting')];
  const caps = new Map<ChildRecord, number>([
    [first, 3],
    [second, 2],
    [third, 2],
  ]);
  const reporter = new StatusReporter({ ready() {}, reloading() {}, extendTimeout() {}, stopping() {}, status() {}, watchdog() {}, watchdogIntervalMs: undefined, close() {} });
  const report = (now: number) => reporter.report({ now, workers: [first, second, third], capacity: capacity([0, 0]), workerCapOf: (c) => caps.get(c) ?? 0, waiting: false, statusLine: () => 'line', timeoutMs: 5000 });
  const capsSent = (pid: number) => (sent.get(pid) ?? []).map((m) => (m.type === 'capacity' ? m.workerCap : undefined));
  report(10_000);
  assert.deepEqual([capsSent(1), capsSent(2), capsSent(3)], [[3], [2], [2]], 'all told at first');
  caps.set(second, 3);
  report(10_250);
  assert.deepEqual([capsSent(1), capsSent(2), capsSent(3)], [[3], [2, 3], [2]], 'only the worker whose share changed');
  (third as { state: string }).state = 'ready';
  report(10_500);
  assert.deepEqual(capsSent(3), [2, 2], 'the booting worker dropped the first word: told again once ready');
  report(10_750);
  assert.deepEqual([capsSent(1), capsSent(2), capsSent(3)], [[3], [2, 3], [2, 2]], 'nothing new: nothing sent');
});

test('the status line is sent every 5 s, and at once when a respawn wait starts or ends', () => {
  const { reporter, statuses, input } = setup(undefined);
  reporter.report(input({ now: 10_000 }));
  reporter.report(input({ now: 11_000 }));
  assert.equal(statuses.length, 1);
  reporter.report(input({ now: 11_250, waiting: true }));
  reporter.report(input({ now: 11_500, waiting: true }));
  assert.equal(statuses.length, 2);
  reporter.report(input({ now: 11_750 }));
  assert.equal(statuses.length, 3);
  reporter.report(input({ now: 16_750 }));
  assert.equal(statuses.length, 4);
});

test('the watchdog is fed while a ready worker beats or the backoff holds the next fork, never with every worker silent', () => {
  const { reporter, worker, input, fed } = setup(1000);
  worker.lastBeatAt = 10_000;
  reporter.report(input({ now: 10_000 }));
  assert.equal(fed(), 1);
  // Not before its interval.
  reporter.report(input({ now: 10_500 }));
  assert.equal(fed(), 1);
  reporter.report(input({ now: 15_000 }));
  assert.equal(fed(), 2);
  // Silent past CORRAL_TIMEOUT: unfed.
  reporter.report(input({ now: 16_000 }));
  assert.equal(fed(), 2);
  // Waiting for the backoff: fed, though no worker beats.
  reporter.report(input({ now: 16_250, workers: [], waiting: true }));
  assert.equal(fed(), 3);
});

test('the watchdog is fed while the replacements of stuck workers boot, within their boot timeout only', () => {
  const { reporter, worker, input, fed } = setup(1000);
  // Every ready worker silent past CORRAL_TIMEOUT (5 s here): the master killed them and forked
  // replacements at 20 s, which boot for up to the boot timeout (its 60 s floor).
  worker.lastBeatAt = 10_000;
  const booting = { state: 'booting', startedAt: 20_000, lastBeatAt: 20_000, handle: { pid: 2, send: () => true, kill() {} } } as unknown as ChildRecord;
  reporter.report(input({ now: 20_000, workers: [worker] }));
  assert.equal(fed(), 0, 'every worker silent and none booting: unfed');
  reporter.report(input({ now: 21_000, workers: [worker, booting] }));
  assert.equal(fed(), 1);
  reporter.report(input({ now: 80_000, workers: [worker, booting] }));
  assert.equal(fed(), 2, 'still within the 60 s a boot may take');
  // Past its boot timeout it is the master's to kill (stuck-judgement.ts), not a reason to feed.
  reporter.report(input({ now: 80_001 + 1000, workers: [worker, booting] }));
  assert.equal(fed(), 2);
});
