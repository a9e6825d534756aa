// corral_host_cpu_ratio and corral_host_memory_ratio have no sample once the host monitor's last
// sample is stale, as the stats say host.stale and the history records null. They served the last
// figures read as the host's now (audit: /proc/stat hung under a bind-mounted FIFO; 29 s later the
// stats said stale, the history null, /metrics 0.968 CPU as if measured).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import type { HostSample } from '../../src/master/host-monitor.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

const sample = (ageMs: number): HostSample => ({ at: Date.now() - ageMs, cpuPercent: 96.8, ramPercent: 3.5, ramUsedBytes: 1, ramTotalBytes: 2, cpuCount: 2 });
const hostLines = (text: string) => text.split('\n').filter((l) => /^corral_host_\w+ /.test(l));

describe('/metrics host gauges', () => {
  it('serve a fresh sample', async () => {
    const view = createFakeView(testSettings(), [child(1, 101, 'ready', {})]);
    const text = await createAdminMetrics(view, () => sample(4000), 5000).render();
    assert.deepEqual(hostLines(text), ['corral_host_cpu_ratio 0.968', 'corral_host_memory_ratio 0.035']);
  });

  it('have no sample once the last one is older than three sampling intervals, and come back with a new one', async () => {
    const view = createFakeView(testSettings(), [child(1, 101, 'ready', {})]);
    let latest = sample(4000);
    const metrics = createAdminMetrics(view, () => latest, 5000);
    assert.equal(hostLines(await metrics.render()).length, 2);
    latest = sample(16_000);
    assert.deepEqual(hostLines(await metrics.render()), [], 'a stale sample is unknown, not the host now');
    latest = sample(100);
    assert.equal(hostLines(await metrics.render()).length, 2);
  });
});
