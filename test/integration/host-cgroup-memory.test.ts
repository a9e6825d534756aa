// The master's RAM figures under a real cgroup memory limit, as a container or MemoryMax= sets
// one: the limit, not the machine's RAM. The test makes a memory cgroup (v1 or v2, whichever this
// kernel mounts), starts the master in it, and reads /api/admin/stats. Root can make cgroups on a
// plain host; a container that does not delegate them refuses, and the test says so and skips.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CORRAL_BIN, startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

const run = promisify(execFile);
const LIMIT = 768 * 2 ** 20;
const TOKEN = 'cgroup-test-token-0123456789';

/** A memory cgroup limited to `limit`, and the file a pid is written to to move it in; a reason when none can be made. */
function makeCgroup(limit = LIMIT, name = `corral-test-${process.pid}`): { dir: string; procs: string } | string {
  const v1 = '/sys/fs/cgroup/memory';
  const v2 = '/sys/fs/cgroup';
  try {
    if (existsSync(join(v1, 'memory.usage_in_bytes'))) {
      const dir = join(v1, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limit));
      // No swap to spill into past the limit: the OOM killer is what reaching it does.
      if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(limit));
      return { dir, procs: join(dir, 'cgroup.procs') };
    }
    if (existsSync(join(v2, 'cgroup.controllers')) && readFileSync(join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) {
      if (!readFileSync(join(v2, 'cgroup.subtree_control'), 'utf8').includes('memory')) writeFileSync(join(v2, 'cgroup.subtree_control'), '+memory');
      const dir = join(v2, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'memory.max'), String(limit));
      if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
      return { dir, procs: join(dir, 'cgroup.procs') };
    }
    return 'no memory cgroup controller is mounted';
  } catch (err) {
    return `cannot make a memory cgroup here (${(err as Error).message})`;
  }
}

test("under a cgroup memory limit, the master's RAM figures are the limit's (ram_from cgroup), not the machine's", async (t) => {
  const cg = makeCgroup();
  if (typeof cg === 'string') {
    t.skip(cg);
    return;
  }
  try {
    // The shell moves itself into the cgroup, then becomes the master: every child inherits it.
    const c = await startCorral({ app: 'basic.mjs', workers: 1, wrap: ['/bin/sh', '-c', `echo $$ > ${cg.procs} && exec "$@"`, 'sh'], env: { CORRAL_ADMIN_TOKEN: TOKEN } });
    try {
      type Host = { ram_total_bytes: number; ram_used_bytes: number; ram_percent: number; ram_from: string } | null;
      let host: Host = null;
      await waitFor(async () => {
        host = (await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<{ host: Host }>().host;
        return host !== null;
      }, 15_000, 'a host sample');
      const h = host as unknown as NonNullable<Host>;
      assert.equal(h.ram_from, 'cgroup');
      assert.equal(h.ram_total_bytes, LIMIT);
      // The master and a worker: tens of MB, far from the machine's gigabytes.
      assert.ok(h.ram_used_bytes > 10 * 2 ** 20 && h.ram_used_bytes < LIMIT, `${h.ram_used_bytes} bytes used`);
      assert.equal(h.ram_percent, Math.round((h.ram_used_bytes / LIMIT) * 1000) / 10);
      // recommend, run from outside the cgroup, sizes on the running master's limit.
      const r = await run(process.execPath, [CORRAL_BIN, 'recommend', '--json'], {
        cwd: c.dir,
        env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: c.pidFile, CORRAL_ADMIN_BIND: new URL(c.adminUrl).host, CORRAL_ADMIN_TOKEN: TOKEN },
        timeout: 30_000,
      });
      const rec = JSON.parse(r.stdout) as { machine: { ram_total_bytes: number; ram_from: string } };
      assert.deepEqual([rec.machine.ram_total_bytes, rec.machine.ram_from], [LIMIT, 'cgroup']);
    } finally {
      await c.stop();
    }
  } finally {
    // Empty once every process it held has exited.
    await waitFor(() => {
      try {
        rmdirSync(cg.dir);
        return true;
      } catch {
        return false;
      }
    }, 10_000, 'the test cgroup removed').catch(() => undefined);
  }
});

/** Removes a test cgroup once every process it held has exited. */
async function removeCgroup(dir: string): Promise<void> {
  await waitFor(() => {
    try {
      rmdirSync(dir);
      return true;
    } catch {
      return false;
    }
  }, 10_000, 'the test cgroup removed').catch(() => undefined);
}

test("a worker the OOM killer kills at the cgroup's memory limit is said so for certain, with the limit and the setting to raise, not as who commonly sends SIGKILL", async (t) => {
  const limit = 320 * 2 ** 20;
  const cg = makeCgroup(limit, `corral-test-oom-${process.pid}`);
  if (typeof cg === 'string') {
    t.skip(cg);
    return;
  }
  try {
    const c = await startCorral({ app: 'basic.mjs', workers: 1, wrap: ['/bin/sh', '-c', `echo $$ > ${cg.procs} && exec "$@"`, 'sh'] });
    try {
      const victim = Number(c.events('worker.ready')[0]?.worker_pid);
      // 64 MiB at a time, each page written: the worker, the biggest process of the cgroup, is the one killed.
      for (let i = 0; i < 10 && c.events('worker.exit').length === 0; i++) await http(`${c.url}/grow?mb=64`).catch(() => undefined);
      const exit = await waitFor(() => c.events('worker.exit').find((l) => Number(l.worker_pid) === victim), 15_000, "the killed worker's exit line");
      assert.equal(exit.signal, 'SIGKILL');
      assert.equal(exit.code, 'CORRAL_ERR_WORKER_DIED', 'the same code as any death');
      assert.equal(exit.oom_kill, true);
      assert.equal(exit.memory_limit_bytes, limit, JSON.stringify(exit));
      assert.equal(exit.memory_limit_cgroup, `/corral-test-oom-${process.pid}`);
      // For certain on cgroup v2; on v1 (this kind of host's memory controller, often) as the likely one.
      if (exit.memory_limit_certain === false) {
        assert.match(String(exit.msg), /killed by the kernel's OOM killer \(the oom_kill count of corral's cgroup rose\), most likely at the cgroup's memory limit, 320 MiB \(.*\), which its use has reached .*CONSTRAINT_MEMCG.*\. Raise the container's memory limit/);
      } else {
        assert.equal(exit.memory_limit_certain, true);
        assert.match(String(exit.msg), /killed by the kernel's OOM killer: the cgroup's memory limit, 320 MiB \(.*\), was reached \(its oom_kill count rose\)\. Raise the container's memory limit/);
      }
      assert.doesNotMatch(String(exit.msg), /commonly sent/);
      // Replaced as any worker that died.
      await waitFor(() => c.events('worker.ready').length >= 2 || undefined, 15_000, 'the replacement ready');
    } finally {
      await c.stop();
    }
  } finally {
    await removeCgroup(cg.dir);
  }
});
