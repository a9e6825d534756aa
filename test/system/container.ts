// A throwaway Debian machine with a real systemd as PID 1, for tests that must prove behaviour
// under systemd rather than read a unit file. The root is built once with debootstrap into a
// git-ignored cache and booted with systemd-nspawn --volatile=overlay, so every run starts from
// the same pristine tree (changes land in a tmpfs and vanish at power-off).
//
// Commands run inside with nsenter into every namespace of the container's systemd, with a clean
// environment (the host's variables, e.g. NODE_EXTRA_CA_CERTS, mean nothing in there).
//
// On a cgroup v1 host the container runs in cgroups of its own, its pids and memory hierarchies
// writable (cgroups.ts), so that the resource limits of a unit inside are applied.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeRunCgroups, writableIn } from './cgroups.js';
import { isAlive } from '../../src/master/pidfile.js';

export const DEBIAN_SUITE = 'bookworm';
/** Where the built root is kept between runs (git-ignored). */
export const ROOT_CACHE = fileURLToPath(new URL('../../../.cache', import.meta.url));
/** procps: /bin/kill for ExecReload=; logrotate: the rotation test; dbus: systemctl talks to PID 1 through it. */
export const ROOT_PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'logrotate', 'procps'] as const;
const ROOT_STAMP = 'corral-root.json';
const CLEAN_ENV = ['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'SYSTEMD_PAGER=', 'SYSTEMD_COLORS=0'];

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * Runs a command to completion, killing it (SIGKILL) if it outlives `timeoutMs`, with every process
 * it started: those hold its output pipes, and the result waits for them to close. debootstrap is
 * a shell script: killed alone, its wget (a 900 s read timeout, 20 tries) or chroot'd dpkg went
 * on, and whoever waited on it (test/run.mjs, through prepare-root.ts) waited on. Not by process
 * group: the command stays in its caller's, for a Ctrl-C, or prepare-root's end, to reach it.
 */
export function run(cmd: string, args: readonly string[], opts: { timeoutMs: number; input?: string } = { timeoutMs: 60_000 }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs} ms]`;
      killTree(child.pid!);
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function onPath(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Why the systemd test cannot run here, or undefined when it can. */
export function systemdTestSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux (systemd-nspawn)';
  if (process.getuid?.() !== 0) return 'needs root to debootstrap and boot a systemd-nspawn container';
  const missing = ['debootstrap', 'systemd-nspawn', 'nsenter'].filter((n) => !onPath(n));
  if (missing.length > 0) return `missing ${missing.join(', ')} (apt-get install debootstrap systemd-container util-linux)`;
  return undefined;
}

/**
 * The Debian mirror this machine's apt uses (deb822 .sources or one-line sources.list), so
 * debootstrap works wherever apt-get does.
 */
export function aptMirror(): string {
  const candidates: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.sources') || f.endsWith('.list')).map((f) => join(dir, f)) : [];
  if (existsSync('/etc/apt/sources.list')) files.unshift('/etc/apt/sources.list');
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (field('Enabled')[0]?.toLowerCase() === 'no') continue;
        if (!field('Types').includes('deb') || !field('Suites').includes(DEBIAN_SUITE)) continue;
        candidates.push(...field('URIs'));
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
        if (m && m[2] === DEBIAN_SUITE && m[1]) candidates.push(m[1]);
      }
    }
  }
  return candidates.find((u) => /^https?:\/\//.test(u) && !/security/.test(u)) ?? 'http://deb.debian.org/debian';
}

export interface RootInfo {
  readonly dir: string;
  /** True when this call ran debootstrap (false: reused the cache). */
  readonly built: boolean;
  readonly ms: number;
}

/**
 * Returns the cached root, building it first if absent or made with another package list.
 * Built in a temp directory and renamed when complete, so a half-built root is never booted.
 */
export async function ensureRoot(cacheDir: string, timeoutMs: number): Promise<RootInfo> {
  const started = Date.now();
  const dir = join(cacheDir, 'systemd-root');
  const want = JSON.stringify({ suite: DEBIAN_SUITE, variant: 'minbase', packages: ROOT_PACKAGES });
  const stamp = join(dir, ROOT_STAMP);
  const current = () => existsSync(stamp) && readFileSync(stamp, 'utf8') === want;
  if (current()) return { dir, built: false, ms: Date.now() - started };

  mkdirSync(cacheDir, { recursive: true });
  // Leftovers of runs that were killed mid-build.
  for (const name of readdirSync(cacheDir)) {
    const m = /^systemd-root\.(?:tmp|old)-(\d+)-/.exec(name);
    if (m && !isAlive(Number(m[1]))) rmSync(join(cacheDir, name), { recursive: true, force: true });
  }
  const tmp = join(cacheDir, `systemd-root.tmp-${process.pid}-${Date.now()}`);
  const mirror = aptMirror();
  const r = await run('debootstrap', ['--variant=minbase', `--include=${ROOT_PACKAGES.join(',')}`, DEBIAN_SUITE, tmp, mirror], { timeoutMs });
  if (r.code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`debootstrap from ${mirror} failed (${r.code ?? r.signal}):\n${(r.stdout + r.stderr).slice(-3000)}`);
  }
  // The system test files boot a container each, at the same time: when prepare-root.ts could not
  // build the root, each builds it. The one done second keeps the other's, which may be booted
  // already: replaced, it would leave that container's overlay without its lower directory.
  if (current()) {
    rmSync(tmp, { recursive: true, force: true });
    return { dir, built: true, ms: Date.now() - started };
  }
  writeFileSync(join(tmp, ROOT_STAMP), want);
  if (existsSync(dir)) {
    const old = join(cacheDir, `systemd-root.old-${process.pid}-${Date.now()}`);
    renameSync(dir, old);
    rmSync(old, { recursive: true, force: true });
  }
  renameSync(tmp, dir);
  return { dir, built: true, ms: Date.now() - started };
}

export interface Bind {
  readonly host: string;
  readonly container: string;
}

export interface Container {
  /** Host pid of the container's PID 1 (systemd). */
  readonly initPid: number;
  /**
   * The v1 controllers (of pids, memory) the container's systemd could write at its start, so
   * applies a unit's limits with: none on a host of cgroup v2 alone (see cgroups.ts).
   */
  readonly writableControllers: readonly string[];
  /** Why writableControllers lacks one of LIMIT_CONTROLLERS (the host's, or what refused its setup). */
  readonly cgroupsUnavailable: string | undefined;
  /** Runs a command inside every namespace of the container, with a clean environment. */
  exec(args: readonly string[], opts?: { timeoutMs?: number; input?: string }): Promise<RunResult>;
  /** exec(['sh', '-c', script]), failing with the output when the exit code is not 0. */
  sh(script: string, timeoutMs?: number): Promise<string>;
  /** A long-running command inside (e.g. tail -F); the caller kills it. */
  spawn(args: readonly string[]): ChildProcess;
  /** Writes a file in the container's (overlay) root from the host. */
  writeFile(path: string, content: string): void;
  readFile(path: string): string;
  /** The container console so far (for failure messages). */
  console(): string;
  /** systemctl poweroff, then SIGKILL of nspawn if it did not stop in time. Idempotent. */
  poweroff(timeoutMs?: number): Promise<void>;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function childrenOf(pid: number): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may contain spaces and parentheses, so cut at the last ')'.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(name), comm });
    } catch {
      // The process exited while we looked.
    }
  }
  return out;
}

/**
 * SIGKILLs `pid` and its descendants. Each is stopped as it is found, so none forks one more while
 * the tree is read, and all are killed once it is: killed first, a parent's children would go to
 * init, no longer found by their parent's pid.
 */
function killTree(pid: number): void {
  const found = [pid];
  const signal = (p: number, s: NodeJS.Signals) => {
    try {
      process.kill(p, s);
    } catch {
      // Exited meanwhile.
    }
  };
  for (let i = 0; i < found.length; i++) {
    signal(found[i]!, 'SIGSTOP');
    for (const c of childrenOf(found[i]!)) if (!found.includes(c.pid)) found.push(c.pid);
  }
  for (const p of found) signal(p, 'SIGKILL');
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Begins the lines the container's launcher says of its cgroups on the console. */
const CGROUP_NOTE = 'corral-test:';

export async function bootContainer(opts: { root: string; machine: string; binds: readonly Bind[]; bootTimeoutMs: number }): Promise<Container> {
  const made = makeRunCgroups();
  const cgroups = 'unavailable' in made ? undefined : made;
  const toRemount = cgroups?.writableControllers ?? [];
  const args = [
    '--register=no', // no systemd-machined on the host: nothing to register with
    '--keep-unit', // and no host systemd to create a scope unit
    '--volatile=overlay', // the cached root stays pristine; writes go to a tmpfs
    `--machine=${opts.machine}`,
    '--console=pipe',
    '-D',
    opts.root,
    ...opts.binds.map((b) => `--bind-ro=${b.host}:${b.container}`),
  ];
  // nspawn mounts the controllers read-only: PID 1 makes them writable before it becomes
  // systemd, which judges at its start which controllers it can use (a remount later needed a
  // daemon-reexec). It is what -b runs (/lib/systemd/systemd, no arguments), with the signal -b
  // would stop it with. A remount refused is said and the boot goes on: the limit tests then skip,
  // saying why, rather than the whole file failing.
  const remounts = toRemount.map((c) => `err=$(mount -o remount,bind,rw /sys/fs/cgroup/${c} 2>&1) || echo "${CGROUP_NOTE} cannot remount /sys/fs/cgroup/${c} writable: $err" >&2; `).join('');
  const withCgroups = `exec systemd-nspawn "$@" --kill-signal=SIGRTMIN+3 /bin/sh -c ${shellQuote(`${remounts}exec /lib/systemd/systemd`)}`;
  // The shell enters the run's cgroups, then becomes nspawn: the container is born in them. Where
  // it cannot, the container boots with its controllers left read-only, as nspawn alone sets them
  // up (remounted writable in the test's own cgroups, its systemd would share them with any other),
  // in those of the run's cgroups it did enter before the one refused: removed at power-off as well.
  const enter = (cgroups?.procsFiles ?? []).map((f) => `echo $$ > ${shellQuote(f)}`).join(' && ');
  const script =
    toRemount.length === 0
      ? 'exec systemd-nspawn "$@" -b'
      : `if err=$({ ${enter}; } 2>&1); then ${withCgroups}; else echo "${CGROUP_NOTE} cannot enter the run's cgroups: $err" >&2; exec systemd-nspawn "$@" -b; fi`;
  const nspawn = spawn('sh', ['-c', script, 'sh', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let consoleText = '';
  // The launcher's own notes, kept apart: a long boot pushes them out of the console's tail.
  const notes: string[] = [];
  const keep = (d: Buffer) => {
    const text = d.toString('utf8');
    for (const l of text.split('\n')) if (l.includes(CGROUP_NOTE)) notes.push(l.slice(l.indexOf(CGROUP_NOTE) + CGROUP_NOTE.length).trim());
    consoleText = (consoleText + text).slice(-20_000);
  };
  nspawn.stdout!.on('data', keep);
  nspawn.stderr!.on('data', keep);
  let exited = false;
  // Once nspawn is gone, so is every process of the container: its cgroups can go too.
  const exit = new Promise<void>((resolve) => nspawn.once('exit', () => ((exited = true), cgroups?.remove(), resolve())));

  const kill = async () => {
    if (!exited) nspawn.kill('SIGKILL');
    await exit;
  };
  try {
    const initPid = await until('the container systemd to start', opts.bootTimeoutMs, () => {
      if (exited) throw new Error(`systemd-nspawn exited early:\n${consoleText}`);
      // nspawn forks once more for the container; that child execs systemd as PID 1.
      for (const c of childrenOf(nspawn.pid!)) {
        if (c.comm === 'systemd') return c.pid;
        const grand = childrenOf(c.pid).find((g) => g.comm === 'systemd');
        if (grand) return grand.pid;
      }
      return undefined;
    });

    const exec: Container['exec'] = (cmd, o = {}) =>
      run('nsenter', ['-t', String(initPid), '-a', ...CLEAN_ENV, ...cmd], { timeoutMs: o.timeoutMs ?? 60_000, ...(o.input !== undefined ? { input: o.input } : {}) });

    // systemctl needs PID 1's private bus socket, created a moment after systemd starts.
    await until('the container systemd to listen on its bus', opts.bootTimeoutMs, () => {
      if (exited) throw new Error(`systemd-nspawn exited early:\n${consoleText}`);
      return existsSync(`/proc/${initPid}/root/run/systemd/private`) ? true : undefined;
    });
    const state = await exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: opts.bootTimeoutMs });
    const s = state.stdout.trim();
    if (s !== 'running' && s !== 'degraded') throw new Error(`container did not finish booting (${s}): ${state.stderr}\n${consoleText}`);

    // What PID 1 made writable, read back: a remount or a cgroup entry refused left them read-only.
    const writable = writableIn(readFileSync(`/proc/${initPid}/mountinfo`, 'utf8'), toRemount);
    const unavailable = 'unavailable' in made ? made.unavailable : writable.length < toRemount.length ? (notes.join('; ') || `${toRemount.filter((c) => !writable.includes(c)).join(', ')} mounted read-only in the container`) : undefined;
    let off: Promise<void> | undefined;
    return {
      initPid,
      writableControllers: writable,
      cgroupsUnavailable: unavailable,
      exec,
      async sh(script, timeoutMs = 60_000) {
        const r = await exec(['sh', '-c', script], { timeoutMs });
        if (r.code !== 0) throw new Error(`in container: ${script}\nexit ${r.code ?? r.signal}\n${r.stdout}\n${r.stderr}`);
        return r.stdout;
      },
      spawn(cmd) {
        return spawn('nsenter', ['-t', String(initPid), '-a', ...CLEAN_ENV, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
      },
      writeFile(path, content) {
        const target = join(`/proc/${initPid}/root`, path);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, content);
      },
      readFile(path) {
        return readFileSync(join(`/proc/${initPid}/root`, path), 'utf8');
      },
      console: () => consoleText,
      poweroff(timeoutMs = 30_000) {
        off ??= (async () => {
          if (exited) return;
          await exec(['systemctl', 'poweroff'], { timeoutMs: 10_000 }).catch(() => undefined);
          const timer = setTimeout(() => void kill(), timeoutMs);
          await exit;
          clearTimeout(timer);
        })();
        return off;
      },
    };
  } catch (err) {
    await kill();
    throw err;
  }
}
