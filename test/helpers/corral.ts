// Spawns the real master (`bin/corral start`) on ephemeral ports with its own temp directory,
// and reads its JSON log file. Every test closes what it opens: call stop() in a finally/after.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noteLoggedErrors } from '../fixtures/error-codes-logged.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CORRAL_BIN = join(REPO_ROOT, 'bin', 'corral');
/** Fixture apps live in the source tree (plain .mjs, not compiled). */
export const FIXTURE_APPS = join(REPO_ROOT, 'test', 'fixtures', 'apps');

export type LogLine = Record<string, unknown> & { event?: string; level?: string; msg?: string; role?: string };

/**
 * How long a test waits for a master to be ready by default: a master with a few workers is
 * ready in about a second on an idle machine, and took over 30 s on one with a load of 20 on two
 * cores. Only a master that never becomes ready waits it out.
 */
export const READY_TIMEOUT_MS = 90_000;

export interface StartOptions {
  /** Extra environment (CORRAL_* settings). */
  env?: Record<string, string>;
  /** Settings left out of the environment (the defaults set here included), for a .env file to set them. */
  unset?: readonly string[];
  /** Fixture app file name under test/fixtures/apps, or a path. */
  app?: string;
  /** Worker count (default 2); null leaves CORRAL_WORKERS unset. */
  workers?: number | null;
  /** Wait for master.ready (default true). */
  waitReady?: boolean;
  /** How long to wait for master.ready (default READY_TIMEOUT_MS). */
  readyTimeoutMs?: number;
  /** Working directory (default: a fresh temp dir). */
  cwd?: string;
  /** The corral launcher to run (default: this checkout's bin/corral), e.g. a copy of the install. */
  bin?: string;
  /**
   * A command that execs the rest of its arguments, to run the master under it (the pid stays
   * the master's): e.g. ['taskset', '-c', '0'], or ulimitN(256).
   */
  wrap?: readonly string[];
}

/** A wrap (StartOptions.wrap) that starts the master under `ulimit -n n` (soft and hard), as a shell would. */
export function ulimitN(n: number): readonly string[] {
  return ['/bin/sh', '-c', `ulimit -n ${n} && exec "$@"`, 'sh'];
}

export interface CorralProcess {
  readonly dir: string;
  readonly logFile: string;
  readonly pidFile: string;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** http://127.0.0.1:<port> once ready. */
  url: string;
  /** http://127.0.0.1:<admin port> once ready (admin server present). */
  adminUrl: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  logs(): LogLine[];
  events(name: string): LogLine[];
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, wait for exit (SIGKILL after timeoutMs), remove the temp dir. Idempotent. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The lines of `text` up to its last newline, each parsed (a complete line that is not JSON throws). */
function completeLines(text: string): LogLine[] {
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as LogLine);
}

export function readLogLines(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  // The daemon is still writing: a last line without its newline is one whose write is in
  // progress (a reader of a regular file can see part of a write), not a torn line. It is
  // left for the next read; every complete line must still parse.
  return completeLines(readFileSync(file, 'utf8'));
}

/**
 * readLogLines for a log a test polls while it grows: parses only what was appended since the last
 * call (a test waiting on a busy corral's log re-parsed megabytes of access lines every 50 ms, a
 * core's worth of CPU taken from the processes under test). Starts over when the file is another
 * (rotated, moved) or shorter than what was read (truncated).
 */
export function logTail(file: string): () => LogLine[] {
  let ino = -1;
  let offset = 0;
  let lines: LogLine[] = [];
  return () => {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      ino = -1;
      offset = 0;
      lines = [];
      return [];
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return readLogLines(file);
      if (st.ino !== ino || st.size < offset) {
        ino = st.ino;
        offset = 0;
        lines = [];
      }
      if (st.size > offset) {
        const added = Buffer.alloc(st.size - offset);
        const got = readSync(fd, added, 0, added.length, offset);
        // Up to the last newline: a line whose write is in progress is left for the next call. A
        // complete line that does not parse throws, and the next call tries the same bytes again.
        const end = added.subarray(0, got).lastIndexOf(0x0a) + 1;
        for (const line of completeLines(added.subarray(0, end).toString('utf8'))) lines.push(line);
        offset += end;
      }
      return lines.slice();
    } finally {
      closeSync(fd);
    }
  };
}

/** Lets a process a test stopped with SIGSTOP run again, for its master to stop it; gone is fine. */
export function resumeIfStopped(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    // Already gone (its master killed it).
  }
}

export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startCorral(o: StartOptions = {}): Promise<CorralProcess> {
  const dir = o.cwd ?? mkdtempSync(join(tmpdir(), 'corral-test-'));
  const logFile = join(dir, 'corral.log');
  const pidFile = join(dir, 'corral.pid');
  const dataDir = join(dir, 'data');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    CORRAL_ENV_FILE: 'none',
    CORRAL_BIND: '127.0.0.1:0',
    CORRAL_ADMIN_BIND: '127.0.0.1:0',
    CORRAL_LOG_FILE: logFile,
    CORRAL_PIDFILE: pidFile,
    CORRAL_DATA_DIR: dataDir,
    ...(o.workers === null ? {} : { CORRAL_WORKERS: String(o.workers ?? 2) }),
    CORRAL_GRACEFUL_TIMEOUT: '10',
    ...(o.app ? { CORRAL_APP: o.app.includes('/') ? o.app : join(FIXTURE_APPS, o.app) } : {}),
    ...o.env,
  };
  for (const name of o.unset ?? []) delete env[name];
  const argv = [process.execPath, o.bin ?? CORRAL_BIN, 'start'];
  const [command, ...args] = [...(o.wrap ?? []), ...argv] as [string, ...string[]];
  const proc = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));

  const tail = logTail(logFile);
  const c: CorralProcess = {
    dir,
    logFile,
    pidFile,
    dataDir,
    proc,
    pid: proc.pid ?? -1,
    url: '',
    adminUrl: '',
    exited,
    stderr: () => stderr,
    logs: () => tail(),
    events: (name) => tail().filter((l) => l.event === name),
    waitForLog(predicate, timeoutMs = 15000, what = 'a log line') {
      return waitFor(
        () => {
          const hit = tail().find(predicate);
          if (hit) return hit;
          if (done) throw new Error(`corral exited while waiting for ${what}; stderr:\n${stderr}`);
          return undefined;
        },
        timeoutMs,
        what,
      );
    },
    kill(signal) {
      if (!done) proc.kill(signal);
    },
    async stop(timeoutMs = 20000) {
      if (!done) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(t);
      }
      try {
        // A regular file only: a test may leave /dev/full (or a directory) at the path.
        if (statSync(logFile).isFile()) noteLoggedErrors(readLogLines(logFile));
      } catch {
        // A log a test tore or moved on purpose: its own assertions read it.
      }
      if (!o.cwd) rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
  if (o.waitReady !== false) {
    try {
      const ready = await c.waitForLog((l) => l.event === 'master.ready', o.readyTimeoutMs ?? READY_TIMEOUT_MS, 'master.ready');
      c.url = `http://127.0.0.1:${String(ready.port)}`;
      if (ready.admin_port) c.adminUrl = `http://127.0.0.1:${String(ready.admin_port)}`;
    } catch (err) {
      await c.stop();
      throw err;
    }
  }
  return c;
}
