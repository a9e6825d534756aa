// A master started in a cgroup whose pids.max (systemd's TasksMax=, a container's --pids-limit) is
// below what its processes may take says so at start, with the fixes, and serves all the same.
// Needs a writable cgroup v1 pids hierarchy or a v2 one with the pids controller (root); skipped
// elsewhere.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readLogLines, startCorral } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

/** Where a pids cgroup can be made (root, a v1 pids hierarchy or a v2 one with the controller), or why not. */
function pidsRoot(): { root: string } | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'needs root to make a pids cgroup' };
  const v1 = '/sys/fs/cgroup/pids';
  const v2 = '/sys/fs/cgroup';
  if (existsSync(join(v1, 'tasks'))) return { root: v1 };
  if (existsSync(join(v2, 'cgroup.controllers')) && readFileSync(join(v2, 'cgroup.controllers'), 'utf8').includes('pids')) return { root: v2 };
  return { skip: 'no pids cgroup controller here' };
}

const where = pidsRoot();

test('a pids.max below what the workers may take is said at start, with the limit to set and the workers it leaves room for; corral serves all the same', { skip: 'skip' in where ? where.skip : false }, async (t) => {
  if ('skip' in where) return;
  const dir = join(where.root, `corral-test-${process.pid}`);
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, 'pids.max'), '200');
  } catch (err) {
    t.skip(`cannot make a pids cgroup: ${(err as Error).message}`);
    return;
  }
  // 8 workers with 1 export thread may take (16 + 3) x 12 + 16 = 244 tasks (a reload's two
  // generations and its command), over the 200 allowed; at rest they take about 120.
  const c = await startCorral({ app: 'basic.mjs', workers: 8, wrap: ['/bin/sh', '-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$@"`, 'sh'] }).catch((err: unknown) => {
    rmdirSync(dir);
    throw err;
  });
  try {
    const said = c.events('task_limit.low')[0];
    assert.ok(said, 'task_limit.low at start');
    assert.equal(said.code, 'CORRAL_ERR_TASK_LIMIT');
    assert.equal(said.task_limit, 200);
    assert.equal(said.source, 'pids.max');
    assert.equal(said.tasks_need, 244);
    assert.deepEqual(said.fix, { CORRAL_WORKERS: 6, limit: 244 });
    assert.equal((await http(c.url)).status, 200);
  } finally {
    await c.stop();
    rmdirSync(dir);
  }
});

test("a reload whose new workers are refused at the cgroup's pids.max (a fork, or a thread that aborts one) is rolled back, and reload.failed says the task limit was reached (pids.max, TasksMax=), not the list of SIGABRT's usual senders", { skip: 'skip' in where ? where.skip : false }, async (t) => {
  if ('skip' in where) return;
  const dir = join(where.root, `corral-test-reload-${process.pid}`);
  try {
    mkdirSync(dir);
  } catch (err) {
    t.skip(`cannot make a pids cgroup: ${(err as Error).message}`);
    return;
  }
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_BOOT_ATTEMPTS: '2' }, wrap: ['/bin/sh', '-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$@"`, 'sh'] }).catch((err: unknown) => {
    rmdirSync(dir);
    throw err;
  });
  try {
    // Room for the forks of the new generation, not for the threads each node then starts.
    const current = Number(readFileSync(join(dir, 'pids.current'), 'utf8'));
    const max = current + 4;
    writeFileSync(join(dir, 'pids.max'), String(max));
    c.kill('SIGHUP');
    // A new worker may hang rather than abort when its threads are refused (a CI run saw no
    // reload.failed within 60 s): then it fails at its boot timeout, a minute, and the second
    // attempt after it.
    const failed = await c.waitForLog((l) => l.event === 'reload.failed', 180_000, 'reload.failed').catch((err: unknown) => {
      // What the reload did instead, for the next one who reads this failure.
      const seen = readLogLines(c.logFile).filter((l) => /^(reload|worker\.(boot|exit|ready|timeout)|keeper\.exit|master\.tick)/.test(String(l.event))).map((l) => `${String(l.event)}: ${String(l.msg)}`);
      throw new Error(`${(err as Error).message}; pids.max ${max}; the log said:\n${seen.join('\n')}`);
    });
    // The limit refuses the new worker's fork (CORRAL_ERR_FORK), or one of its threads once it
    // runs (it aborts: CORRAL_ERR_WORKER_DIED), by which of the master's own tasks came and went
    // meanwhile (a CI run saw the fork refused); either way the boot error names the limit.
    assert.ok(['CORRAL_ERR_FORK', 'CORRAL_ERR_WORKER_DIED'].includes(String(failed.code)), `the code a refused fork or a new worker's death gives: ${String(failed.code)}`);
    const bootError = failed.boot_error as { message: string; task_limit_reached?: boolean; task_limit?: number };
    assert.equal(bootError.task_limit_reached, true, JSON.stringify(failed));
    assert.equal(bootError.task_limit, max);
    assert.match(String(failed.msg), new RegExp(`the process and thread limit(?: was reached)?: the cgroup's pids\\.max ${max} \\(/corral-test-reload-${process.pid}\\)`));
    assert.match(String(failed.msg), /the container's pids limit \(docker run --pids-limit \d+/);
    assert.doesNotMatch(String(failed.msg), /commonly sent by/);
    const boots = c.events('worker.boot_failed').filter((l) => l.generation === 2);
    assert.ok(boots.length > 0 && boots.every((l) => l.task_limit_reached === true), JSON.stringify(boots));
    // The old generation serves on.
    writeFileSync(join(dir, 'pids.max'), 'max');
    assert.equal((await http(c.url)).status, 200);
  } finally {
    writeFileSync(join(dir, 'pids.max'), 'max');
    await c.stop();
    rmdirSync(dir);
  }
});
