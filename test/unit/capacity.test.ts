import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exponentialBackoff } from '../../src/master/backoff.js';
import { computeCapacity, perWorkerCap, statusOf } from '../../src/master/capacity.js';

test('capacity statuses follow the system-limits guide (LOW < 50 <= HEALTHY < 80 <= WARNING < 100 <= FULL)', () => {
  assert.equal(statusOf(0), 'LOW');
  assert.equal(statusOf(49.9), 'LOW');
  assert.equal(statusOf(50), 'HEALTHY');
  assert.equal(statusOf(79.9), 'HEALTHY');
  assert.equal(statusOf(80), 'WARNING');
  assert.equal(statusOf(99.9), 'WARNING');
  assert.equal(statusOf(100), 'FULL');
  assert.equal(statusOf(125), 'FULL');
});

test('the seeds example: 160 of 200 is WARNING with 40 slots; 250 of 200 (a cap lowered under the connections held) is FULL with 0 slots, not -50', () => {
  const warn = computeCapacity({ activeConnections: [80, 80], workers: 2, workerConnections: 1000, maxConnections: 200, serving: true });
  assert.deepEqual(warn, { current_connections: 160, idle_connections: 0, max_connections: 200, percent_used: 80, available_slots: 40, status: 'WARNING', can_accept_new: true });
  const full = computeCapacity({ activeConnections: [250], workers: 2, workerConnections: 1000, maxConnections: 200, serving: true });
  assert.equal(full.status, 'FULL');
  assert.equal(full.available_slots, 0);
  assert.equal(full.percent_used, 125, 'how far over the cap shows in percent_used');
  assert.equal(full.can_accept_new, false);
});

test('idle connections give their slot to new clients: every slot held, most of them idle, is LOW and accepts new ones', () => {
  const held = computeCapacity({ activeConnections: [150, 50], idleConnections: [140, 20], workers: 2, workerConnections: 1000, maxConnections: 200, serving: true });
  assert.deepEqual(held, { current_connections: 200, idle_connections: 160, max_connections: 200, percent_used: 20, available_slots: 160, status: 'LOW', can_accept_new: true });
  // Busy connections alone fill it: FULL.
  const busy = computeCapacity({ activeConnections: [150, 50], idleConnections: [0, 0], workers: 2, workerConnections: 1000, maxConnections: 200, serving: true });
  assert.deepEqual([busy.status, busy.available_slots, busy.can_accept_new], ['FULL', 0, false]);
  // One idle connection is one slot for a new client.
  const one = computeCapacity({ activeConnections: [150, 50], idleConnections: [1, 0], workers: 2, workerConnections: 1000, maxConnections: 200, serving: true });
  assert.deepEqual([one.status, one.percent_used, one.available_slots, one.can_accept_new], ['WARNING', 99.5, 1, true]);
  // Idle figures a heartbeat apart from the open ones never count more idle than open.
  assert.equal(computeCapacity({ activeConnections: [3], idleConnections: [5], workers: 1, workerConnections: 10, maxConnections: 0, serving: true }).idle_connections, 3);
});

test('without CORRAL_MAX_CONNECTIONS the cap is workers x worker connections, and per-worker shares round up', () => {
  assert.equal(computeCapacity({ activeConnections: [], workers: 8, workerConnections: 1000, maxConnections: 0, serving: true }).max_connections, 8000);
  assert.equal(perWorkerCap(8, 1000, 0), 1000);
  assert.equal(perWorkerCap(3, 1000, 200), 67);
  assert.equal(perWorkerCap(8, 10, 200), 10);
});

test('with CORRAL_ACCEPT=shared a worker is not held to an even share (the spread is uneven), only to its own cap and the host cap', () => {
  assert.equal(perWorkerCap(3, 1000, 200, 'shared'), 200);
  assert.equal(perWorkerCap(8, 10, 200, 'shared'), 10);
  assert.equal(perWorkerCap(8, 1000, 0, 'shared'), 1000);
  assert.equal(perWorkerCap(3, 1000, 200, 'round-robin'), 67);
});

test('backoff grows exponentially with jitter, never zero, capped', () => {
  const low = exponentialBackoff(250, 30000, () => 0);
  const high = exponentialBackoff(250, 30000, () => 1);
  assert.equal(low.delayMs(0), 0);
  assert.equal(low.delayMs(1), 125);
  assert.equal(high.delayMs(1), 250);
  assert.equal(high.delayMs(3), 1000);
  assert.equal(high.delayMs(20), 30000);
  assert.equal(low.delayMs(20), 15000);
});

test('FULL only when every slot is taken: 7996 of 8000 is WARNING with 4 slots, shown as 99.9 % (not rounded up to 100)', () => {
  const c = computeCapacity({ activeConnections: [7996], workers: 8, workerConnections: 1000, maxConnections: 0, serving: true });
  assert.equal(c.percent_used, 99.9);
  assert.equal(c.status, 'WARNING');
  assert.equal(c.available_slots, 4);
  assert.equal(c.can_accept_new, true);
});

test('percent_used is never rounded up into the next status: 1599 of 2000 is HEALTHY at 79.9 %, 999 of 2000 LOW at 49.9 %', () => {
  const healthy = computeCapacity({ activeConnections: [1599], workers: 2, workerConnections: 1000, maxConnections: 0, serving: true });
  assert.equal(healthy.status, 'HEALTHY');
  assert.equal(healthy.percent_used, 79.9);
  const low = computeCapacity({ activeConnections: [999], workers: 2, workerConnections: 1000, maxConnections: 0, serving: true });
  assert.equal(low.status, 'LOW');
  assert.equal(low.percent_used, 49.9);
  // Exactly on a threshold is that status, shown as is.
  const warn = computeCapacity({ activeConnections: [1600], workers: 2, workerConnections: 1000, maxConnections: 0, serving: true });
  assert.deepEqual([warn.status, warn.percent_used], ['WARNING', 80]);
  const half = computeCapacity({ activeConnections: [1000], workers: 2, workerConnections: 1000, maxConnections: 0, serving: true });
  assert.deepEqual([half.status, half.percent_used], ['HEALTHY', 50]);
});

test('nothing serving (no worker ready and beating, or the master stopping) is UNAVAILABLE: no new client is accepted, however few slots are held', () => {
  // A crash loop: 2000 slots, none held, and clients get ECONNREFUSED. It said LOW, can_accept_new, 2000 free.
  const none = computeCapacity({ activeConnections: [], workers: 2, workerConnections: 1000, maxConnections: 0, serving: false });
  assert.deepEqual(none, { current_connections: 0, idle_connections: 0, max_connections: 2000, percent_used: 0, available_slots: 0, status: 'UNAVAILABLE', can_accept_new: false });
  // Every worker stuck with the connections they hold: those are still shown, as the share they take.
  const stuck = computeCapacity({ activeConnections: [300, 1500], idleConnections: [0, 0], workers: 2, workerConnections: 1000, maxConnections: 0, serving: false });
  assert.deepEqual([stuck.status, stuck.current_connections, stuck.percent_used, stuck.available_slots, stuck.can_accept_new], ['UNAVAILABLE', 1800, 90, 0, false]);
  // The percentage is held below the status the load alone would give, as while serving.
  const full = computeCapacity({ activeConnections: [1999], workers: 2, workerConnections: 1000, maxConnections: 0, serving: false });
  assert.deepEqual([full.status, full.percent_used], ['UNAVAILABLE', 99.9]);
  // A share of slots never says UNAVAILABLE by itself.
  for (const p of [0, 50, 80, 100]) assert.notEqual(statusOf(p), 'UNAVAILABLE');
});
