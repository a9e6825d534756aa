// The CPU quota that binds corral and the usage of the cgroup it limits, read for the host monitor.
// The cgroup trees here are files laid out as the kernel shows them.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCgroupCpu } from '../../src/master/cgroup-cpu.js';

const scratch = mkdtempSync(join(tmpdir(), 'corral-cgroup-cpu-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
/** A /proc and a cgroupfs under a fresh root: `proc/...` and `cg/...` files. */
function tree(files: Record<string, string>) {
  const root = join(scratch, String(++n));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return { proc: join(root, 'proc'), cgroupRoot: join(root, 'cg'), root };
}

describe('cgroup CPU quota and usage', () => {
  it("v2, the service's own quota: the service's usage", async () => {
    const t = tree({
      'proc/self/cgroup': '0::/system.slice/corral.service\n',
      'cg/cgroup.controllers': 'cpu memory\n',
      'cg/cpu.stat': 'usage_usec 999999999\n',
      'cg/system.slice/cgroup.controllers': 'cpu\n',
      'cg/system.slice/cpu.max': 'max 100000\n',
      'cg/system.slice/cpu.stat': 'usage_usec 88888888\n',
      'cg/system.slice/corral.service/cgroup.controllers': 'cpu\n',
      'cg/system.slice/corral.service/cpu.max': '150000 100000\n',
      'cg/system.slice/corral.service/cpu.stat': 'usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\nnr_periods 10\n',
    });
    assert.deepEqual(await readCgroupCpu(t), { quotaCpus: 1.5, usageUsec: 1234567, cgroup: join(t.cgroupRoot, 'system.slice/corral.service'), version: 2 });
  });

  it("v2, a slice's quota lower than the service's: the slice's usage, which counts its other services too", async () => {
    const t = tree({
      'proc/self/cgroup': '0::/kubepods.slice/pod1.slice/corral.scope\n',
      'cg/cgroup.controllers': 'cpu\n',
      'cg/kubepods.slice/cpu.max': 'max 100000\n',
      'cg/kubepods.slice/pod1.slice/cpu.max': '200000 100000\n',
      'cg/kubepods.slice/pod1.slice/cpu.stat': 'usage_usec 5000000\n',
      'cg/kubepods.slice/pod1.slice/corral.scope/cgroup.controllers': 'cpu\n',
      'cg/kubepods.slice/pod1.slice/corral.scope/cpu.max': '400000 100000\n',
      'cg/kubepods.slice/pod1.slice/corral.scope/cpu.stat': 'usage_usec 3000000\n',
    });
    assert.deepEqual(await readCgroupCpu(t), { quotaCpus: 2, usageUsec: 5000000, cgroup: join(t.cgroupRoot, 'kubepods.slice/pod1.slice'), version: 2 });
  });

  it('v2, equal quotas on the service and its slice: the slice, which reaches it first', async () => {
    const t = tree({
      'proc/self/cgroup': '0::/a.slice/corral.service\n',
      'cg/a.slice/cpu.max': '100000 100000\n',
      'cg/a.slice/cpu.stat': 'usage_usec 700\n',
      'cg/a.slice/corral.service/cgroup.controllers': 'cpu\n',
      'cg/a.slice/corral.service/cpu.max': '100000 100000\n',
      'cg/a.slice/corral.service/cpu.stat': 'usage_usec 500\n',
    });
    assert.equal((await readCgroupCpu(t))?.usageUsec, 700);
  });

  it('v2 in a cgroup namespace (the process sees its cgroup as /): the mount root; no quota anywhere is none', async () => {
    const limited = tree({ 'proc/self/cgroup': '0::/\n', 'cg/cgroup.controllers': 'cpu\n', 'cg/cpu.max': '200000 100000\n', 'cg/cpu.stat': 'usage_usec 42\n' });
    assert.deepEqual(await readCgroupCpu(limited), { quotaCpus: 2, usageUsec: 42, cgroup: limited.cgroupRoot, version: 2 });
    const unlimited = tree({ 'proc/self/cgroup': '0::/user.slice\n', 'cg/cgroup.controllers': 'cpu\n', 'cg/user.slice/cgroup.controllers': 'cpu\n', 'cg/user.slice/cpu.max': 'max 100000\n', 'cg/user.slice/cpu.stat': 'usage_usec 42\n' });
    assert.equal(await readCgroupCpu(unlimited), undefined);
  });

  it('v1: cfs_quota_us over cfs_period_us and cpuacct.usage in µs, co-mounted or apart; -1 is none', async () => {
    const comounted = tree({
      'proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n',
      'cg/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '300000\n',
      'cg/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      'cg/cpu,cpuacct/docker/abc/cpuacct.usage': '7000000000\n',
    });
    assert.deepEqual(await readCgroupCpu(comounted), { quotaCpus: 3, usageUsec: 7_000_000, cgroup: join(comounted.cgroupRoot, 'cpu,cpuacct/docker/abc'), version: 1 });
    const apart = tree({
      'proc/self/cgroup': '2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n0::/\n',
      'cg/cpu/docker/abc/cpu.cfs_quota_us': '50000\n',
      'cg/cpu/docker/abc/cpu.cfs_period_us': '100000\n',
      'cg/cpuacct/docker/abc/cpuacct.usage': '2500\n',
    });
    assert.deepEqual(await readCgroupCpu(apart), { quotaCpus: 0.5, usageUsec: 2.5, cgroup: join(apart.cgroupRoot, 'cpuacct/docker/abc'), version: 1 });
    const none = tree({ 'proc/self/cgroup': '1:cpu:/\n2:cpuacct:/\n', 'cg/cpu/cpu.cfs_quota_us': '-1\n', 'cg/cpu/cpu.cfs_period_us': '100000\n', 'cg/cpuacct/cpuacct.usage': '2500\n' });
    assert.equal(await readCgroupCpu(none), undefined);
  });

  it('no cgroup readable (not Linux, no cgroupfs), or a quota whose usage cannot be read: none', async () => {
    assert.equal(await readCgroupCpu({ proc: join(scratch, 'nothing'), cgroupRoot: join(scratch, 'nothing', 'cg') }), undefined);
    const noStat = tree({ 'proc/self/cgroup': '0::/\n', 'cg/cgroup.controllers': 'cpu\n', 'cg/cpu.max': '200000 100000\n' });
    assert.equal(await readCgroupCpu(noStat), undefined);
  });

  it("this machine's own cgroup is read without error", async () => {
    const mine = await readCgroupCpu();
    if (mine) assert.ok(mine.quotaCpus > 0 && mine.usageUsec >= 0);
  });
});
