// The master's pidfile: written at start, removed at exit; reload/stop/status read it.
//
// The pidfile holds the pid alone, as logrotate's `kill -USR1 "$(cat corral.pid)"` and operators
// expect. Next to it, <pidfile>.start records the master's start stamp (proc-identity.ts), so a
// live process that merely reuses the pid of a master that died without removing its pidfile is
// told apart from the master. A pidfile without a stamp (an older corral, or written by hand) is
// judged by the process's command line.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CorralError } from '../errors.js';
import { looksLikeMaster, procArgv, procStamp, sameProcess, type ProcStamp } from './proc-identity.js';

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const stampFile = (file: string): string => `${file}.start`;

function readStamp(file: string): ProcStamp | undefined {
  try {
    const s = JSON.parse(readFileSync(stampFile(file), 'utf8')) as { pid?: unknown; start_ticks?: unknown; boot_id?: unknown };
    if (typeof s.pid !== 'number' || typeof s.start_ticks !== 'number') return undefined;
    return { pid: s.pid, startTicks: s.start_ticks, bootId: typeof s.boot_id === 'string' ? s.boot_id : null };
  } catch {
    return undefined;
  }
}

/** What the pidfile names: nothing, a running master, a dead pid, or a live process that is not the master. */
export type PidfileState =
  | { readonly status: 'running'; readonly pid: number }
  | { readonly status: 'dead'; readonly pid: number }
  | { readonly status: 'reused'; readonly pid: number; readonly why: string };

export function checkPidfile(file: string): PidfileState | undefined {
  const pid = readPid(file);
  if (pid === undefined) return undefined;
  if (!isAlive(pid)) return { status: 'dead', pid };
  const why = notTheMaster(pid, file);
  return why === undefined ? { status: 'running', pid } : { status: 'reused', pid, why };
}

/** Why the live `pid` is not the master that wrote `file`; undefined when it is, or cannot be told. */
function notTheMaster(pid: number, file: string): string | undefined {
  const recorded = readStamp(file);
  if (recorded?.pid === pid) {
    const actual = procStamp(pid);
    if (actual === undefined || sameProcess(recorded, actual)) return undefined;
    return `pid ${pid} is a process started after the master that wrote it (the pid was reused)`;
  }
  const argv = procArgv(pid);
  if (argv === undefined || looksLikeMaster(argv)) return undefined;
  return `pid ${pid} is not a corral master: ${argv.join(' ').slice(0, 120)}`;
}

/**
 * Writes the pidfile (and its start stamp), refusing while a master runs. A pidfile naming a dead
 * pid or a reused one is replaced: returns why, for the log.
 */
export function writePidfile(file: string): string | undefined {
  const existing = checkPidfile(file);
  if (existing?.status === 'running' && existing.pid !== process.pid) {
    throw new CorralError('CORRAL_ERR_ALREADY_RUNNING', `corral is already running as pid ${existing.pid} (pidfile ${file}); stop it first or set CORRAL_PIDFILE`);
  }
  mkdirSync(dirname(file), { recursive: true });
  // The stamp first: a reader that finds the new pid finds its stamp too.
  const stamp = procStamp(process.pid);
  if (stamp) writeFileSync(stampFile(file), `${JSON.stringify({ pid: stamp.pid, start_ticks: stamp.startTicks, boot_id: stamp.bootId })}\n`);
  else rmSync(stampFile(file), { force: true });
  writeFileSync(file, `${process.pid}\n`);
  if (existing?.status === 'dead') return `replaced the stale pidfile ${file} (pid ${existing.pid} is not running)`;
  if (existing?.status === 'reused') return `replaced the stale pidfile ${file} (${existing.why})`;
  return undefined;
}

/** Removes the pidfile only if it still names this process (a newer master may own it). */
export function removePidfile(file: string): void {
  if (readPid(file) !== process.pid) return;
  rmSync(stampFile(file), { force: true });
  rmSync(file, { force: true });
}
