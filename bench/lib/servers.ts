// Starts the servers under test as separate processes, on loopback.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

export async function startCorralFor(bench: StartOptions): Promise<Running & { corral: CorralProcess }> {
  const corral = await startCorral({ ...bench, readyTimeoutMs: 60000 });
  return {
    url: corral.url,
    pid: corral.pid,
    corral,
    async stop() {
      await corral.stop();
    },
  };
}
