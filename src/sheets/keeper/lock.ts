// One keeper per data dir. When the master is killed, its keeper notices the lost IPC channel and
// exits, but the new master's keeper may start before the old one is gone; two keepers flushing
// the same journal would send rows twice. The lock file holds the owner's pid: a new keeper waits
// (bounded) for a live owner to exit and takes over a dead owner's lock. Only the previous
// generation is ever expected to hold it; concurrent masters on one data dir are not supported.

import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CorralError } from '../../errors.js';

export interface KeeperLock {
  readonly path: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireKeeperLock(dataDir: string, waitMs: number, onWait?: (pid: number) => void): Promise<KeeperLock> {
  const path = join(dataDir, 'keeper.lock');
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return {
        path,
        async release() {
          const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
          if (owner === process.pid) await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid || !alive(owner)) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new CorralError('CORRAL_ERR_JOURNAL', `another keeper (pid ${owner}) still holds ${path}; not opening the journal twice`);
    }
    if (!told) onWait?.(owner);
    told = true;
    await new Promise((r) => setTimeout(r, 100));
  }
}
