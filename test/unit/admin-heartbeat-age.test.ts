// A child whose loop is blocked sends no heartbeat, and until the master kills it (CORRAL_TIMEOUT)
// its figures are those of its last beat: the stats and /metrics say how old they are.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statsOf } from '../../src/master/admin/figures.js';
import { keeperStatus, workersReadiness } from '../../src/master/admin/health.js';
import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import { startAdminServer } from '../../src/master/admin/server.js';
import { startMonitoring } from '../../src/master/admin/monitoring.js';
import { createLogger } from '../../src/log/logger.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

// The fake view's clock is Date.now(), as the arbiter's is monotonicNow(): the children's times are on it.
function viewWithSilentWorker() {
  const now = Date.now();
  const silent = { ...child(2, 2002, 'ready', { eventLoopLagMs: 0.4 }), lastBeatAt: now - 8000 };
  const keeperSilent = { ...child(0, 2000, 'ready', {}, 'keeper'), lastBeatAt: now - 5000 };
  // Booting for 8 s without a beat: its boot has its own deadline, it is not "late".
  const booting = { ...child(3, 2003, 'booting', undefined), startedAt: now - 8000, lastBeatAt: now - 8000 };
  const beating = { ...child(1, 2001, 'ready', {}), lastBeatAt: now - 500 };
  return { now, view: createFakeView(testSettings({ CORRAL_TIMEOUT: '30' }), [beating, silent, booting, keeperSilent], 3) };
}

describe('heartbeat age of each child', () => {
  it('the stats mark a child silent for over three beats as heartbeat_late, a booting one not', () => {
    const { now, view } = viewWithSilentWorker();
    const s = statsOf(view, { host: undefined, upstreamPerMinute: null }, now);
    assert.equal(s.heartbeat_late_after_s, 3);
    assert.deepEqual(
      s.workers.map((w) => [w.id, w.heartbeat_late, w.last_beat_s_ago]),
      [
        [1, false, 0.5],
        [2, true, 8],
        [3, false, 8],
      ],
    );
    assert.equal(s.keeper?.heartbeat_late, true);
    assert.equal(s.workers_ready, 1, 'the worker not beating is not counted ready');
    assert.equal(s.workers_not_beating, 1);
  });

  it('judges each child by the beat it was started with: a keeper kept across a reload to CORRAL_TIMEOUT=1 still beats every second and is not late after 900 ms, a worker started with it (every 250 ms) is', async () => {
    const now = Date.now();
    // heartbeatIntervalMs(30) = 1000 for the keeper started before the reload, heartbeatIntervalMs(1) = 250 for the worker after it.
    const keeper = { ...child(0, 2300, 'ready', {}, 'keeper'), beatIntervalMs: 1000, lastBeatAt: now - 900 };
    const fresh = { ...child(1, 2301, 'ready', {}), beatIntervalMs: 250, lastBeatAt: now - 100 };
    const silent = { ...child(2, 2302, 'ready', {}), beatIntervalMs: 250, lastBeatAt: now - 900 };
    const view = createFakeView(testSettings({ CORRAL_TIMEOUT: '1' }), [fresh, silent, keeper]);
    assert.equal(keeperStatus(view, now), 'ready');
    assert.deepEqual(workersReadiness(view, now), { ready: 1, notBeating: 1 });
    const s = statsOf(view, { host: undefined, upstreamPerMinute: null }, now);
    assert.equal(s.heartbeat_late_after_s, 0.75, 'three beats of a child started with CORRAL_TIMEOUT=1');
    assert.deepEqual([s.keeper?.heartbeat_late, s.keeper?.heartbeat_late_after_s], [false, 3]);
    assert.deepEqual(s.workers.map((w) => [w.id, w.heartbeat_late, w.heartbeat_late_after_s]), [
      [1, false, 0.75],
      [2, true, 0.75],
    ]);
    assert.match(await createAdminMetrics(view, () => undefined).render(), /^corral_keeper_ready 1$/m);
    // Past three of its own beats it is not beating, whatever the timeout.
    view.kids[2] = { ...keeper, lastBeatAt: now - 3100 };
    assert.equal(keeperStatus(view, now), 'not_beating');
  });

  it('health does not count a worker not beating as ready: with every worker stuck it answers 503 unavailable', async () => {
    const logger = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger;
    const now = Date.now();
    const view = createFakeView(testSettings({ CORRAL_TIMEOUT: '30' }), [child(1, 2101, 'ready', {}), { ...child(2, 2102, 'ready', {}), lastBeatAt: now - 6000 }]);
    const monitoring = startMonitoring(view, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring });
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/admin/health`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    try {
      assert.deepEqual(await health(), { status: 200, body: { status: 'degraded', workers_ready: 1, workers_expected: 2, workers_not_beating: 1, capacity: { status: 'LOW', percent_used: 0 } } });
      view.kids[0] = { ...child(1, 2101, 'ready', {}), lastBeatAt: now - 5000 };
      assert.deepEqual(await health(), { status: 503, body: { status: 'unavailable', workers_ready: 0, workers_expected: 2, workers_not_beating: 2, capacity: { status: 'UNAVAILABLE', percent_used: 0 } } });
      view.kids = [child(1, 2101, 'ready', {}), child(3, 2103, 'ready', {})];
      assert.deepEqual(await health(), { status: 200, body: { status: 'ok', workers_ready: 2, workers_expected: 2, capacity: { status: 'LOW', percent_used: 0 } } });
    } finally {
      await server.close();
      monitoring.close();
    }
  });

  it('/metrics has corral_process_heartbeat_age_seconds for every child', async () => {
    const { view } = viewWithSilentWorker();
    const text = await createAdminMetrics(view, () => undefined).render();
    assert.match(text, /^# TYPE corral_process_heartbeat_age_seconds gauge$/m);
    const age = (labels: string) => Number(new RegExp(`^corral_process_heartbeat_age_seconds\\{${labels}\\} ([0-9.]+)$`, 'm').exec(text)?.[1]);
    assert.ok(age('worker="1",role="worker"') < 1.5);
    assert.ok(age('worker="2",role="worker"') >= 8 && age('worker="2",role="worker"') < 9.5);
    assert.ok(age('worker="0",role="keeper"') >= 5 && age('worker="0",role="keeper"') < 6.5);
    // As health counts them: the silent worker is not ready, and the keeper not beating is not ready either.
    assert.match(text, /^corral_workers\{state="ready"\} 1$/m);
    assert.match(text, /^corral_workers\{state="not_beating"\} 1$/m);
    assert.match(text, /^corral_workers\{state="booting"\} 1$/m);
    assert.match(text, /^corral_keeper_ready 0$/m);
  });

  it('/metrics says corral_keeper_ready 1 while the keeper beats, 0 once it is gone', async () => {
    const view = createFakeView(testSettings(), [child(1, 2201, 'ready', {}), child(0, 2200, 'ready', {}, 'keeper')]);
    const metrics = createAdminMetrics(view, () => undefined);
    assert.match(await metrics.render(), /^corral_keeper_ready 1$/m);
    view.kids = [child(1, 2201, 'ready', {})];
    assert.match(await metrics.render(), /^corral_keeper_ready 0$/m);
    view.kids.push(child(0, 2202, 'booting', undefined, 'keeper'));
    assert.match(await metrics.render(), /^corral_keeper_ready 0$/m);
  });
});
