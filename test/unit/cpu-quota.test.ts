import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpusUnderQuota, parseCpuMax, readCpuQuota, usableCpus } from '../../src/cpu-quota.js';
import { defaultWorkers } from '../../src/config/schema-daemon.js';

function tree(files: Record<string, string>): { proc: string; cgroupRoot: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cpu-quota-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return { proc: join(dir, 'proc'), cgroupRoot: join(dir, 'cg'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('cpu.max: a quota over its period in CPUs; "max" is none', () => {
  assert.equal(parseCpuMax('200000 100000\n'), 2);
  assert.equal(parseCpuMax('50000 100000'), 0.5);
  assert.equal(parseCpuMax('max 100000\n'), undefined);
  assert.equal(parseCpuMax(undefined), undefined);
});

test('a container limited to 2 CPUs on a 32-CPU host: the default CORRAL_WORKERS is 8, not 128', () => {
  const t = tree({ 'proc/self/cgroup': '0::/\n', 'cg/cgroup.controllers': 'cpu memory pids\n', 'cg/cpu.max': '200000 100000\n' });
  try {
    const quota = readCpuQuota(t);
    assert.equal(quota, 2);
    assert.equal(defaultWorkers(usableCpus(32, quota)), 8);
  } finally {
    t.done();
  }
});

test("cgroup v2: a slice's quota binds the service below it; the lowest one counts", () => {
  const t = tree({
    'proc/self/cgroup': '0::/system.slice/corral.service\n',
    'cg/cgroup.controllers': 'cpu\n',
    'cg/system.slice/cpu.max': '150000 100000\n',
    'cg/system.slice/corral.service/cgroup.controllers': 'cpu\n',
    'cg/system.slice/corral.service/cpu.max': 'max 100000\n',
  });
  try {
    assert.equal(readCpuQuota(t), 1.5);
    assert.equal(usableCpus(16, 1.5), 1, 'rounded down, as libuv does');
    assert.equal(usableCpus(16, 0.2), 1, 'at least one');
  } finally {
    t.done();
  }
});

test('cgroup v1: cfs_quota_us over cfs_period_us; -1 is none; no quota leaves the affinity count', () => {
  const limited = tree({ 'proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n', 'cg/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '300000\n', 'cg/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n' });
  const none = tree({ 'proc/self/cgroup': '4:cpu,cpuacct:/\n', 'cg/cpu,cpuacct/cpu.cfs_quota_us': '-1\n', 'cg/cpu,cpuacct/cpu.cfs_period_us': '100000\n' });
  try {
    assert.equal(readCpuQuota(limited), 3);
    assert.equal(readCpuQuota(none), undefined);
    assert.equal(cpusUnderQuota(4, undefined), 4, "usableCpus(4, undefined) would read this machine's own quota (a default parameter)");
    assert.equal(usableCpus(2, 8), 2, 'a quota above the affinity mask does not raise it');
  } finally {
    limited.done();
    none.done();
  }
});

test("another process's cgroup (corral recommend reads the running master's): its quota, not this one's", () => {
  const t = tree({
    'proc/self/cgroup': '0::/user.slice\n',
    'proc/4242/cgroup': '0::/system.slice/corral.service\n',
    'cg/user.slice/cgroup.controllers': 'cpu\n',
    'cg/user.slice/cpu.max': 'max 100000\n',
    'cg/system.slice/corral.service/cgroup.controllers': 'cpu\n',
    'cg/system.slice/corral.service/cpu.max': '200000 100000\n',
  });
  try {
    assert.equal(readCpuQuota(t), undefined);
    assert.equal(readCpuQuota({ ...t, pid: 4242 }), 2);
  } finally {
    t.done();
  }
});
