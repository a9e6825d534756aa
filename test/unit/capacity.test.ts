import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exponentialBackoff } from '../../src/master/backoff.js';
import { computeCapacity, largestWorkerCap, perWorkerCap, statusOf } from '../../src/master/capacity.js';

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
  assert.deepEqual(warn, { current_connections: 160, idle_connections: 0, peak_busy_connections: 160, refused_last_interval: 0, idle_closed_last_interval: 0, max_connections: 200, percent_used: 80, available_slots: 40, status: 'WARNING', can_accept_new: true });
  const full = computeCapacity({ activeConnections: [250], workers: 2, workerConnections: 1000, maxConnections: 200, serving: true });
  assert.equal(full.status, 'FULL');
  assert.equal(full.available_slots, 0);
  assert.equal(full.percent_used, 125, 'how far over the cap shows in percent_used');
  assert.equal(full.can_accept_new, false);
});

test('idle connections give their slot to new clients: every slot held, most of them idle, is LOW and accepts new ones', () => {
  const held = computeCapacity({ activeConnections: [150, 50], idleConnections: [140, 20], workers: 2, workerConnections: 1000, maxConnections: 200, serving: true });
  assert.deepEqual(held, { current_connections: 200, idle_connections: 160, peak_busy_connections: 40, refused_last_interval: 0, idle_closed_last_interval: 0, max_connections: 200, percent_used: 20, available_slots: 160, status: 'LOW', can_accept_new: true });
  // Busy connections alone fill it: FULL.
  const busy = computeCapacity({ activeConnections: [150, 50], idleConnections: [0, 0], workers: 2, workerConnections: 1000, maxConnections: 200, serving: true });
  assert.deepEqual([busy.status, busy.available_slots, busy.can_accept_new], ['FULL', 0, false]);
  // One idle connection is one slot for a new client.
  const one = computeCapacity({ activeConnections: [150, 50], idleConnections: [1, 0], workers: 2, workerConnections: 1000, maxConnections: 200, serving: true });
  assert.deepEqual([one.status, one.percent_used, one.available_slots, one.can_accept_new], ['WARNING', 99.5, 1, true]);
  // Idle figures a heartbeat apart from the open ones never count more idle than open.
  assert.equal(computeCapacity({ activeConnections: [3], idleConnections: [5], workers: 1, workerConnections: 10, maxConnections: 0, serving: true }).idle_connections, 3);
});

test('without CORRAL_MAX_CONNECTIONS the cap is workers x worker connections; with it, round-robin shares add up to it exactly', () => {
  assert.equal(computeCapacity({ activeConnections: [], workers: 8, workerConnections: 1000, maxConnections: 0, serving: true }).max_connections, 8000);
  assert.equal(perWorkerCap(8, 1000, 0), 1000);
  // 200 over 3: 67, 67, 66 (rounded up for all, the host held 201).
  assert.deepEqual([0, 1, 2].map((rank) => perWorkerCap(3, 1000, 200, 'round-robin', rank)), [67, 67, 66]);
  for (const [workers, max] of [[2, 5], [3, 200], [8, 1001], [4, 4], [7, 50]] as const) {
    const shares = Array.from({ length: workers }, (_, rank) => perWorkerCap(workers, 1000, max, 'round-robin', rank));
    assert.equal(shares.reduce((a, b) => a + b, 0), max, `${max} over ${workers}: ${shares.join(', ')}`);
  }
  // A worker not yet placed holds the smaller share; the open-files check sizes the larger.
  assert.equal(perWorkerCap(3, 1000, 200), 66);
  assert.equal(largestWorkerCap(3, 1000, 200), 67);
  assert.equal(perWorkerCap(8, 10, 200, 'round-robin', 0), 10);
  // Fewer connections than workers: one each all the same.
  assert.deepEqual([0, 1].map((rank) => perWorkerCap(2, 1000, 1, 'round-robin', rank)), [1, 1]);
});

test('with CORRAL_ACCEPT=shared a worker is not held to an even share (the spread is uneven), only to its own cap and the host cap', () => {
  assert.equal(perWorkerCap(3, 1000, 200, 'shared'), 200);
  assert.equal(perWorkerCap(8, 10, 200, 'shared'), 10);
  assert.equal(perWorkerCap(8, 1000, 0, 'shared'), 1000);
  assert.equal(perWorkerCap(3, 1000, 200, 'round-robin', 0), 67);
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
  assert.deepEqual(none, { current_connections: 0, idle_connections: 0, peak_busy_connections: 0, refused_last_interval: 0, idle_closed_last_interval: 0, max_connections: 2000, percent_used: 0, available_slots: 0, status: 'UNAVAILABLE', can_accept_new: false });
  // Every worker stuck with the connections they hold: those are still shown, as the share they take.
  const stuck = computeCapacity({ activeConnections: [300, 1500], idleConnections: [0, 0], workers: 2, workerConnections: 1000, maxConnections: 0, serving: false });
  assert.deepEqual([stuck.status, stuck.current_connections, stuck.percent_used, stuck.available_slots, stuck.can_accept_new], ['UNAVAILABLE', 1800, 90, 0, false]);
  // The percentage is held below the status the load alone would give, as while serving.
  const full = computeCapacity({ activeConnections: [1999], workers: 2, workerConnections: 1000, maxConnections: 0, serving: false });
  assert.deepEqual([full.status, full.percent_used], ['UNAVAILABLE', 99.9]);
  // A share of slots never says UNAVAILABLE by itself.
  for (const p of [0, 50, 80, 100]) assert.notEqual(statusOf(p), 'UNAVAILABLE');
});

