// The kernel's OOM killer takes the process with the highest oom_score: each worker's is raised
// above the keeper's, the keeper's above the master's (src/oom-score.ts), so that, under a memory
// limit a reload's second generation crosses, a worker is killed and replaced, then the keeper,
// rather than the master, and the whole service with it.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, startCorral, waitFor } from '../helpers/corral.js';

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

test("a child's oom_score_adj is raised before any of its code runs: the master raises it at the fork, not the child once it has loaded", async () => {
  // A reload's new workers are what crosses a memory limit, while they load their code (40 MiB in
  // 100-300 ms); at the master's value then, the kernel took the master once the old workers were
  // gone. Each child's entry module is held here (test/fixtures/slow-child-load.mjs): what its
  // oom_score_adj is meanwhile is the master's doing alone.
  const marks = mkdtempSync(join(tmpdir(), 'corral-oom-load-'));
  const entries = { worker: 'entry.js', keeper: 'keeper-entry.js' } as const;
  const c = await startCorral({
    workers: 1,
    waitReady: false,
    env: {
      NODE_OPTIONS: `--import=${join(REPO_ROOT, 'test', 'fixtures', 'slow-child-load.mjs')}`,
      CORRAL_TEST_SLOW_LOAD_DIR: marks,
      CORRAL_TEST_SLOW_LOAD_MODULES: '/dist/src/worker/entry.js,/dist/src/sheets/keeper-entry.js',
      CORRAL_TEST_SLOW_LOAD_MS: '3000',
    },
  });
  try {
    const master = procNumber(c.pid, 'oom_score_adj');
    // In the order the master forks them (the keeper first, the worker once it is ready), each
    // read while its entry is held.
    for (const [role, bonus] of [['keeper', 100], ['worker', 200]] as const) {
      const mark = await waitFor(() => readdirSync(marks).find((f) => f.startsWith(`${entries[role]}-`)), 30_000, `the ${role}'s entry held`);
      const pid = Number(mark.slice(entries[role].length + 1));
      assert.equal(procNumber(pid, 'oom_score_adj'), Math.min(1000, master + bonus), `the ${role}'s, its entry not loaded yet`);
    }
    await c.waitForLog((l) => l.event === 'master.ready', 30_000, 'the master ready once the holds end');
  } finally {
    await c.stop();
    rmSync(marks, { recursive: true, force: true });
  }
});

