// The master's pidfile: written at start, removed at exit; reload/stop/status read it.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CorralError } from '../errors.js';

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

export function writePidfile(file: string): void {
  const existing = readPid(file);
  if (existing !== undefined && existing !== process.pid && isAlive(existing)) {
    throw new CorralError('CORRAL_ERR_ALREADY_RUNNING', `corral is already running as pid ${existing} (pidfile ${file}); stop it first or set CORRAL_PIDFILE`);
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${process.pid}\n`);
}

/** Removes the pidfile only if it still names this process (a newer master may own it). */
export function removePidfile(file: string): void {
  if (readPid(file) === process.pid) rmSync(file, { force: true });
}
