// A master started in a cgroup whose pids.max (systemd's TasksMax=, a container's --pids-limit) is
// below what its processes may take says so at start, with the fixes, and serves all the same.
// Needs a writable cgroup v1 pids hierarchy or a v2 one with the pids controller (root); skipped
// elsewhere.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCorral } from '../helpers/corral.js';
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
  // 8 workers with 1 export thread may take (16 + 2) x 12 + 16 = 232 tasks, over the 200 allowed;
  // at rest they take about 120.
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
    assert.equal(said.tasks_need, 232);
    assert.deepEqual(said.fix, { CORRAL_WORKERS: 6, limit: 232 });
    assert.equal((await http(c.url)).status, 200);
  } finally {
    await c.stop();
    rmdirSync(dir);
  }
});