test('a burst between heartbeats counts: the status and percent_used come from each worker\'s peak of busy connections, not the count at its beat', () => {
  // The audit: cap 20, ab -c 60; at the beats 0 to 6 open, the bursts between them filled the cap.
  const burst = computeCapacity({ activeConnections: [2, 1], idleConnections: [0, 0], peakBusyConnections: [9, 8], refusedInInterval: [0, 0], workers: 2, workerConnections: 10, maxConnections: 0, serving: true });
  assert.deepEqual(burst, { current_connections: 3, idle_connections: 0, peak_busy_connections: 17, refused_last_interval: 0, idle_closed_last_interval: 0, max_connections: 20, percent_used: 85, available_slots: 3, status: 'WARNING', can_accept_new: true });
  // A peak under the busy count at the beat (an older worker that sends none) never lowers it.
  const none = computeCapacity({ activeConnections: [6], idleConnections: [1], workers: 1, workerConnections: 10, maxConnections: 0, serving: true });
  assert.deepEqual([none.peak_busy_connections, none.percent_used], [5, 50]);
  // Peaks of different workers need not have coincided: their sum alone stops short of FULL.
  const summed = computeCapacity({ activeConnections: [0, 0], peakBusyConnections: [10, 10], refusedInInterval: [0, 0], workers: 2, workerConnections: 10, maxConnections: 0, serving: true });
  assert.deepEqual([summed.status, summed.peak_busy_connections, summed.percent_used, summed.available_slots, summed.can_accept_new], ['WARNING', 19, 95, 1, true]);
  // Busy connections filling the cap at the beats are FULL, as before.
  const held = computeCapacity({ activeConnections: [10, 10], idleConnections: [0, 0], peakBusyConnections: [10, 10], workers: 2, workerConnections: 10, maxConnections: 0, serving: true });
  assert.deepEqual([held.status, held.percent_used, held.available_slots], ['FULL', 100, 0]);
});

test('a connection refused in the last interval is FULL, whatever the counts at the beats: no slot, can_accept_new false', () => {
  // The audit: LOW with can_accept_new while 22 % of connections got 503 server full (20/20).
  const refusing = computeCapacity({ activeConnections: [3, 3], idleConnections: [0, 0], peakBusyConnections: [4, 5], refusedInInterval: [700, 0], workers: 2, workerConnections: 10, maxConnections: 0, serving: true });
  assert.deepEqual(refusing, { current_connections: 6, idle_connections: 0, peak_busy_connections: 9, refused_last_interval: 700, idle_closed_last_interval: 0, max_connections: 20, percent_used: 100, available_slots: 0, status: 'FULL', can_accept_new: false });
  // wrk -c60 with keep-alive: every slot held, most idle at the beat; idle ones were closed to
  // admit new clients, others were refused. Idle slots are room only while no one is turned away.
  const churning = computeCapacity({ activeConnections: [10, 10], idleConnections: [9, 9], peakBusyConnections: [3, 2], refusedInInterval: [40, 12], workers: 2, workerConnections: 10, maxConnections: 0, serving: true });
  assert.deepEqual([churning.status, churning.available_slots, churning.can_accept_new, churning.percent_used], ['FULL', 0, false, 100]);
  // Busy past a lowered cap still shows how far.
  assert.equal(computeCapacity({ activeConnections: [25], peakBusyConnections: [25], refusedInInterval: [1], workers: 2, workerConnections: 10, maxConnections: 0, serving: true }).percent_used, 125);
  // Refusals stopped, the next beats say so: back to the busy count.
  const after = computeCapacity({ activeConnections: [0, 0], idleConnections: [0, 0], peakBusyConnections: [0, 0], refusedInInterval: [0, 0], workers: 2, workerConnections: 10, maxConnections: 0, serving: true });
  assert.deepEqual([after.status, after.available_slots, after.can_accept_new], ['LOW', 20, true]);
  // Nothing serving stays UNAVAILABLE.
  assert.equal(computeCapacity({ activeConnections: [0], refusedInInterval: [5], workers: 1, workerConnections: 10, maxConnections: 0, serving: false }).status, 'UNAVAILABLE');
});

test('idle connections closed to admit new clients in the last interval, none refused, are at least WARNING: every slot was held; still accepting, the idle slots still room', () => {
  // wrk -c60 on a cap of 20 between refusals: 18 of 20 idle at the beat, a thousand closed a second.
  const churning = computeCapacity({ activeConnections: [10, 10], idleConnections: [9, 9], peakBusyConnections: [4, 3], refusedInInterval: [0, 0], idleClosedInInterval: [600, 500], workers: 2, workerConnections: 10, maxConnections: 0, serving: true });
  assert.deepEqual(churning, { current_connections: 20, idle_connections: 18, peak_busy_connections: 7, refused_last_interval: 0, idle_closed_last_interval: 1100, max_connections: 20, percent_used: 35, available_slots: 13, status: 'WARNING', can_accept_new: true });
  // Busier than WARNING by its share, or refusing, the share or the refusals decide.
  assert.equal(computeCapacity({ activeConnections: [20], peakBusyConnections: [20], idleClosedInInterval: [3], workers: 2, workerConnections: 10, maxConnections: 0, serving: true }).status, 'FULL');
  assert.equal(computeCapacity({ activeConnections: [20], idleConnections: [18], refusedInInterval: [1], idleClosedInInterval: [3], workers: 2, workerConnections: 10, maxConnections: 0, serving: true }).status, 'FULL');
  // Same slots held with no one needing them: LOW, as before.
  assert.equal(computeCapacity({ activeConnections: [20], idleConnections: [18], idleClosedInInterval: [0], workers: 2, workerConnections: 10, maxConnections: 0, serving: true }).status, 'LOW');
});
