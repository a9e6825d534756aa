// `corral recommend` must not recommend what the master's own start checks then flag: the
// open-files limit binds the keeper and the master too (fd-limit-check.ts), not only each worker's
// connections; and under nested cgroup memory limits the RAM it sizes on is corral's own limit at most.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { recommend, sizingMemory, type SizingInput } from '../../src/cli/commands/recommend.js';
import { readCgroupMemory } from '../../src/master/cgroup-memory.js';
import { fdLimitShortfall } from '../../src/master/fd-limit-check.js';
import { taskLimitShortfall } from '../../src/master/task-limit-check.js';
import type { TaskLimit } from '../../src/task-limit.js';

const MiB = 1048576;
const GiB = 1024 * MiB;
const base: SizingInput = {
  cpus: 4,
  ramTotalBytes: 4 * GiB,
  ramBudgetPercent: 50,
  workerRssBytes: 80 * MiB,
  keeperRssBytes: 68 * MiB,
  masterRssBytes: 84 * MiB,
  connectionBytes: 32 * 1024,
  fdLimit: 1024,
  measuredFrom: 'test',
};

describe('corral recommend under the open-files limit', () => {
  // `ulimit -n` 1024 is Linux's default soft limit, and systemd's default LimitNOFILE soft value.
  for (const cpus of [1, 2, 16, 17, 32, 64]) {
    it(`${cpus} CPU(s), RLIMIT_NOFILE 1024: the recommended settings pass the master's own fd_limit check (workers, master and keeper)`, () => {
      const s = recommend({ ...base, cpus, ramTotalBytes: 256 * GiB, fdLimit: 1024 });
      const f = fdLimitShortfall({ CORRAL_WORKERS: s.workers, CORRAL_WORKER_CONNECTIONS: s.workerConnections, CORRAL_MAX_CONNECTIONS: 0, CORRAL_ACCEPT: 'shared' }, { soft: 1024, hard: 524288 });
      assert.equal(f, undefined, `recommended ${s.workers} workers x ${s.workerConnections}; the master then warns fd_limit.low: ${JSON.stringify(f)}`);
    });
  }

  for (const cpus of [2, 8]) {
    it(`${cpus} CPUs, RLIMIT_NOFILE 1024, CORRAL_ACCEPT=round-robin: the master holding every connection until dealt out fits too`, () => {
      const s = recommend({ ...base, cpus, ramTotalBytes: 256 * GiB, fdLimit: 1024, accept: 'round-robin' });
      const f = fdLimitShortfall({ CORRAL_WORKERS: s.workers, CORRAL_WORKER_CONNECTIONS: s.workerConnections, CORRAL_MAX_CONNECTIONS: 0, CORRAL_ACCEPT: 'round-robin' }, { soft: 1024, hard: 524288 });
      assert.equal(f, undefined, `recommended ${s.workers} workers x ${s.workerConnections}; the master then warns fd_limit.low: ${JSON.stringify(f)}`);
      assert.ok(s.workerConnections > 1);
    });
  }

  it('says the open-files limit bounds the workers when it does', () => {
    const s = recommend({ ...base, cpus: 64, ramTotalBytes: 256 * GiB, fdLimit: 1024, fdLimitFrom: 'this shell' });
    assert.equal(s.workers, 16);
    assert.ok(s.reasons.some((r) => r.includes('CORRAL_WORKERS=16 (the open-files limit 1024 of this shell allows no more')), s.reasons.join('\n'));
  });
});

describe('corral recommend under a process and thread limit', () => {
  const limits: TaskLimit[] = [
    { max: 1024, source: 'pids.max', current: 10, cgroup: '/kubepods/pod1' },
    { max: 2000, source: 'pids.max', current: 900, cgroup: '/system.slice', others: 800 },
    { max: 400, source: 'RLIMIT_NPROC', current: undefined },
  ];
  for (const limit of limits) {
    it(`64 CPUs under ${limit.source} ${limit.max}${limit.others ? ` (${limit.others} others)` : ''}: the recommended workers pass the master's task_limit check`, () => {
      const s = recommend({ ...base, cpus: 64, ramTotalBytes: 256 * GiB, fdLimit: 1_048_576, taskLimit: limit, exportThreads: 2 });
      const f = taskLimitShortfall({ CORRAL_WORKERS: s.workers, CORRAL_EXPORT_THREADS: 2 }, limit);
      assert.equal(f, undefined, `recommended ${s.workers} workers; the master then warns task_limit.low: ${JSON.stringify(f)}`);
      assert.equal(s.workers, taskLimitShortfall({ CORRAL_WORKERS: 64, CORRAL_EXPORT_THREADS: 2 }, limit)?.fittingWorkers, 'as many as fit');
      assert.ok(s.reasons.some((r) => r.includes('the process and thread limit')), s.reasons.join('\n'));
    });
  }
});

describe('corral recommend under nested cgroup memory limits', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'corral-rec-cgroup-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("sizes on corral's own MemoryMax= (2 GiB), not on a fuller slice's larger limit (8 GiB) that leaves less room", async () => {
    // corral.service MemoryMax=2G inside app.slice MemoryMax=8G, where other services hold 7.5 GiB.
    const files: Record<string, string> = {
      'app.slice/memory.max': `${8 * GiB}\n`,
      'app.slice/memory.current': `${7.5 * GiB}\n`,
      'app.slice/memory.stat': 'inactive_file 0\n',
      'app.slice/corral.service/memory.max': `${2 * GiB}\n`,
      'app.slice/corral.service/memory.current': `${300 * MiB}\n`,
      'app.slice/corral.service/memory.stat': 'inactive_file 0\n',
    };
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(scratch, path)), { recursive: true });
      writeFileSync(join(scratch, path), content);
    }
    writeFileSync(join(scratch, 'self-cgroup'), '0::/app.slice/corral.service\n');
    const cgroup = await readCgroupMemory({ root: scratch, selfCgroup: join(scratch, 'self-cgroup') });
    // As recommend.ts run() takes it, on a 64 GiB machine.
    const mem = sizingMemory({ total: 64 * GiB, available: 40 * GiB }, cgroup);
    const s = recommend({ ...base, cpus: 32, ramTotalBytes: mem.total, fdLimit: 1_048_576 });
    const footprint = base.masterRssBytes + base.keeperRssBytes + s.workers * (base.workerRssBytes + s.workerConnections * base.connectionBytes);
    assert.ok(mem.total <= 2 * GiB, `sized on ${mem.total / GiB} GiB of RAM`);
    assert.ok(footprint <= 2 * GiB, `recommended ${s.workers} workers x ${s.workerConnections}: ${Math.round(footprint / MiB)} MiB at full load, over the unit's 2048 MiB MemoryMax=`);
  });
});
