// Host CPU under a CPU quota: the cgroup's usage over the quota, not the busy share of the CPUs of
// the affinity mask (a container flat out on its 2-CPU quota of a 32-CPU host read about 6 %, and
// host.cpu_high never fired). A fake /proc and cgroupfs in a temp dir, a fake monotonic clock.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createHostMonitor, type HostMonitor } from '../../src/master/host-monitor.js';

const scratch = mkdtempSync(join(tmpdir(), 'corral-host-cpu-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** /proc/stat of 4 CPUs, each `busy` ticks of user time and `idle` of idle. */
function stat(busy: number, idle: number): string {
  const line = (name: string, k: number) => `${name} ${busy * k} 0 0 ${idle * k} 0 0 0 0 0 0`;
  return [line('cpu ', 4), ...[0, 1, 2, 3].map((c) => line(`cpu${c}`, 1)), 'ctxt 1', ''].join('\n');
}

let n = 0;
/** A fake machine of 4 CPUs (the affinity mask 0-3) whose /proc and cgroupfs are `files`. */
function machine(files: Record<string, string>) {
  const root = join(scratch, String(++n));
  const write = (more: Record<string, string>) => {
    for (const [path, content] of Object.entries(more)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
  };
  write({ 'proc/stat': stat(0, 0), 'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0-3\n', ...files });
  let clock = 0;
  const monitor = createHostMonitor({
    intervalMs: 3_600_000,
    readMemory: async () => ({ total: 1000, available: 600 }),
    sources: { proc: join(root, 'proc'), cgroupRoot: join(root, 'cg') },
    monotonicMs: () => clock,
  });
  return {
    monitor,
    cg: join(root, 'cg'),
    /** `ms` later, these files changed: written and the clock moved in one step. */
    later(ms: number, more: Record<string, string>) {
      write(more);
      clock += ms;
    },
  };
}

/** The next sample's CPU figures. */
async function cpu(monitor: HostMonitor) {
  const s = await monitor.sample();
  assert.ok(s);
  return { percent: s.cpuPercent, from: s.cpuFrom, cpus: s.cpuCount };
}

// In every case the 4 CPUs of the mask are 10 % busy over the second measured: other tenants' load
// as much as corral's.
const HOST_10 = { 'proc/stat': stat(10, 90) };

describe('host CPU under a cgroup CPU quota', () => {
  it("v2, the service's own quota of 2 CPUs: its usage over 2 CPUs' time, and 2 CPUs", async () => {
    const m = machine({
      'proc/self/cgroup': '0::/system.slice/corral.service\n',
      'cg/system.slice/corral.service/cgroup.controllers': 'cpu\n',
      'cg/system.slice/corral.service/cpu.max': '200000 100000\n',
      'cg/system.slice/corral.service/cpu.stat': 'usage_usec 40000000\n',
    });
    try {
      assert.deepEqual(await cpu(m.monitor), { percent: null, from: 'cgroup', cpus: 2 }, 'the first sample is the baseline');
      // 1.5 s of CPU time in 1 s: 75 % of the quota's 2 CPUs.
      m.later(1000, { ...HOST_10, 'cg/system.slice/corral.service/cpu.stat': 'usage_usec 41500000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: 75, from: 'cgroup', cpus: 2 });
      // Throttled flat out (a little over, as the kernel's accounting allows): 100, not more.
      m.later(1000, { 'proc/stat': stat(20, 180), 'cg/system.slice/corral.service/cpu.stat': 'usage_usec 43600000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: 100, from: 'cgroup', cpus: 2 });
    } finally {
      m.monitor.close();
    }
  });

  it("v2, a slice's quota of 1.5 CPUs over the service: the slice's usage, which its other services share", async () => {
    const m = machine({
      'proc/self/cgroup': '0::/pod.slice/corral.scope\n',
      'cg/pod.slice/cpu.max': '150000 100000\n',
      'cg/pod.slice/cpu.stat': 'usage_usec 9000000\n',
      'cg/pod.slice/corral.scope/cgroup.controllers': 'cpu\n',
      'cg/pod.slice/corral.scope/cpu.max': 'max 100000\n',
      'cg/pod.slice/corral.scope/cpu.stat': 'usage_usec 1000000\n',
    });
    try {
      await cpu(m.monitor);
      // The slice used 1.2 s in 1 s (80 % of 1.5 CPUs), corral's scope 0.3 s of it (20 %).
      m.later(1000, { ...HOST_10, 'cg/pod.slice/cpu.stat': 'usage_usec 10200000\n', 'cg/pod.slice/corral.scope/cpu.stat': 'usage_usec 1300000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: 80, from: 'cgroup', cpus: 1 });
    } finally {
      m.monitor.close();
    }
  });

  it('v1: cpuacct.usage (ns) over cfs_quota_us / cfs_period_us', async () => {
    const m = machine({
      'proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n',
      'cg/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '100000\n',
      'cg/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      'cg/cpu,cpuacct/docker/abc/cpuacct.usage': '123000000000\n',
    });
    try {
      await cpu(m.monitor);
      // 1 s of CPU time in 2 s, of 1 CPU.
      m.later(2000, { ...HOST_10, 'cg/cpu,cpuacct/docker/abc/cpuacct.usage': '124000000000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: 50, from: 'cgroup', cpus: 1 });
    } finally {
      m.monitor.close();
    }
  });

  it('no quota, or one of as many CPUs as the mask or more: the busy share of the mask, as before', async () => {
    for (const max of ['max 100000\n', '400000 100000\n', '800000 100000\n']) {
      const m = machine({ 'proc/self/cgroup': '0::/\n', 'cg/cgroup.controllers': 'cpu\n', 'cg/cpu.max': max, 'cg/cpu.stat': 'usage_usec 0\n' });
      try {
        assert.deepEqual(await cpu(m.monitor), { percent: null, from: 'host', cpus: 4 });
        m.later(1000, { ...HOST_10, 'cg/cpu.stat': 'usage_usec 3000000\n' });
        assert.deepEqual(await cpu(m.monitor), { percent: 10, from: 'host', cpus: 4 }, max);
      } finally {
        m.monitor.close();
      }
    }
  });

  it('a counter gone back (the unit restarted into a new cgroup of the same name), or another cgroup: no figure, never a negative one', async () => {
    const m = machine({
      'proc/self/cgroup': '0::/corral.service\n',
      'cg/corral.service/cgroup.controllers': 'cpu\n',
      'cg/corral.service/cpu.max': '100000 100000\n',
      'cg/corral.service/cpu.stat': 'usage_usec 900000000\n',
    });
    try {
      await cpu(m.monitor);
      m.later(1000, { ...HOST_10, 'cg/corral.service/cpu.stat': 'usage_usec 900500000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: 50, from: 'cgroup', cpus: 1 });
      m.later(1000, { 'proc/stat': stat(20, 180), 'cg/corral.service/cpu.stat': 'usage_usec 200000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: null, from: 'cgroup', cpus: 1 }, 'a new baseline');
      m.later(1000, { 'proc/stat': stat(30, 270), 'cg/corral.service/cpu.stat': 'usage_usec 500000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: 30, from: 'cgroup', cpus: 1 }, 'measured from it');
      // Moved into another cgroup (its counter is another's, higher or not).
      m.later(1000, {
        'proc/stat': stat(40, 360),
        'proc/self/cgroup': '0::/other.service\n',
        'cg/other.service/cgroup.controllers': 'cpu\n',
        'cg/other.service/cpu.max': '100000 100000\n',
        'cg/other.service/cpu.stat': 'usage_usec 800000000\n',
      });
      assert.deepEqual(await cpu(m.monitor), { percent: null, from: 'cgroup', cpus: 1 });
    } finally {
      m.monitor.close();
    }
  });

  it('a quota set or lifted on the running master: the first sample of the new source is a baseline, not the old source\'s figure', async () => {
    const m = machine({ 'proc/self/cgroup': '0::/\n', 'cg/cgroup.controllers': 'cpu\n', 'cg/cpu.max': 'max 100000\n', 'cg/cpu.stat': 'usage_usec 0\n' });
    try {
      await cpu(m.monitor);
      m.later(1000, { ...HOST_10, 'cg/cpu.stat': 'usage_usec 1000000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: 10, from: 'host', cpus: 4 });
      // `systemctl set-property corral CPUQuota=200%`.
      m.later(1000, { 'proc/stat': stat(20, 180), 'cg/cpu.max': '200000 100000\n', 'cg/cpu.stat': 'usage_usec 2000000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: null, from: 'cgroup', cpus: 2 });
      m.later(1000, { 'proc/stat': stat(30, 270), 'cg/cpu.max': 'max 100000\n', 'cg/cpu.stat': 'usage_usec 3000000\n' });
      assert.deepEqual(await cpu(m.monitor), { percent: 10, from: 'host', cpus: 4 }, '/proc/stat was read all along');
    } finally {
      m.monitor.close();
    }
  });
});
