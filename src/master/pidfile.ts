// The master's pidfile: written at start, removed at exit; reload/stop/status read it.
//
// The pidfile holds the pid alone, as logrotate's `kill -USR1 "$(cat corral.pid)"` and operators
// expect. Next to it, <pidfile>.start records the master's start stamp (proc-identity.ts), so a
// live process that merely reuses the pid of a master that died without removing its pidfile is
// told apart from the master, and so is one that holds it after a reboot (a pidfile on a persistent
// path). A pidfile without a stamp for its pid (an older corral, or written by hand) names a live
// process that nothing proves is not the master: a command line other than `corral start` may be
// corral started another way (a renamed launcher, a wrapper). Start then refuses and says how to
// tell (it never starts a second master on the same pidfile), and reload/stop/status signal
// nothing and say that whether corral runs is unknown.

import { closeSync, constants, fchmodSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { CorralError } from '../errors.js';
import { makeDirsSync } from '../make-dirs.js';
import { guardFile, underPidfileGuard } from './pidfile-guard.js';
import { isZombie, looksLikeMaster, procReaders, sameProcess, type ProcReaders, type ProcStamp } from './proc-identity.js';

/**
 * What the pidfile holds: nothing (no file), a pid, something that is no pid (an empty file, text,
 * a directory), or nothing this user may read. Unreadable is not absent: taken for "not running",
 * `status` run by another user would send `status || start` into starting a second master.
 */
type PidfileContent = { readonly kind: 'absent' } | { readonly kind: 'pid'; readonly pid: number } | { readonly kind: 'no-pid'; readonly why: string } | { readonly kind: 'unreadable'; readonly why: string };

function readPidfile(file: string): PidfileContent {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a component of the path is a file, so nothing can be there either.
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    if (code === 'EISDIR') return { kind: 'no-pid', why: 'is a directory, not a file' };
    return { kind: 'unreadable', why: (err as Error).message };
  }
  const trimmed = text.trim();
  const pid = Number(trimmed);
  if (/^\d+$/.test(trimmed) && Number.isSafeInteger(pid) && pid > 0) return { kind: 'pid', pid };
  return { kind: 'no-pid', why: trimmed === '' ? 'is empty' : `holds no pid (${JSON.stringify(trimmed.slice(0, 40))})` };
}

export function readPid(file: string): number | undefined {
  const content = readPidfile(file);
  return content.kind === 'pid' ? content.pid : undefined;
}

/** True while `pid` runs (an exited process not yet reaped by its parent does not). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const stampFile = (file: string): string => `${file}.start`;

/** The pidfile's and its stamp's mode: the service's user writes them, anyone may read them. */
export const PIDFILE_MODE = 0o644;

/** Directories corral creates for CORRAL_PIDFILE. */
export const PIDFILE_DIR_MODE = 0o755;

/**
 * Writes the pidfile or its stamp writable by its owner alone, whatever the umask. The commands
 * trust a pidfile by its owner (root or the master's user): one left writable by group or others
 * (a umask of 000 or 002 at start, or a file of that mode already there) let any local user write
 * any pid and a stamp matching it, and an operator's `sudo corral stop` then killed that process.
 * A stricter mode (umask 077) is kept; only group and other write bits are taken away. Never
 * through a symlink planted at the path (its target's mode would be changed, its content replaced);
 * `fresh`: the path must not exist yet (a temporary file, its name predictable).
 */
