// host.cpu_high / host.cpu_normal under a load that swings from one 5 s sample to the next.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryLogger } from '../fixtures/memory-logger.js';
import { createAlerts } from '../../src/master/alerts.js';
import { computeCapacity } from '../../src/master/capacity.js';
import type { HostSample } from '../../src/master/host-monitor.js';

const cap = computeCapacity({ activeConnections: [1], workers: 1, workerConnections: 100, maxConnections: 0, serving: true });
const flush = () => new Promise((r) => setImmediate(r));

describe('host CPU alert', () => {
  it('a CPU figure swinging between 90 % and 60 % each sample for a minute is one alert, not one pair per swing', async () => {
    const { logger, lines } = memoryLogger();
    let ms = 0;
    const alerts = createAlerts(logger, { ramAlertPercent: 90, now: () => ms });
    // Samples every 5 s, observed every second as monitoring.ts does; bursty load (a cache refresh
    // every 10 s on every worker) makes every other sample high.
    for (let s = 0; s < 12; s++) {
      const sample: HostSample = { at: s * 5000, cpuPercent: s % 2 === 0 ? 90 : 60, ramPercent: 10, ramUsedBytes: 1, ramTotalBytes: 10, cpuCount: 2 };
      for (let i = 0; i < 5; i++) {
        alerts.observe(cap, sample);
        ms += 1000;
      }
    }
    await flush();
    const cpuLines = lines.filter((l) => String(l.event).startsWith('host.cpu'));
    assert.ok(cpuLines.length <= 2, `${cpuLines.length} lines in a minute: ${cpuLines.map((l) => String(l.event)).join(', ')}`);
  });
});
