// Under a cgroup memory limit below the machine's RAM, the RAM figures are the machine's when it has less room left.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveMemory, monitoredMemory } from '../../src/master/cgroup-memory.js';

const GiB = 1024 ** 3;

describe('effectiveMemory with a generous cgroup limit on a machine short of memory', () => {
  it('counts the room the machine has left when it is less than the room under the limit', () => {
    // MemoryMax=12G on a 16 GiB host whose other services hold most of it: 1 GiB available on the
    // machine, corral's cgroup at 2 GiB of its 12. The kernel's global OOM killer acts at the
    // machine's limit, the cgroup's at its own: whichever has less room binds (cgroup-memory.ts's
    // own rule for nested levels), and here it is the machine's.
    const m = monitoredMemory({ total: 16 * GiB, available: 1 * GiB }, { limitBytes: 12 * GiB, usedBytes: 2 * GiB, version: 2 });
    const percent = ((m.total - m.available) / m.total) * 100;
    assert.ok(m.available <= 1 * GiB, `available ${m.available / GiB} GiB, while the machine has 1 GiB left`);
    assert.ok(percent > 90, `RAM at ${percent.toFixed(1)} % (host.ram_high cannot fire): the machine is at 94 %`);
    assert.equal(m.from, 'host', "the figures are the machine's, and the alert says host RAM");
    // With the machine's room the larger, the limit's figures as before; sizing keeps the limit.
    assert.deepEqual(monitoredMemory({ total: 16 * GiB, available: 14 * GiB }, { limitBytes: 2 * GiB, usedBytes: 1.5 * GiB, version: 2 }), { total: 2 * GiB, available: 0.5 * GiB, from: 'cgroup' });
    assert.equal(effectiveMemory({ total: 16 * GiB, available: 1 * GiB }, { limitBytes: 12 * GiB, usedBytes: 2 * GiB, version: 2 }).total, 12 * GiB);
  });
});
