// A /proc/stat the master cannot read must be a failed measurement (README: host.stale and
// host.sample_failed), not a fresh sample carrying the previous CPU share.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createHostMonitor } from '../../src/master/host-monitor.js';

const scratch = mkdtempSync(join(tmpdir(), 'corral-proc-unreadable-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function stat(busy: number, idle: number): string {
  const line = (name: string, k: number) => `${name} ${busy * k} 0 0 ${idle * k} 0 0 0 0 0 0`;
  return [line('cpu ', 2), line('cpu0', 1), line('cpu1', 1), ''].join('\n');
}

describe('host monitor with a /proc/stat that cannot be read', () => {
  it('reports the measurement as failed and keeps the last sample (its `at` ages), rather than a fresh one', async () => {
    const proc = join(scratch, 'proc');
    mkdirSync(join(proc, 'self'), { recursive: true });
    writeFileSync(join(proc, 'self', 'status'), 'Cpus_allowed_list:\t0-1\n');
    writeFileSync(join(proc, 'stat'), stat(0, 0));
    const results: unknown[] = [];
    const monitor = createHostMonitor({
      intervalMs: 3_600_000,
      readMemory: async () => ({ total: 1000, available: 600 }),
      sources: { proc, cgroupRoot: join(scratch, 'no-cgroup') },
      onSample: (err) => results.push(err),
    });
    try {
      await monitor.sample();
      writeFileSync(join(proc, 'stat'), stat(90, 10));
      const good = await monitor.sample();
      assert.equal(good?.cpuPercent, 90);
      // /proc/stat now unreadable (a sandbox, EMFILE at the master's open-files limit).
      rmSync(join(proc, 'stat'));
      results.length = 0;
      await new Promise((r) => setTimeout(r, 5));
      const after = await monitor.sample();
      assert.ok(results[0] !== undefined, 'onSample was told the measurement worked: no host.sample_failed is ever logged');
      assert.equal(after?.at, good?.at, 'a fresh sample: host.stale never becomes true, the CPU figure is carried over or computed from other CPU times');
      // Readable again: the share since the last reading that worked, not since boot.
      writeFileSync(join(proc, 'stat'), stat(100, 20));
      const back = await monitor.sample();
      assert.equal(back?.cpuPercent, 50);
    } finally {
      monitor.close();
    }
  });
});
