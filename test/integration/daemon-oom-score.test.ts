// The kernel's OOM killer takes the process with the highest oom_score: each worker's is raised
// above the keeper's, the keeper's above the master's (src/oom-score.ts), so that, under a memory
// limit a reload's second generation crosses, a worker is killed and replaced, then the keeper,
// rather than the master, and the whole service with it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startCorral } from '../helpers/corral.js';

const procNumber = (pid: number, file: 'oom_score_adj' | 'oom_score') => Number(readFileSync(`/proc/${pid}/${file}`, 'utf8').trim());

test("each worker is the OOM killer's choice before the keeper, and the keeper before the master: oom_score_adj raised by 200 and 100, also after a reload and a keeper restart", async () => {
  const c = await startCorral({ workers: 2 });
  try {
    const master = procNumber(c.pid, 'oom_score_adj');
    const keeperReady = () => c.events('keeper.ready').filter((l) => l.role === 'keeper').map((l) => Number(l.pid));
    await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 10_000, "the keeper's ready line");
    const keeper = keeperReady()[0]!;
    const workers = c.events('worker.ready').map((l) => Number(l.worker_pid));
    assert.equal(workers.length, 2);
    assert.equal(procNumber(keeper, 'oom_score_adj'), Math.min(1000, master + 100));
    // What the kernel ranks by: the keeper above the master, though no larger in memory.
    assert.ok(procNumber(keeper, 'oom_score') > procNumber(c.pid, 'oom_score'), "the keeper's oom_score over the master's");
    for (const pid of workers) {
      assert.equal(procNumber(pid, 'oom_score_adj'), Math.min(1000, master + 200));
      assert.ok(procNumber(pid, 'oom_score') > procNumber(c.pid, 'oom_score'), `worker ${pid} oom_score over the master's`);
      assert.ok(procNumber(pid, 'oom_score') > procNumber(keeper, 'oom_score'), `worker ${pid} oom_score over the keeper's`);
    }
    assert.deepEqual([...c.events('worker.oom_score_unset'), ...c.events('keeper.oom_score_unset')], []);
    // A reload's workers, forked by the same master, do the same.
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'reload.done', 60_000, 'reload.done');
    const fresh = c.events('worker.ready').map((l) => Number(l.worker_pid)).filter((pid) => !workers.includes(pid));
    assert.equal(fresh.length, 2);
    for (const pid of fresh) assert.equal(procNumber(pid, 'oom_score_adj'), Math.min(1000, master + 200));
    // The keeper the master starts after one killed gets the same.
    process.kill(keeper, 'SIGKILL');
    await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper' && Number(l.pid) !== keeper, 30_000, 'a new keeper');
    const next = keeperReady().find((pid) => pid !== keeper)!;
    assert.equal(procNumber(next, 'oom_score_adj'), Math.min(1000, master + 100));
  } finally {
    await c.stop();
  }
});
