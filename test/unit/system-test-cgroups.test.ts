// The system test's container setup (test/system/cgroups.ts) reads the host's cgroup mounts, its
// own cgroups, and what its container's PID 1 made writable: parsed from the kernel's own formats.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cgroupHierarchies, ownCgroups, writableIn } from '../system/cgroups.js';

// A cgroup v1 host (this kind of CI machine): a tmpfs at /sys/fs/cgroup, one hierarchy per controller.
const HOST_MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '36 31 0:33 / /sys/fs/cgroup/pids rw,relatime shared:13 - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '41 23 0:38 / /proc rw,nosuid - proc proc rw',
].join('\n');

test('the hierarchies: each v1 controller by its key, name=systemd by its name, nothing else', () => {
  assert.deepEqual(cgroupHierarchies(HOST_MOUNTINFO), [
    { mountPoint: '/sys/fs/cgroup/cpu', key: 'cpu' },
    { mountPoint: '/sys/fs/cgroup/memory', key: 'memory' },
    { mountPoint: '/sys/fs/cgroup/pids', key: 'pids' },
    { mountPoint: '/sys/fs/cgroup/systemd', key: 'name=systemd' },
  ]);
  assert.deepEqual(cgroupHierarchies('30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate'), [{ mountPoint: '/sys/fs/cgroup', key: '' }]);
});

test("this process's cgroup in each hierarchy, by /proc/self/cgroup's keys", () => {
  const own = ownCgroups('9:name=systemd:/\n8:pids:/ci/job-1\n0::/init.scope\n');
  assert.deepEqual([...own], [['name=systemd', '/'], ['pids', '/ci/job-1'], ['', '/init.scope']]);
});

test("what the container's PID 1 made writable: its remounts read back, a refused one left read-only", () => {
  const container = (pids: string, memory: string) =>
    [
      '1068 1050 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
      `1071 1068 0:33 /corral-nspawn-7 /sys/fs/cgroup/pids ${pids},nosuid,nodev,noexec,relatime - cgroup cgroup rw,pids`,
      `1072 1068 0:32 /corral-nspawn-7 /sys/fs/cgroup/memory ${memory},nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory`,
    ].join('\n');
  assert.deepEqual(writableIn(container('rw', 'rw'), ['pids', 'memory']), ['pids', 'memory']);
  assert.deepEqual(writableIn(container('rw', 'ro'), ['pids', 'memory']), ['pids']);
  assert.deepEqual(writableIn(container('ro', 'ro'), ['pids', 'memory']), []);
  // Only those asked about; a mount over another at the same point is the one seen there.
  assert.deepEqual(writableIn(container('rw', 'rw'), ['pids']), ['pids']);
  assert.deepEqual(writableIn(`${container('rw', 'rw')}\n1080 1071 0:33 / /sys/fs/cgroup/pids ro,relatime - cgroup cgroup rw,pids`, ['pids', 'memory']), ['memory']);
});
