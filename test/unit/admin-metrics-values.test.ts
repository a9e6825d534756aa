// /metrics values derived by a division print without the binary fraction's noise: 5.1 ms of
// event-loop lag is 0.0051 s, not 0.0050999999999999995, and 35.7 % of CPU is 0.357, not
// 0.35700000000000004.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import { decimal, ratioOfPercent, secondsOfMs } from '../../src/master/admin/metric-value.js';
import type { HostSample } from '../../src/master/host-monitor.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

describe('/metrics values', () => {
  it('are the decimal figures they come from', () => {
    // Each of these divides into a binary fraction that prints with noise.
    assert.equal(String(5.1 / 1000), '0.0050999999999999995');
    assert.equal(String(35.7 / 100), '0.35700000000000004');
    assert.equal(secondsOfMs(5.1), 0.0051);
    assert.equal(ratioOfPercent(35.7), 0.357);
    // Whole figures and small ones keep every digit they have.
    assert.equal(secondsOfMs(60_000), 60);
    assert.equal(secondsOfMs(0.001), 0.000001);
    assert.equal(decimal(123456.789012), 123456.789012);
    assert.equal(decimal(Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY);
  });

  it('print in the scrape without noise', async () => {
    const view = createFakeView(testSettings(), [child(1, 101, 'ready', { eventLoopLagMs: 5.1 })]);
    const host: HostSample = { at: Date.now(), cpuPercent: 35.7, ramPercent: 12.3, ramUsedBytes: 1, ramTotalBytes: 2, cpuCount: 2 };
    const text = await createAdminMetrics(view, () => host, 5000).render();
    assert.match(text, /^corral_event_loop_lag_seconds\{worker="1",role="worker"\} 0\.0051$/m);
    assert.match(text, /^corral_host_cpu_ratio 0\.357$/m);
    assert.match(text, /^corral_host_memory_ratio 0\.123$/m);
    // No sample line anywhere carries more than twelve significant digits.
    const values = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.slice(l.lastIndexOf(' ') + 1));
    const significant = (v: string) => v.replace(/e.*$/, '').replace(/[-.]/g, '').replace(/^0+/, '').length;
    const noisy = values.filter((v) => significant(v) > 12);
    assert.deepEqual(noisy, []);
  });
});
