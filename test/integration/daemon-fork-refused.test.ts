// The operating system refusing to create a child: fork(2) failing in the real master, made so by
// strace attached to it (`-e inject=clone:error=...`), as a TasksMax= or pids.max limit (EAGAIN) or
// a host out of memory (ENOMEM) would. The replacement's boot failure names the errno and what to
// raise, counts as a failed boot (backoff), and the master forks again once the fork works; the
// refusal Node throws (ENOMEM) fails no tick of the master. Skipped without strace.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';

const stracePath = spawnSync('sh', ['-c', 'command -v strace'], { encoding: 'utf8' }).stdout.trim();

/** strace attached to the master (its main thread, which forks), every fork of it refused with `errno`. */
async function refuseForks(masterPid: number, errno: 'EAGAIN' | 'ENOMEM'): Promise<ChildProcess> {
  const tracer = spawn(stracePath, ['-p', String(masterPid), '-e', 'trace=clone,clone3,fork,vfork', '-e', `inject=clone,clone3,fork,vfork:error=${errno}`, '-o', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  tracer.stderr?.on('data', (d: Buffer) => (said += d.toString()));
  await waitFor(() => /attached/.test(said) || ended(tracer), 10_000, 'strace attached to the master');
  assert.ok(!ended(tracer), `strace could not attach: ${said}`);
  return tracer;
}

const ended = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;

/** Detaches strace (SIGINT): the master's forks work again. */
async function detach(tracer: ChildProcess): Promise<void> {
  if (ended(tracer)) return;
  const exited = new Promise((resolve) => tracer.once('exit', resolve));
  tracer.kill('SIGINT');
  await exited;
}

/** Kills the ready worker with SIGKILL; returns its pid. */
async function killWorker(c: CorralProcess): Promise<number> {
  const ready = c.events('worker.ready').at(-1);
  const pid = Number(ready?.worker_pid);
  process.kill(pid, 'SIGKILL');
  return pid;
}

test('a fork the system refuses (EAGAIN: a process limit; ENOMEM) is the new worker\'s boot failure, naming the errno and the limit; the master forks again once it can', { skip: stracePath === '' ? 'strace is not installed' : false }, async () => {
  // Two workers: one serves while the other's forks are refused (with none ready, failed boots in
  // a row make the master give up, as at a start).
  const c = await startCorral({ app: 'basic.mjs', workers: 2 });
  let tracer: ChildProcess | undefined;
  try {
    for (const errno of ['EAGAIN', 'ENOMEM'] as const) {
      const failedBefore = c.events('worker.boot_failed').length;
      const readyBefore = c.events('worker.ready').length;
      tracer = await refuseForks(c.pid, errno);
      await killWorker(c);
      const failed = await waitFor(() => c.events('worker.boot_failed')[failedBefore], 15_000, `the refused fork's boot failure (${errno})`);
      assert.equal(failed.code, 'CORRAL_ERR_FORK');
      assert.match(String(failed.msg), new RegExp(`failed to boot: could not fork a worker process: .*${errno}`));
      if (errno === 'EAGAIN') assert.match(String(failed.msg), /process or thread limit is reached \(systemd TasksMax=, a cgroup pids\.max, ulimit -u\)/);
      else assert.match(String(failed.msg), /no memory for a new process/);
      const boot = c.events('worker.boot').find((l) => l.worker_id === failed.worker_id);
      assert.equal(boot?.worker_pid, null);
      assert.match(String(boot?.msg), /\(no process: the fork failed\)$/);
      assert.equal(failed.worker_pid, null);
      await detach(tracer);
      tracer = undefined;
      // A failed boot like any other: the replacement comes after the backoff, and serves.
      await waitFor(() => c.events('worker.ready')[readyBefore], 30_000, `a worker ready once forks work again (${errno})`);
    }
    // Node throws ENOMEM from fork() rather than emitting it: that failed the master's tick, every 250 ms.
    assert.deepEqual(c.events('master.tick_failed'), []);

    // The keeper's restart alike: its exit line says why it could not start.
    const keeperExits = c.events('keeper.exit').length;
    const keeperReady = c.events('keeper.ready').filter((l) => l.role === 'master').length;
    tracer = await refuseForks(c.pid, 'EAGAIN');
    process.kill(Number(c.events('keeper.ready').filter((l) => l.role === 'master').at(-1)?.worker_pid), 'SIGKILL');
    const refused = await waitFor(() => c.events('keeper.exit').filter((l) => l.code === 'CORRAL_ERR_FORK')[0], 15_000, "the keeper's refused fork");
    assert.ok(c.events('keeper.exit').length > keeperExits);
    assert.match(String(refused.msg), /^keeper could not start \(code null\): could not fork a keeper process: .*EAGAIN.*TasksMax=.*restarting it in \d+ ms$/);
    await detach(tracer);
    tracer = undefined;
    await waitFor(() => c.events('keeper.ready').filter((l) => l.role === 'master')[keeperReady], 30_000, 'the keeper ready once forks work again');
  } finally {
    if (tracer) await detach(tracer);
    await c.stop();
  }
});
