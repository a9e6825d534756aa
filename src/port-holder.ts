// Who listens on a TCP port, read from /proc (Linux), for the hint of a bind that failed with
// EADDRINUSE: "another process listens there" sent operators to `ss -ltnp`, when the holder was
// often corral's own (an older master's worker left spinning after its master was killed, or
// another corral started with the same CORRAL_BIND). One pass over /proc/net/tcp{,6} and the fds
// of the processes this user may read, only once a bind failed; anything unreadable is skipped,
// and an empty answer leaves the generic hint.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface PortHolder {
  readonly pid: number;
  /** Its command line, spaces between the arguments, cut at 160 characters. */
  readonly command: string;
  readonly parentPid: number | undefined;
  /** Its parent's command line, as `command`; undefined when it cannot be read. */
  readonly parentCommand: string | undefined;
}

/** The kernel's st column for LISTEN (include/net/tcp_states.h). */
const LISTEN = '0A';
/** Holders named at most: node:cluster workers share one socket, so a corral is many pids. */
const MAX_HOLDERS = 4;

/** The inodes of the sockets listening on `port`, any address (IPv4 and IPv6). */
function listeningInodes(port: number, proc: string): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['net/tcp', 'net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(`${proc}/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
      const f = line.trim().split(/\s+/);
      if (f[3] !== LISTEN || parseInt(f[1]?.split(':')[1] ?? '', 16) !== port) continue;
      if (f[9] && f[9] !== '0') inodes.add(f[9]);
    }
  }
  return inodes;
}

function readCommand(pid: number, proc: string): string | undefined {
  try {
    const text = readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return text.length > 160 ? `${text.slice(0, 159)}…` : text;
  } catch {
    return undefined;
  }
}

/** The parent of `pid` (field 4 of /proc/<pid>/stat, read past the command name), or undefined when gone or hidden. */
export function readParent(pid: number, proc = '/proc'): number | undefined {
  try {
    const stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function holdsOne(pid: string, inodes: ReadonlySet<string>, proc: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`${proc}/${pid}/fd`);
  } catch {
    return false; // another user's, or gone
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${proc}/${pid}/fd/${fd}`));
      if (m?.[1] && inodes.has(m[1])) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** The processes listening on TCP `port` that this user can see (none when /proc says nothing). */
export function portHolders(port: number, proc = '/proc'): PortHolder[] {
  const inodes = listeningInodes(port, proc);
  if (inodes.size === 0) return [];
  let pids: string[];
  try {
    pids = readdirSync(proc).filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const holders: PortHolder[] = [];
  for (const pid of pids) {
    if (Number(pid) === process.pid || !holdsOne(pid, inodes, proc)) continue;
    const parentPid = readParent(Number(pid), proc);
    holders.push({ pid: Number(pid), command: readCommand(Number(pid), proc) ?? '?', parentPid, parentCommand: parentPid === undefined ? undefined : readCommand(parentPid, proc) });
    if (holders.length >= MAX_HOLDERS) break;
  }
  return holders;
}

const isCorralWorker = (command: string) => /[/\\]worker[/\\]entry\.js\b/.test(command);
const isCorralMaster = (command: string | undefined) => command !== undefined && /\bcorral\b.*\bstart\b/.test(command);

/** One holder, said so that the fix follows: an orphaned corral worker is told from another corral's. */
export function describeHolder(h: PortHolder): string {
  const who = `pid ${h.pid} (${h.command})`;
  if (isCorralMaster(h.command)) return `${who}, a corral master (its admin API, CORRAL_ADMIN_BIND, or its workers' socket)`;
  if (!isCorralWorker(h.command)) return who;
  if (isCorralMaster(h.parentCommand)) return `${who}, a worker of the corral master pid ${h.parentPid} (another corral already runs here: \`corral status\`)`;
  return `${who}, a corral worker whose master is gone (its parent is pid ${h.parentPid ?? '?'}; \`kill -9 ${h.pid}\`)`;
}
