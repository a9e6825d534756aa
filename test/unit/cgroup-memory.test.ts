// The RAM figures under a cgroup memory limit: a container or MemoryMax= is what the kernel kills at,
// not the machine's RAM. The cgroup trees here are files laid out as the kernel shows them.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { effectiveMemory, readCgroupMemory } from '../../src/master/cgroup-memory.js';

const GiB = 2 ** 30;
const scratch = mkdtempSync(join(tmpdir(), 'corral-cgroup-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
/** A cgroupfs under a fresh root, and /proc/self/cgroup naming `self`. */
function tree(selfCgroup: string, files: Record<string, string>) {
  const root = join(scratch, String(++n));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  writeFileSync(join(root, 'self-cgroup'), selfCgroup);
  return { root, selfCgroup: join(root, 'self-cgroup') };
}

describe('cgroup memory', () => {
  it('v2: the lowest memory.max of the cgroup and its ancestors, and the charge less inactive file cache', async () => {
    const paths = tree('0::/system.slice/corral.service\n', {
      'system.slice/memory.max': `${1 * GiB}\n`,
      'system.slice/corral.service/memory.max': `${2 * GiB}\n`,
      'system.slice/corral.service/memory.current': `${600 * 2 ** 20}\n`,
      'system.slice/corral.service/memory.stat': `anon 400000000\ninactive_file ${100 * 2 ** 20}\nactive_file 5\n`,
    });
    assert.deepEqual(await readCgroupMemory(paths), { limitBytes: 1 * GiB, usedBytes: 500 * 2 ** 20, version: 2 });
  });

  it('v2 in a cgroup namespace (the process sees its cgroup as /): read at the mount root; "max" everywhere is no limit', async () => {
    const limited = tree('0::/\n', { 'memory.max': `${512 * 2 ** 20}\n`, 'memory.current': '1000\n', 'memory.stat': 'inactive_file 0\n' });
    assert.deepEqual(await readCgroupMemory(limited), { limitBytes: 512 * 2 ** 20, usedBytes: 1000, version: 2 });
    const unlimited = tree('0::/user.slice\n', { 'user.slice/memory.max': 'max\n', 'user.slice/memory.current': '1000\n' });
    assert.equal(await readCgroupMemory(unlimited), undefined);
  });

  it("a slice's limit that binds is set against the slice's charge (every service in it), not corral's own", async () => {
    // MemoryMax=1G on the slice, none on corral's unit: the slice holds 900 MiB (another service
    // in it 700), and the kernel reclaims then OOM-kills at the slice's 1 GiB whoever charged it.
    const v2 = tree('0::/app.slice/corral.service\n', {
      'app.slice/memory.max': `${1 * GiB}\n`,
      'app.slice/memory.current': `${900 * 2 ** 20}\n`,
      'app.slice/memory.stat': `inactive_file 0\n`,
      'app.slice/corral.service/memory.max': 'max\n',
      'app.slice/corral.service/memory.current': `${200 * 2 ** 20}\n`,
      'app.slice/corral.service/memory.stat': `inactive_file 0\n`,
    });
    assert.deepEqual(await readCgroupMemory(v2), { limitBytes: 1 * GiB, usedBytes: 900 * 2 ** 20, version: 2 });
    // The unit's own limit, nearer its own charge, binds when it leaves less room than the slice's.
    const own = tree('0::/app.slice/corral.service\n', {
      'app.slice/memory.max': `${4 * GiB}\n`,
      'app.slice/memory.current': `${1 * GiB}\n`,
      'app.slice/corral.service/memory.max': `${1 * GiB}\n`,
      'app.slice/corral.service/memory.current': `${900 * 2 ** 20}\n`,
      'app.slice/corral.service/memory.stat': `inactive_file ${100 * 2 ** 20}\n`,
    });
    assert.deepEqual(await readCgroupMemory(own), { limitBytes: 1 * GiB, usedBytes: 800 * 2 ** 20, version: 2 });
    // cgroup v1: the parent's memory.limit_in_bytes against the parent's usage.
    const v1 = tree('4:memory:/app.slice/corral.service\n', {
      'memory/app.slice/memory.limit_in_bytes': `${1 * GiB}\n`,
      'memory/app.slice/memory.usage_in_bytes': `${950 * 2 ** 20}\n`,
      'memory/app.slice/memory.stat': `total_inactive_file ${50 * 2 ** 20}\n`,
      'memory/app.slice/corral.service/memory.limit_in_bytes': '9223372036854771712\n',
      'memory/app.slice/corral.service/memory.usage_in_bytes': `${200 * 2 ** 20}\n`,
      'memory/app.slice/corral.service/memory.stat': `hierarchical_memory_limit ${1 * GiB}\ntotal_inactive_file 0\n`,
    });
    assert.deepEqual(await readCgroupMemory(v1), { limitBytes: 1 * GiB, usedBytes: 900 * 2 ** 20, version: 1 });
  });

  it('v1: hierarchical_memory_limit, the charge less total_inactive_file; the kernel\'s "unlimited" is none', async () => {
    const limited = tree('4:memory:/docker/abc\n3:cpuset:/\n', {
      'memory/docker/abc/memory.limit_in_bytes': `${4 * GiB}\n`,
      'memory/docker/abc/memory.usage_in_bytes': `${3 * GiB}\n`,
      'memory/docker/abc/memory.stat': `hierarchical_memory_limit ${2 * GiB}\ntotal_inactive_file ${1 * GiB}\n`,
    });
    assert.deepEqual(await readCgroupMemory(limited), { limitBytes: 2 * GiB, usedBytes: 2 * GiB, version: 1 });
    const unlimited = tree('4:memory:/docker/abc\n', {
      'memory/docker/abc/memory.limit_in_bytes': '9223372036854771712\n',
      'memory/docker/abc/memory.usage_in_bytes': '1000\n',
      'memory/docker/abc/memory.stat': 'hierarchical_memory_limit 9223372036854771712\n',
    });
    assert.equal(await readCgroupMemory(unlimited), undefined);
  });

  it('no cgroup readable (not Linux, no cgroupfs): none', async () => {
    assert.equal(await readCgroupMemory({ root: join(scratch, 'nothing'), selfCgroup: join(scratch, 'nothing', 'cgroup') }), undefined);
  });

  it("the RAM figures are the cgroup's only where its limit is below the machine's RAM", () => {
    const host = { total: 24 * GiB, available: 22 * GiB };
    assert.deepEqual(effectiveMemory(host, { limitBytes: 2 * GiB, usedBytes: 1.5 * GiB, version: 2 }), { total: 2 * GiB, available: 0.5 * GiB, from: 'cgroup' });
    assert.deepEqual(effectiveMemory(host, { limitBytes: 32 * GiB, usedBytes: GiB, version: 2 }), { ...host, from: 'host' });
    assert.deepEqual(effectiveMemory(host, undefined), { ...host, from: 'host' });
    assert.equal(effectiveMemory(host, { limitBytes: 2 * GiB, usedBytes: 3 * GiB, version: 1 }).available, 0, 'over its limit (reclaim pending): none available, not negative');
  });

  it("this machine's own cgroup is read without error", async () => {
    const mine = await readCgroupMemory();
    if (mine) assert.ok(mine.limitBytes > 0 && mine.usedBytes >= 0);
  });
});
