// Starts the servers under test as separate processes, on loopback.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { killOnExit } from './orphan-guard.js';
import { FIXTURE_APPS, REPO_ROOT, startCorral, type CorralProcess, type StartOptions } from '../../test/helpers/corral.js';

export interface Running {
  readonly url: string;
  /** Root pid of the server's process tree (for CPU accounting). */
  readonly pid?: number;
  stop(): Promise<void>;
}

/** `bodyModule`: file URL of a module exporting BODY (default: the 12 KB fixture body). */
/** `env`: extra environment (NODE_CLUSTER_SCHED_POLICY=none makes its workers accept themselves). */
export async function startBare(workers: number, bodyModule: string = pathToFileURL(join(FIXTURE_APPS, 'body-12k.mjs')).href, env: Record<string, string> = {}): Promise<Running> {
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'bench', 'fixtures', 'bare-cluster.mjs')], {
    env: { ...process.env, ...env, BARE_WORKERS: String(workers), BARE_BODY_MODULE: bodyModule },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  killOnExit(proc);
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    proc.once('exit', (code) => reject(new Error(`bare server exited ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: proc.pid ?? -1,
    async stop() {
      // Waits on the one 'exit' promise: a server that already exited does not hang the stop.
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

export async function startCorralFor(bench: StartOptions): Promise<Running & { corral: CorralProcess }> {
  const corral = await startCorral({ ...bench, readyTimeoutMs: 60000 });
  // As every other server of a bench: corral alone had no guard, and outlived a bench that died.
  killOnExit(corral.proc);
  return {
    url: corral.url,
    pid: corral.pid,
    corral,
    async stop() {
      await corral.stop();
    },
  };
}

/**
 * Starts independent servers at once: their start-ups are not measured (nothing is loaded before
 * every one is up), and one after the other they were a good part of a short run. Each one that
 * starts is handed to `started` (to be stopped later) even when another failed; the first failure
 * is thrown once every start has settled, so none is left running unstopped.
 */
export async function startTogether<T>(starts: readonly (() => Promise<T>)[], started: (server: T) => void): Promise<T[]> {
  const settled = await Promise.allSettled(starts.map((start) => start()));
  for (const r of settled) if (r.status === 'fulfilled') started(r.value);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}
