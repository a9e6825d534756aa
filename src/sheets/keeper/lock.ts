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
//
// A pid names a process in one pid namespace only. A keeper in another (a second container on the
// same data dir volume: a rolling deploy, a second replica) judged by its pid was always "dead"
// (no such process here, or another one with another start time), and its lock was broken at once:
// two keepers flushed one journal, each rewrote the file the other had replaced from its own memory
// (journal.replaced), and rows went to the sheet twice. So each lock line names its pid namespace,
// its holder refreshes the file's mtime every LOCK_HEARTBEAT_MS, and a lock of another namespace is
// judged by that alone: taken over once FOREIGN_LOCK_STALE_MS old (a container killed with its
// keeper), waited for while fresh. Lines without a namespace (older builds) are judged by pid.
// A namespace's name says which host it is on no more than a pid does: every host's initial one is
// `pid:[4026531836]` (a kernel constant), so two hosts running corral outside containers from one
// NFS-mounted directory (CORRAL_DATA_DIR is `data`, relative, by default) named the same namespace,
// the other host's live keeper was "dead" by pid here, and its lock was broken at once. So the line
// also names the host (its hostname), and a lock of another host is judged by its heartbeat too.
// By its heartbeat's changes as this host sees them, not by its mtime against this host's clock:
// that time is the other host's clock's (utimes with its now), and hosts' clocks differ (by up to
// 5 s, as the Redis sharing allows): a few seconds behind, a live keeper's lock read as stale here.
// Not its boot_id: a host restarted after a power loss would judge its own dead keeper's lock by
// an mtime its clock may still be behind (a board without a battery-backed clock, before NTP).
//
// The temporary files (`keeper.lock.tmp-<pid>-<start>-<hex>`) are removed on every way out: at
// once after the link, and at process exit for one still being written. A keeper stopped while it
// waited for the lock (SIGTERM, then process.exit in the middle of a write or an fsync) left one in
// the data dir for good (audit). A kill -9 still can: the keeper that holds the lock removes those
// of dead processes (removeStaleTemps).
import { createHash, randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { link, open, readdir, readFile, readlink, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { processAlive } from '../../process-alive.js';
import { CorralError, DataDirWriteError } from '../../errors.js';

/**
 * What a check of a held lock found: its file still this keeper's (undefined), made again after
 * something removed it ('restored'), or holding another keeper's line ('taken', with that keeper's
 * pid when the line names one).
 */
export type LockCheck = undefined | { readonly state: 'restored' } | { readonly state: 'taken'; readonly holderPid: number | undefined };

export interface KeeperLock {
  readonly path: string;
  release(): Promise<void>;
  /**
   * Checks the lock file still holds this keeper's line, and writes it again when it is gone (the
   * data dir removed under a running keeper: a second corral started on it meanwhile would take
   * the lock and open the same journal). The data dir must exist (the journal puts it back first).
   */
  verify(): Promise<LockCheck>;
  /**
   * Whether the lock file holds another keeper's line now, read only: undefined while it is this
   * keeper's, missing (verify writes it back), unreadable, or released. Cheap (one read of a
   * line), so that each write of the journal can ask it first (lock-fence.ts).
   */
  heldByAnother(): Promise<{ readonly holderPid: number | undefined } | undefined>;
}

/** How often a holder refreshes its lock's mtime: what a keeper of another pid namespace judges it by. */
export const LOCK_HEARTBEAT_MS = 1000;
/**
 * A lock of another pid namespace whose mtime is older than this is a dead keeper's: several
 * heartbeats, and far longer than a keeper's loop is held at a time (a replay turns it every 4 MiB
 * chunk). Short, because the common case of a foreign lock is not a second container but the same
 * one restarted after a crash (a new pid namespace at every start): its new keeper waits this long
 * at most, with reads and writes unavailable meanwhile (at 20 s its 15 s lock wait ran out first,
 * and the keeper's boot failed before it took the lock at a retry).
 */
export const FOREIGN_LOCK_STALE_MS = 5000;

/** Who is asking and how owners are checked; tests stand in for several processes. */
export interface LockSelf {
  readonly pid: number;
  readonly alive: (pid: number) => boolean;
  readonly startTime: (pid: number) => Promise<string | undefined>;
  /** This process's pid namespace (`pid:[4026531836]`); absent or undefined: not named in the line. */
  readonly pidNamespace?: () => Promise<string | undefined>;
  /** This host's name; absent or undefined: not named in the line (nor without a namespace). */
  readonly hostId?: () => Promise<string | undefined>;
  /** LOCK_HEARTBEAT_MS unless given (tests). */
  readonly heartbeatMs?: number;
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

async function pidNamespace(): Promise<string | undefined> {
  try {
    const ns = await readlink('/proc/self/ns/pid');
    return /^\S+$/.test(ns) ? ns : undefined;
  } catch {
    return undefined;
  }
}

/** The hostname, escaped so that it is one field of the line (the kernel takes any bytes). */
async function hostId(): Promise<string | undefined> {
  const name = hostname();
  return name === '' ? undefined : encodeURIComponent(name);
}

const thisProcess: LockSelf = { pid: process.pid, alive: processAlive, startTime, pidNamespace, hostId };

/** A lock line's host as its holder named it (escaped by hostId); as written when it is no escape. */
function hostName(field: string): string {
  try {
    return decodeURIComponent(field);
  } catch {
    return field;
  }
}

async function readOwner(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * `pid start nonce ns host` and a newline; start is '-' where /proc is missing, ns (the pid
 * namespace) and host (its hostname) absent where unknown (older keepers wrote `pid start
 * nonce ns`, `pid start nonce`, `pid start` or `pid `, with the newline; they read a line of five
 * fields as its first four). pid NaN: not a whole lock line (empty, NUL bytes, cut short by a power
 * loss), which no live keeper leaves.
 */
function parseOwner(text: string): { pid: number; start: string | undefined; ns: string | undefined; host: string | undefined } {
  if (!text.endsWith('\n')) return { pid: Number.NaN, start: undefined, ns: undefined, host: undefined };
  const [pid, start, , ns, host] = text.trim().split(/\s+/);
  return { pid: /^[0-9]+$/.test(pid ?? '') ? Number(pid) : Number.NaN, start: start && start !== '-' ? start : undefined, ns: ns || undefined, host: host || undefined };
}

/** The lock's mtime (its holder's last heartbeat, by the holder's clock); undefined when it is gone. */
async function lockTime(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The pid a lock file's text names, or NaN when it is not a whole lock line (see parseOwner). */
export function lockOwnerPid(text: string): number {
  return parseOwner(text).pid;
}

/** Temporary files this process has made and not yet removed, for the exit hook. */
const temps = new Set<string>();
let exitHook = false;

/**
 * Removes the temporary files still there when the process exits: process.exit() (the keeper's
 * SIGTERM while booting) ends it between two awaits of createExclusive, whose own unlink never
 * runs. Synchronous, as an exit listener must be.
 */
function removeTempsAtExit(): void {
  for (const tmp of temps) {
    try {
      unlinkSync(tmp);
    } catch {
      // Gone already, or the dir unwritable: removeStaleTemps takes it once this pid is dead.
    }
  }
}

function trackTemp(tmp: string): void {
  if (!exitHook) process.on('exit', removeTempsAtExit);
  exitHook = true;
  temps.add(tmp);
}

async function removeTemp(tmp: string): Promise<void> {
  try {
    await unlink(tmp);
    temps.delete(tmp);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') temps.delete(tmp);
  }
}

/** `<pid>-<start>` for temporary file names: who made the file, as removeStaleTemps checks it. */
function ownerTag(pid: number, start: string | undefined): string {
  return `${pid}-${start?.replace(/[^0-9A-Za-z]/g, '') || '-'}`;
}

/** A lock's (or a break guard's) temporary file; `pid` and `start` absent in an older build's name. */
const TEMP_NAME = /^keeper\.lock(?:\.break-[0-9a-f]+)?\.tmp-(?:([0-9]+)-([0-9A-Za-z]+|-)-)?[0-9a-f]+$/;
/** An older build's temporary file (no owner in its name) older than this is no write in flight. */
export const UNNAMED_TEMP_AGE_MS = 10 * 60_000;

/**
 * Removes temporary files of the lock that no write in flight holds: those whose named process is
 * dead, or is another process now (its start time differs). Called by the lock's holder, as it
 * must never remove a temporary file another keeper is still writing or about to link(): that
 * keeper's link would fail (ENOENT) and its start with it. The rule is safe because a file in
 * flight belongs to a running process, whose pid and start time are those in the name (written
 * before the file existed); a dead process has none in flight, and its pid, if reused, has
 * another start time. Without /proc (start '-') a reused pid keeps a dead keeper's file until it
 * exits: a leak of a few bytes, never a removal too many. Files named by older builds (no owner)
 * are removed only once older than UNNAMED_TEMP_AGE_MS, far longer than a write, an fsync and a
 * link take. Pids are those of one pid namespace, as the lock's own liveness check assumes.
 */
export async function removeStaleTemps(dataDir: string, self: LockSelf, now: number = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dataDir)) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const file = join(dataDir, name);
    let stale: boolean;
    if (m[1] === undefined) {
      const st = await stat(file).catch(() => undefined);
      stale = st !== undefined && now - st.mtimeMs >= UNNAMED_TEMP_AGE_MS;
    } else {
      const pid = Number(m[1]);
      const named = m[2] === '-' ? undefined : m[2];
      if (!self.alive(pid)) stale = true;
      else {
        const start = await self.startTime(pid);
        stale = named !== undefined && start !== undefined && ownerTag(pid, start) !== `${pid}-${named}`;
      }
    }
    if (stale && (await unlink(file).then(() => true, () => false))) removed.push(name);
  }
  return removed;
}

/**
 * Writes `content` under a fresh temporary name and links it to `path`; false when `path` exists.
 * A write that fails (a full or read-only data dir) names `path` and the errno: Node's own message
 * for a failed write names neither the file nor the directory. `owner` (ownerTag) goes in the
 * temporary name.
 */
async function createExclusive(path: string, content: string, owner: string): Promise<boolean> {
  const tmp = `${path}.tmp-${owner}-${randomBytes(6).toString('hex')}`;
  // Before the open: an exit during it may still leave the file.
  trackTemp(tmp);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await removeTemp(tmp);
    throw new DataDirWriteError('the keeper lock', path, err);
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new DataDirWriteError('the keeper lock', path, err);
  } finally {
    await removeTemp(tmp);
  }
}

/**
 * Removes the lock if it still holds `judged` (a dead owner's content). Returns false when another
 * keeper is breaking it right now (the caller should pause before looking again).
 */
async function breakLock(path: string, judged: string, mine: string, tag: string, self: LockSelf): Promise<boolean> {
  const guard = `${path}.break-${createHash('sha256').update(judged).digest('hex').slice(0, 16)}`;
  if (!(await createExclusive(guard, mine, tag))) {
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
  const start = await self.startTime(self.pid);
  const ns = await self.pidNamespace?.();
  const host = ns ? await self.hostId?.() : undefined;
  const mine = `${self.pid} ${start ?? '-'} ${randomBytes(8).toString('hex')}${ns ? ` ${ns}${host ? ` ${host}` : ''}` : ''}\n`;
  const tag = ownerTag(self.pid, start);
  const deadline = Date.now() + waitMs;
  let told = false;
  /** Another host's lock as last seen, and since when (this host's monotonic clock) it is so. */
  let watched: { text: string; mtime: number; since: number } | undefined;
  for (;;) {
    if (await createExclusive(path, mine, tag)) {
      // Best effort: a file that cannot be listed or removed costs only its bytes.
      await removeStaleTemps(dirname(path), self).catch(() => undefined);
      // The heartbeat a keeper of another pid namespace judges this lock by (the top of this file).
      const beat = setInterval(() => {
        void readOwner(path)
          .then((found) => (found === mine ? utimes(path, new Date(), new Date()) : undefined))
          .catch(() => undefined);
      }, self.heartbeatMs ?? LOCK_HEARTBEAT_MS);
      beat.unref();
      let released = false;
      return {
        path,
        async release() {
          released = true;
          clearInterval(beat);
          if ((await readOwner(path)) === mine) await unlink(path).catch(() => undefined);
        },
        async heldByAnother() {
          if (released) return undefined;
          const found = await readOwner(path).catch(() => undefined);
          if (released || found === undefined || found === mine) return undefined;
          const pid = parseOwner(found).pid;
          return { holderPid: Number.isInteger(pid) ? pid : undefined };
        },
        async verify() {
          // Released: the data dir is the next keeper's; a check still in flight writes nothing back.
          if (released) return undefined;
          const found = await readOwner(path);
          if (released) return undefined;
          if (found === mine) return undefined;
          if (found === undefined && (await createExclusive(path, mine, tag))) return { state: 'restored' };
          // Another keeper's line, or one linked by another keeper between the read and the link.
          const holder = await readOwner(path);
          if (holder === mine) return undefined;
          const pid = holder === undefined ? Number.NaN : parseOwner(holder).pid;
          return { state: 'taken', holderPid: Number.isInteger(pid) ? pid : undefined };
        },
      };
    }
    const text = await readOwner(path);
    if (text === undefined) continue; // Released meanwhile.
    const { pid: owner, start, ns: ownerNs, host: ownerHost } = parseOwner(text);
    // Another pid namespace's pid says nothing here, nor another host's: its lock is judged by its heartbeat.
    const otherHost = ownerHost !== undefined && host !== undefined && ownerHost !== host;
    const foreign = otherHost || (ownerNs !== undefined && ns !== undefined && ownerNs !== ns);
    const mtime = foreign ? await lockTime(path) : undefined;
    if (foreign && mtime === undefined) continue; // Released meanwhile.
    const age = mtime === undefined ? undefined : Date.now() - mtime;
    // Another host's heartbeat is dated by its own clock: read against this host's, a clock of
    // theirs a few seconds behind made its live lock "stale" here (broken at once: two keepers on
    // one journal), and one ahead kept its dead keeper's lock "fresh" for as long. Its lock is dead
    // once this host has seen its time (and line) stay the same for FOREIGN_LOCK_STALE_MS.
    // This host's own lock of another pid namespace (its container restarted) dated ahead of this
    // clock: the clock was set back since its keeper last refreshed it (NTP at boot, a board
    // without a battery-backed clock). Its age on this clock says nothing until the clock passes
    // that time (every start waited its whole lock wait and failed meanwhile): judged by its
    // changes too. A live keeper's next heartbeat changes it, and is then dated by this clock.
    const byChanges = otherHost || (foreign && (age as number) < 0);
    if (byChanges && (watched?.text !== text || watched.mtime !== mtime)) watched = { text, mtime: mtime as number, since: performance.now() };
    const unchangedMs = byChanges && watched ? performance.now() - watched.since : undefined;
    const dead = foreign
      ? (unchangedMs ?? (age as number)) >= FOREIGN_LOCK_STALE_MS
      : !Number.isInteger(owner) || owner <= 0 || owner === self.pid || !self.alive(owner) || (start !== undefined && (await self.startTime(owner)) !== start);
    if (dead) {
      if (!(await breakLock(path, text, mine, tag, self))) await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    // Said before the deadline is looked at: a keeper whose first look took the whole wait (a
    // starved box) waited all the same, and its log says for whom.
    if (!told) onWait?.(owner);
    told = true;
    if (Date.now() >= deadline) {
      const refreshed = `whose lock was refreshed ${Math.round((age as number) / 1000)} s ago`;
      const where = otherHost
        ? ` of another host (${hostName(ownerHost as string)}: its corral on this data dir, shared over the network?), whose lock is refreshed (last seen changing ${Math.round((unchangedMs ?? 0) / 1000)} s ago)`
        : foreign
          ? ` of another pid namespace (${ownerNs}: another container on this data dir?), ${refreshed}`
          : '';
      throw new CorralError('CORRAL_ERR_JOURNAL', `another keeper (pid ${owner}${where}) still holds ${path}; not opening the journal twice`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
