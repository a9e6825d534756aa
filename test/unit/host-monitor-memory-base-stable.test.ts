// Under a cgroup memory limit, which figures the host monitor shows (the limit's or the machine's)
// is chosen by the room each leaves, and both rooms move every sample: near the crossing the
// choice, and with it the percent, must not swing from one sample to the next.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MEMORY_BASE_MARGIN, monitoredMemory } from '../../src/master/cgroup-memory.js';
import { createHostMonitor } from '../../src/master/host-monitor.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const percentOf = (m: { total: number; available: number }) => ((m.total - m.available) / m.total) * 100;

describe('monitoredMemory near the crossing of the machine\'s room and the limit\'s', () => {
  // MemoryMax=2G on a 16 GiB host, corral's cgroup at 1 GiB of it: 1 GiB of room under the limit
  // (50 %). The machine's other services hold about 14 GiB, so its own room hovers around 1 GiB too
  // (about 94 %), a few tens of MiB either side each sample.
  const cgroup = { limitBytes: 2 * GiB, usedBytes: 1 * GiB, version: 2 as const };
  const machine = (availableMiB: number) => ({ total: 16 * GiB, available: availableMiB * MiB });
  const hovering = [1000, 1050, 1010, 1040, 990, 1060, 1020, 1030, 1000, 1048];

  it('keeps the base it chose while the two rooms stay within the margin of each other', () => {
    let previous: 'cgroup' | 'host' | undefined;
    const bases: string[] = [];
    const percents: number[] = [];
    for (const mib of hovering) {
      const m = monitoredMemory(machine(mib), cgroup, previous);
      previous = m.from;
      bases.push(m.from);
      percents.push(Math.round(percentOf(m)));
    }
    assert.equal(new Set(bases).size, 1, `one base throughout, not ${bases.join(',')}`);
    assert.ok(Math.max(...percents) - Math.min(...percents) <= 1, `the percent moved with the readings alone: ${percents.join(',')}`);
  });

  it('switches when the other room is smaller by more than the margin, and the figure shown never overstates the least room by more', () => {
    const margin = MEMORY_BASE_MARGIN * cgroup.limitBytes;
    // On the limit's figures: the machine's room a little under the limit's (within the margin) keeps them.
    const near = monitoredMemory({ total: 16 * GiB, available: GiB - margin / 2 }, cgroup, 'cgroup');
    assert.equal(near.from, 'cgroup');
    assert.ok(near.available - (GiB - margin / 2) <= margin);
    // Past the margin, the machine's figures: its room is what binds.
    const short = monitoredMemory({ total: 16 * GiB, available: GiB - 2 * margin }, cgroup, 'cgroup');
    assert.deepEqual(short, { total: 16 * GiB, available: GiB - 2 * margin, from: 'host' });
    // And back only once the machine has more room than the limit leaves by more than the margin.
    assert.equal(monitoredMemory({ total: 16 * GiB, available: GiB + margin / 2 }, cgroup, 'host').from, 'host');
    assert.equal(monitoredMemory({ total: 16 * GiB, available: GiB + 2 * margin }, cgroup, 'host').from, 'cgroup');
    // No previous sample: whichever has less room, as before.
    assert.equal(monitoredMemory({ total: 16 * GiB, available: GiB - MiB }, cgroup).from, 'host');
    assert.equal(monitoredMemory({ total: 16 * GiB, available: GiB + MiB }, cgroup).from, 'cgroup');
  });

  it('shows the machine where no limit below its RAM holds, whatever the previous base', () => {
    assert.equal(monitoredMemory({ total: 16 * GiB, available: 8 * GiB }, undefined, 'cgroup').from, 'host');
    assert.equal(monitoredMemory({ total: 16 * GiB, available: 8 * GiB }, { limitBytes: 32 * GiB, usedBytes: GiB, version: 2 }, 'cgroup').from, 'host');
  });

  it("the host monitor gives its reader the previous sample's base, so its samples keep one base", async () => {
    const given: (string | undefined)[] = [];
    let i = 0;
    const monitor = createHostMonitor({
      intervalMs: 3_600_000,
      readMemory: async (previous) => {
        given.push(previous);
        return monitoredMemory(machine(hovering[i++ % hovering.length]!), cgroup, previous);
      },
    });
    try {
      const froms: string[] = [];
      for (let n = 0; n < hovering.length; n++) froms.push((await monitor.sample())?.ramFrom ?? '');
      assert.equal(given[0], undefined, 'no base before the first sample');
      assert.deepEqual(given.slice(1), froms.slice(0, given.length - 1), "each reading given the base of the sample before it");
      assert.equal(new Set(froms).size, 1, `one base throughout, not ${froms.join(',')}`);
    } finally {
      monitor.close();
    }
  });
});
