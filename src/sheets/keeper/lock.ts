// One keeper per data dir. When the master is killed, its keeper notices the lost IPC channel and
// exits, but the new master's keeper may start before the old one is gone; two keepers flushing
// the same journal would send rows twice. The lock file holds the owner's pid: a new keeper waits
// (bounded) for a live owner to exit and takes over a dead owner's lock.
//
// Keepers starting at once must not both win:
// - the lock is written under a temporary name and link()ed into place, which fails when the lock
//   exists: nobody ever sees it empty or half written (an empty file once read as "dead owner");
// - each lock's content is unique (pid, start time, nonce), and a dead owner's lock is removed
//   only under a guard file named after that content (link() again: one breaker per dead lock),
//   after checking the lock still holds that content. Nothing else can replace an existing lock
//   meanwhile, so a keeper that judged a lock dead never removes a newer, live one.
//
// After a power loss (or a kernel crash) the link may have reached the disk and the content not:
// the lock was found empty, or, on some filesystems, as NUL bytes or cut short. The content is
// fsynced before the link, so a lock written from now on is whole or absent; and a lock that is not
// whole (every keeper wrote its line with a newline, and a live owner's lock is only linked once
// written) is a dead owner's, taken over: a torn "1" once read as pid 1, alive for ever, and the
// keeper refused to start at every attempt. The directory is not fsynced: a lock the power loss
// took away had, like every lock found after it, only a dead owner.
import { createHash, randomBytes } from 'node:crypto';
import { link, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CorralError, DataDirWriteError } from '../../errors.js';

export interface KeeperLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Who is asking and how owners are checked; tests stand in for several processes. */
export interface LockSelf {
  readonly pid: number;
  readonly alive: (pid: number) => boolean;
  readonly startTime: (pid: number) => Promise<string | undefined>;
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

const thisProcess: LockSelf = { pid: process.pid, alive, startTime };

async function readOwner(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * `pid start nonce` and a newline; start is '-' where /proc is missing (older keepers wrote
 * `pid start` or `pid `, with the newline). pid NaN: not a whole lock line (empty, NUL bytes, cut
 * short by a power loss), which no live keeper leaves.
 */
function parseOwner(text: string): { pid: number; start: string | undefined } {
  if (!text.endsWith('\n')) return { pid: Number.NaN, start: undefined };
  const [pid, start] = text.trim().split(/\s+/);
  return { pid: /^[0-9]+$/.test(pid ?? '') ? Number(pid) : Number.NaN, start: start && start !== '-' ? start : undefined };
}

/**
 * Writes `content` under a fresh temporary name and links it to `path`; false when `path` exists.
 * A write that fails (a full or read-only data dir) names `path` and the errno: Node's own message
 * for a failed write names neither the file nor the directory.
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new DataDirWriteError('the keeper lock', path, err);
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new DataDirWriteError('the keeper lock', path, err);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Removes the lock if it still holds `judged` (a dead owner's content). Returns false when another
 * keeper is breaking it right now (the caller should pause before looking again).
 */
async function breakLock(path: string, judged: string, mine: string, self: LockSelf): Promise<boolean> {
  const guard = `${path}.break-${createHash('sha256').update(judged).digest('hex').slice(0, 16)}`;
  if (!(await createExclusive(guard, mine))) {
    const holder = await readOwner(guard);
    // A breaker that died inside this few-millisecond section left its guard: remove it. (This one
    // removal is not guarded; it needs that crash and several keepers starting together.)
    const holderPid = holder === undefined ? undefined : parseOwner(holder).pid;
    if (holderPid !== undefined && (!Number.isInteger(holderPid) || !self.alive(holderPid))) await unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    if ((await readOwner(path)) === judged) await unlink(path).catch(() => undefined);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
  return true;
}

export async function acquireKeeperLock(dataDir: string, waitMs: number, onWait?: (pid: number) => void, self: LockSelf = thisProcess): Promise<KeeperLock> {
  const path = join(dataDir, 'keeper.lock');
  // The nonce makes every acquisition's content unique, even for a reused pid without /proc.
  const mine = `${self.pid} ${(await self.startTime(self.pid)) ?? '-'} ${randomBytes(8).toString('hex')}\n`;
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    if (await createExclusive(path, mine)) {
      return {
        path,
        async release() {
          if ((await readOwner(path)) === mine) await unlink(path).catch(() => undefined);
        },
      };
    }
    const text = await readOwner(path);
    if (text === undefined) continue; // Released meanwhile.
    const { pid: owner, start } = parseOwner(text);
    const reused = start !== undefined && (await self.startTime(owner)) !== start;
    if (!Number.isInteger(owner) || owner <= 0 || owner === self.pid || !self.alive(owner) || reused) {
      if (!(await breakLock(path, text, mine, self))) await new Promise((r) => setTimeout(r, 10));
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