function writeOwnerOnly(file: string, text: string, fresh = false): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | (fresh ? constants.O_EXCL : 0), PIDFILE_MODE);
  try {
    const mode = fstatSync(fd).mode & 0o7777;
    if (mode & 0o022) fchmodSync(fd, mode & ~0o022);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * What the master records in its stamp besides who it is, for the commands that find it there:
 * its settings as it runs them, which a .env edited since (and not reloaded) no longer tells.
 */
export interface MasterRecord {
  /** CORRAL_GRACEFUL_TIMEOUT in force: `corral stop` waits by it. */
  readonly gracefulTimeoutS: number;
  /**
   * The env file read at start (absolute), null when none was, undefined in a stamp an older
   * corral wrote: `corral reload` judges that file, which a reload re-reads and refuses if gone.
   */
  readonly envFile?: string | null;
  /**
   * The master's working directory (absolute), which its relative paths (CORRAL_LOG_FILE,
   * CORRAL_DATA_DIR, ...) are resolved against; undefined in a stamp an older corral wrote.
   * `corral reload` judges them as the master will, from whatever directory it runs in.
   */
  readonly cwd?: string;
  /**
   * The base URL the master's admin API listens on (`http://127.0.0.1:9090`; the port chosen at
   * start when CORRAL_ADMIN_BIND's is 0), null when it could not start (admin.failed), undefined
   * until it listens and in a stamp an older corral wrote. `corral status` and `reload --wait`
   * ask it there: an address given to `npm start` alone, or one edited in .env since the start,
   * is not the one their own settings name.
   */
  readonly adminUrl?: string | null;
}

type Stamp = ProcStamp & { readonly record: MasterRecord | undefined };

function readStamp(file: string): Stamp | undefined {
  try {
    const s = JSON.parse(readFileSync(stampFile(file), 'utf8')) as { pid?: unknown; start_ticks?: unknown; boot_id?: unknown; graceful_timeout_s?: unknown; env_file?: unknown; cwd?: unknown; admin_url?: unknown };
    if (typeof s.pid !== 'number' || typeof s.start_ticks !== 'number') return undefined;
    const graceful = s.graceful_timeout_s;
    const envFile = s.env_file === null || (typeof s.env_file === 'string' && isAbsolute(s.env_file)) ? { envFile: s.env_file } : {};
    const cwd = typeof s.cwd === 'string' && isAbsolute(s.cwd) ? { cwd: s.cwd } : {};
    const adminUrl = s.admin_url === null || (typeof s.admin_url === 'string' && /^http:\/\/[^/]+$/.test(s.admin_url)) ? { adminUrl: s.admin_url } : {};
    const record = typeof graceful === 'number' && Number.isSafeInteger(graceful) && graceful >= 0 ? { gracefulTimeoutS: graceful, ...envFile, ...cwd, ...adminUrl } : undefined;
    return { pid: s.pid, startTicks: s.start_ticks, bootId: typeof s.boot_id === 'string' ? s.boot_id : null, record };
  } catch {
    return undefined;
  }
}

const stampText = (stamp: ProcStamp, record: MasterRecord | undefined): string =>
  `${JSON.stringify({
    pid: stamp.pid,
    start_ticks: stamp.startTicks,
    boot_id: stamp.bootId,
    ...(record ? { graceful_timeout_s: record.gracefulTimeoutS } : {}),
    ...(record?.envFile !== undefined ? { env_file: record.envFile } : {}),
    ...(record?.cwd !== undefined ? { cwd: record.cwd } : {}),
    ...(record?.adminUrl !== undefined ? { admin_url: record.adminUrl } : {}),
  })}\n`;

/**
 * What the master `pid` recorded of its settings, or undefined: no stamp, one of another pid, or
 * one an older corral wrote without them. The pidfile was checked first (checkPidfile).
 */
export function readMasterRecord(file: string, pid: number): MasterRecord | undefined {
  const stamp = readStamp(file);
  return stamp?.pid === pid ? stamp.record : undefined;
}

/**
 * Records the settings a reload applied (or went back to) in this master's stamp, while the
 * pidfile still names it. Written whole and renamed over the old one: a reader finding half a
 * stamp would take the master for a process it cannot identify.
 */
export function updateMasterRecord(file: string, record: MasterRecord, proc: ProcReaders = procReaders): void {
  if (readPid(file) !== process.pid) return;
  const stamp = proc.stamp(process.pid);
  if (!stamp) return;
  const temp = `${stampFile(file)}.${process.pid}.tmp`;
  try {
    rmSync(temp, { force: true });
    writeOwnerOnly(temp, stampText(stamp, record), true);
    renameSync(temp, stampFile(file));
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/**
 * What the pidfile names: nothing, a running master, a dead pid, a live process its start stamp
 * proves is not the master (the pid was reused, or the stamp is from an earlier boot), or a live
 * process without a stamp whose command line is not `corral start`: maybe corral started another
 * way, maybe not, nothing tells. Or a file that names no process (stale), or one this user cannot
 * read (whether a master runs is unknown).
 */
export type PidfileState =
  | { readonly status: 'running'; readonly pid: number }
  | { readonly status: 'dead'; readonly pid: number }
  | { readonly status: 'reused'; readonly pid: number; readonly why: string }
  | { readonly status: 'unverified'; readonly pid: number; readonly why: string }
  | { readonly status: 'no-pid'; readonly why: string }
  | { readonly status: 'unreadable'; readonly why: string };

export function checkPidfile(file: string, proc: ProcReaders = procReaders): PidfileState | undefined {
  const content = readPidfile(file);
  if (content.kind === 'absent') return undefined;
  if (content.kind !== 'pid') return { status: content.kind, why: content.why };
  const { pid } = content;
  if (!isAlive(pid)) return { status: 'dead', pid };
  const recorded = readStamp(file);
  if (recorded?.pid === pid) {
    // The boot id before the process's own stamp: a master of an earlier boot is gone whatever now
    // holds its pid, and the boot id stays readable where another user's /proc/<pid>/stat does not
    // (hidepid, systemd's ProtectProc=invisible), which would otherwise take that process for it.
    // Unless the process itself reads the recorded one: this boot, seen through another /proc
    // (a master in a systemd-nspawn container whose unit hides the container's, bootIdSeenBy).
    const bootId = proc.bootId();
    if (recorded.bootId !== null && bootId !== null && recorded.bootId !== bootId && proc.bootIdOf?.(pid) !== recorded.bootId) {
      return { status: 'reused', pid, why: `it is from an earlier boot (${stampFile(file)} records boot id ${recorded.bootId}, this boot is ${bootId}), so pid ${pid} is not the master that wrote it` };
    }
    const actual = proc.stamp(pid);
    if (actual === undefined || sameProcess(recorded, actual)) return { status: 'running', pid };
    return { status: 'reused', pid, why: `pid ${pid} is a process started after the master that wrote it (the pid was reused)` };
  }
  // No stamp for this pid: the command line can only tell that it looks like a master. Unreadable
  // (another user's process under hidepid), it is taken for one.
  const argv = proc.argv(pid);
  if (argv === undefined || looksLikeMaster(argv)) return { status: 'running', pid };
  return {
    status: 'unverified',
    pid,
    why: `pid ${pid} is alive, ${stampFile(file)} does not record it, and its command line is not \`corral start\` (${argv.join(' ').slice(0, 120)}), which a master started another way can look like`,
  };
}

/**
 * Writes the pidfile (and its start stamp), refusing while a master runs. A pidfile naming a dead
 * pid or a reused one is replaced: returns why, for the log.
 */
export function writePidfile(file: string, proc: ProcReaders = procReaders, record?: MasterRecord): string | undefined {
  try {
    makeDirsSync(dirname(file), PIDFILE_DIR_MODE);
  } catch (err) {
    throw pidfileError(file, `cannot write it: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code, err);
  }
  try {
    // The check and the write as one step against another start (pidfile-guard.ts).
    return underPidfileGuard(file, () => checkAndWrite(file, proc, record));
  } catch (err) {
    // checkAndWrite's own failures are said already; what is left is the guard's file.
    if (err instanceof CorralError) throw err;
    throw pidfileError(file, `cannot write beside it (${guardFile(file)}): ${(err as Error).message}`, (err as NodeJS.ErrnoException).code, err);
  }
}

function checkAndWrite(file: string, proc: ProcReaders, record: MasterRecord | undefined): string | undefined {
  const existing = checkPidfile(file, proc);
  if (existing?.status === 'running' && existing.pid !== process.pid) {
    throw new CorralError('CORRAL_ERR_ALREADY_RUNNING', `corral is already running as pid ${existing.pid} (pidfile ${file}); stop it first or set CORRAL_PIDFILE`);
  }
  // Replacing it could start a second master on the same pidfile: one whose workers cannot bind
  // the port the first holds exits, taking with it the pidfile reload/stop/status need to find
  // the first; one on another port serves beside it. The operator decides.
  if (existing?.status === 'unverified' && existing.pid !== process.pid) {
    throw new CorralError(
      'CORRAL_ERR_ALREADY_RUNNING',
      `the pidfile ${file} names a live process that may be a corral master: ${existing.why}. Nothing was started. If pid ${existing.pid} is not corral, the pidfile is stale: remove it (rm ${file}) and start again; if it is, stop it first (kill -TERM ${existing.pid}) or set CORRAL_PIDFILE`,
    );
  }
  if (existing?.status === 'unreadable') throw pidfileError(file, `cannot read it to tell whether a master runs: ${existing.why}`, 'EACCES');
  try {
    makeDirsSync(dirname(file), PIDFILE_DIR_MODE);
    // The stamp first: a reader that finds the new pid finds its stamp too.
    const stamp = proc.stamp(process.pid);
    if (stamp) writeOwnerOnly(stampFile(file), stampText(stamp, record));
    else rmSync(stampFile(file), { force: true });
    writeOwnerOnly(file, `${process.pid}\n`);
  } catch (err) {
    throw pidfileError(file, `cannot write it: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code, err);
  }
  if (existing?.status === 'dead') return `replaced the stale pidfile ${file} (pid ${existing.pid} is not running)`;
  if (existing?.status === 'reused') return `replaced the stale pidfile ${file} (${existing.why})`;
  if (existing?.status === 'unverified') return `replaced the stale pidfile ${file} (it named this process's own pid, ${existing.pid}, without a start stamp)`;
  if (existing?.status === 'no-pid') return `replaced the pidfile ${file}, which named no process (it ${existing.why})`;
  return undefined;
}

/** Start cannot use CORRAL_PIDFILE: say which file, why, and what to change, not a stack trace. */
function pidfileError(file: string, what: string, errno: string | undefined, cause?: unknown): CorralError {
  const fix =
    errno === 'EISDIR'
      ? `CORRAL_PIDFILE names a directory: name a file, e.g. CORRAL_PIDFILE=${file}/corral.pid`
      : errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS'
        ? 'make its directory writable by the user corral runs as, or point CORRAL_PIDFILE at a file in one that is'
        : 'point CORRAL_PIDFILE at a file in a writable directory';
  return new CorralError('CORRAL_ERR_PIDFILE', `the pidfile ${file} (CORRAL_PIDFILE): ${what}. Nothing was started; ${fix}`, { cause });
}

/**
 * Removes the pidfile only if it still names this process (a newer master may own it). Never
 * throws: the master calls it on its way out, and an error there (the directory made read-only or
 * root's since the start, the filesystem remounted read-only) ended that way out, its children
 * stopped but the master left running with its admin API open until SIGKILL. Returns what failed,
 * for the log; the pidfile is still removed when its stamp cannot be.
 */
export function removePidfile(file: string): Error | undefined {
  if (readPid(file) !== process.pid) return undefined;
  let failed: Error | undefined;
  for (const path of [stampFile(file), file]) {
    try {
      rmSync(path, { force: true });
    } catch (err) {
      failed ??= err as Error;
    }
  }
  return failed;
}
