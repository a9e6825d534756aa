// A child whose loop is blocked sends no heartbeat, and until the master kills it (CORRAL_TIMEOUT)
// its figures are those of its last beat: the stats and /metrics say how old they are.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { monotonicNow } from '../../src/clock.js';
import { statsOf } from '../../src/master/admin/figures.js';
import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

function viewWithSilentWorker() {
  const now = monotonicNow();
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
    const s = statsOf(view, { host: undefined, requestsPerSecond: null, upstreamPerMinute: null }, now);
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
  });

  it('/metrics has corral_process_heartbeat_age_seconds for every child', async () => {
    const { view } = viewWithSilentWorker();
    const text = await createAdminMetrics(view, () => undefined).render();
    assert.match(text, /^# TYPE corral_process_heartbeat_age_seconds gauge$/m);
    const age = (labels: string) => Number(new RegExp(`^corral_process_heartbeat_age_seconds\\{${labels}\\} ([0-9.]+)$`, 'm').exec(text)?.[1]);
    assert.ok(age('worker="1",role="worker"') < 1.5);
    assert.ok(age('worker="2",role="worker"') >= 8 && age('worker="2",role="worker"') < 9.5);
    assert.ok(age('worker="0",role="keeper"') >= 5 && age('worker="0",role="keeper"') < 6.5);
  });
});
