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

/**
 * The process's start time (clock ticks since boot, /proc/<pid>/stat field 22), so a pid reused by
 * an unrelated process after a crash is not mistaken for the owner. Undefined without /proc.
 */
async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

async function ownerOf(path: string): Promise<{ pid: number; start: string | undefined }> {
  const [pid, start] = (await readFile(path, 'utf8').catch(() => '')).trim().split(/\s+/);
  return { pid: Number(pid), start: start || undefined };
}

export async function acquireKeeperLock(dataDir: string, waitMs: number, onWait?: (pid: number) => void): Promise<KeeperLock> {
  const path = join(dataDir, 'keeper.lock');
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid} ${(await startTime(process.pid)) ?? ''}\n`);
      await fh.close();
      return {
        path,
        async release() {
          if ((await ownerOf(path)).pid === process.pid) await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const { pid: owner, start } = await ownerOf(path);
    const reused = start !== undefined && (await startTime(owner)) !== start;
    if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid || !alive(owner) || reused) {
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
