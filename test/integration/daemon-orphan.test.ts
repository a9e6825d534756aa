// A master killed (SIGKILL) while a worker is stuck in a busy loop leaves no orphan: that worker's
// JavaScript cannot hear the IPC channel close, so its stack probe's thread ends it once the grace
// (ORPHAN_GRACE_MS) has passed; every child exits and the port is free for the next corral. A
// master that merely stalls (SIGSTOP) keeps its children, the spinning one included.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Client } from 'undici';
import { EXIT } from '../../src/errors.js';
import { isAlive } from '../../src/master/pidfile.js';
import { ORPHAN_GRACE_MS } from '../../src/stack-probe.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { listenerPidsOn, listeningPortsOf } from '../helpers/tcp-peers.js';

/** The fields of /proc/<pid>/stat after the command name (state first). */
function statOf(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** A process as the test saw it: its pid and start time (a pid reused later is another process). */
interface Child {
  readonly pid: number;
  readonly start: string;
}

/** The master's children (workers and keeper), from /proc. */
function childrenOf(pid: number): Child[] {
  const pids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return pids.map((p) => ({ pid: p, start: statOf(p)[19] ?? '' }));
}

/** CPU time `pid` has used, in clock ticks (utime + stime). */
function cpuTicks(pid: number): number {
  const fields = statOf(pid);
  return Number(fields[11]) + Number(fields[12]);
}

/** Sends /spin to a worker over a connection of its own: that worker's pid, spinning (its CPU time climbing). */
async function spinOneWorker(c: CorralProcess): Promise<{ pid: number; client: Client }> {
  const client = new Client(c.url, { keepAliveTimeout: 60_000, pipelining: 1 });
  const r = await client.request({ path: '/', method: 'GET' });
  const { pid } = (await r.body.json()) as { pid: number };
  void client.request({ path: '/spin', method: 'GET', headersTimeout: 60_000 }).catch(() => undefined);
  const before = cpuTicks(pid);
  // 20 ticks (0.2 s at the usual 100 Hz) of CPU: the loop runs, not the request on its way.
  await waitFor(() => cpuTicks(pid) - before >= 20, 10_000, `worker ${pid} spinning`);
  return { pid, client };
}

/** SIGKILLs the children still there, the same processes (a failed assertion must not leave one spinning). */
function killLeft(children: readonly Child[]): void {
  for (const { pid, start } of children) {
    try {
      if (statOf(pid)[19] === start) process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

test('a worker spinning in a busy loop when the master is killed with SIGKILL exits within the grace, as every other child does, and frees the port', async () => {
  // The spinning worker must still be there at the master's kill: from its last beat, the spin's
  // 20 ticks of CPU (seconds, when the box is starved) and the port read come first. At 5 s its
  // master could kill it as stuck before that, and the test then had no stuck orphan to watch.
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_TIMEOUT: '15' } });
  let children: Child[] = [];
  try {
    const port = Number(new URL(c.url).port);
    children = childrenOf(c.pid);
    assert.equal(children.length, 3, 'two workers and the keeper');
    const { pid: stuck, client } = await spinOneWorker(c);
    assert.ok(children.some((ch) => ch.pid === stuck));
    assert.ok((await listeningPortsOf(stuck)).has(port), 'the stuck worker listens on the port itself (shared accept)');
    c.kill('SIGKILL');
    await c.exited;
    const killedAt = Date.now();
    // The grace, then the probe's exit; 10 s is the bound an operator may expect.
    await waitFor(() => children.every((ch) => !isAlive(ch.pid)), 10_000, `every child of the killed master to exit (${children.map((ch) => ch.pid).join(', ')})`);
    const took = Date.now() - killedAt;
    assert.ok(took >= ORPHAN_GRACE_MS - 500, `the stuck worker was given its grace (${took} ms)`);
    // No child of the killed master listens there any more. (Whether the port can be bound again
    // says less beside other tests: the freed port is an ephemeral one, which another test's
    // server or outgoing connection may take at once; it did, in CI.)
    const holders = [...(await listenerPidsOn(port))];
    assert.deepEqual(holders.filter((pid) => children.some((ch) => ch.pid === pid)), [], `port ${port}: no child of the killed master listens (listeners: ${holders.join(', ') || 'none'})`);
    // Each says why: the idle worker and the keeper by their JavaScript, the stuck one by its probe.
    const gone = await waitFor(() => {
      const lines = c.logs().filter((l) => l.event === 'worker.master_gone' || l.event === 'keeper.master_gone');
      return lines.length >= 3 && lines;
    }, 5000, 'three master_gone lines');
    const stuckLine = gone.find((l) => l.pid === stuck);
    assert.ok(stuckLine, JSON.stringify(gone));
    assert.deepEqual([stuckLine.level, stuckLine.code, stuckLine.stuck, stuckLine.exit_code], ['error', 'CORRAL_ERR_MASTER_GONE', true, EXIT.MASTER_GONE]);
    assert.deepEqual(gone.filter((l) => l.pid !== stuck).map((l) => l.stuck), [undefined, undefined], 'the others exited by their JavaScript, within the grace');
    await client.destroy();
  } finally {
    killLeft(children);
    await c.stop();
  }
});

test('a master stopped (SIGSTOP) longer than the grace keeps its children, the spinning worker too: only its death closes the probe', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_TIMEOUT: '5' } });
  let children: Child[] = [];
  try {
    children = childrenOf(c.pid);
    const { pid: stuck, client } = await spinOneWorker(c);
    c.kill('SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, ORPHAN_GRACE_MS * 3));
      assert.deepEqual(children.filter((ch) => !isAlive(ch.pid)), [], 'no child ended while the master was stopped');
    } finally {
      c.kill('SIGCONT');
    }
    // Resumed, the master finds the spinning worker past CORRAL_TIMEOUT and kills it itself.
    const exit = await c.waitForLog((l) => l.event === 'worker.exit' && l.worker_pid === stuck, 15_000, 'the stuck worker killed by its master');
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(c.events('worker.master_gone').length, 0);
    await client.destroy();
  } finally {
    await c.stop();
    killLeft(children);
  }
});

test('a worker its probe cannot end (stopped when its master is killed) keeps the port: a new corral there names it as an orphaned corral worker', async () => {
  const old = await startCorral({ app: 'basic.mjs', workers: 1 });
  let children: Child[] = [];
  let next: CorralProcess | undefined;
  try {
    const port = Number(new URL(old.url).port);
    children = childrenOf(old.pid);
    const worker = Number(old.events('worker.ready')[0]?.worker_pid);
    // Stopped, the whole process is, its probe's thread included: only SIGKILL or SIGCONT moves it.
    process.kill(worker, 'SIGSTOP');
    old.kill('SIGKILL');
    await old.exited;
    next = await startCorral({ app: 'basic.mjs', workers: 1, waitReady: false, env: { CORRAL_BIND: `127.0.0.1:${port}`, CORRAL_BOOT_ATTEMPTS: '1' } });
    const failed = await next.waitForLog((l) => l.event === 'worker.listen_failed', 20_000, 'the new worker failing to listen');
    assert.match(
      String(failed.msg),
      new RegExp(`EADDRINUSE.*; port ${port} is held by pid ${worker} \\([^)]*worker/entry\\.js[^)]*\\), a corral worker whose master is gone \\(its parent is pid \\d+; \`kill -9 ${worker}\`\\): stop it, or point CORRAL_BIND at a free port$`),
    );
  } finally {
    killLeft(children);
    await next?.stop();
    await old.stop();
  }
});
