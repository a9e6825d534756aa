// Host CPU over the CPUs this process may run on (its affinity), as many as the count shown:
// under `taskset -c 0` on 2 cores, cpu0 at 100 % read as 51.7 % "of 1 core".

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowedCpusOf, cpuTimesOf, parseCpuList } from '../../src/master/cpu-times.js';

/** /proc/stat as Linux writes it: the sum line, then one per CPU (user nice system idle iowait irq softirq steal guest guest_nice). */
function stat(cpu0: readonly number[], cpu1: readonly number[]): string {
  const sum = cpu0.map((v, i) => v + (cpu1[i] ?? 0));
  return [`cpu  ${sum.join(' ')} 0 0`, `cpu0 ${cpu0.join(' ')} 0 0`, `cpu1 ${cpu1.join(' ')} 0 0`, 'intr 12345 0 0', 'ctxt 999', 'btime 1700000000', 'procs_running 2', ''].join('\n');
}

const STATUS = (list: string) => `Name:\tnode\nState:\tR (running)\nCpus_allowed:\t1\nCpus_allowed_list:\t${list}\nMems_allowed_list:\t0\n`;

function percent(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  return Math.round(((b.busy - a.busy) / (b.total - a.total)) * 1000) / 10;
}

describe('CPU times of the allowed CPUs', () => {
  it('reads Cpus_allowed_list ranges and single CPUs', () => {
    assert.deepEqual([...parseCpuList('0')!], [0]);
    assert.deepEqual([...parseCpuList('0-3,8,10-11')!], [0, 1, 2, 3, 8, 10, 11]);
    assert.equal(parseCpuList(''), undefined);
    assert.equal(parseCpuList('3-1'), undefined);
    assert.equal(parseCpuList('ff'), undefined);
    assert.deepEqual([...allowedCpusOf(STATUS('0'))!], [0]);
    assert.deepEqual([...allowedCpusOf(STATUS('0-1'))!], [0, 1]);
    assert.equal(allowedCpusOf('Name:\tnode\n'), undefined);
  });

  it('measures cpu0 alone under affinity 0: 100 % busy, where the whole machine reads 50 %', () => {
    // One second (100 ticks) later: cpu0 busy throughout (user), cpu1 idle throughout.
    const before = stat([1000, 0, 500, 8000, 100, 0, 0, 0], [900, 0, 400, 8100, 100, 0, 0, 0]);
    const after = stat([1100, 0, 500, 8000, 100, 0, 0, 0], [900, 0, 400, 8200, 100, 0, 0, 0]);
    const only0 = allowedCpusOf(STATUS('0'));
    assert.equal(percent(cpuTimesOf(before, only0)!, cpuTimesOf(after, only0)!), 100);
    const both = allowedCpusOf(STATUS('0-1'));
    assert.equal(percent(cpuTimesOf(before, both)!, cpuTimesOf(after, both)!), 50);
    // Without a mask: the machine's sum line, as before.
    assert.equal(percent(cpuTimesOf(before, undefined)!, cpuTimesOf(after, undefined)!), 50);
  });

  it('counts iowait as idle and steal as busy; a CPU of the mask that is offline adds nothing', () => {
    const before = stat([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]);
    const after = stat([10, 0, 10, 40, 30, 0, 0, 10], [0, 0, 0, 100, 0, 0, 0, 0]);
    const mask = parseCpuList('0,5');
    assert.equal(percent(cpuTimesOf(before, mask)!, cpuTimesOf(after, mask)!), 30);
    assert.equal(cpuTimesOf(before, parseCpuList('7')), undefined);
    // The CPUs counted (host.cpus) are those of the mask that are online: one here, not two.
    assert.equal(cpuTimesOf(after, mask)?.lines, 1);
    assert.equal(cpuTimesOf(after, parseCpuList('0-63'))?.lines, 2);
  });
});
