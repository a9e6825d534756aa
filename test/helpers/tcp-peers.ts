// Which client connections a process holds on a port, read from /proc: the clients a kill -9 of
// that process cuts; and which ports it listens on, read from the kernel's listening sockets by
// ss(8). Linux only (the daemon's integration tests already are).

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // The descriptor closed between the listing and the read: not held any more.
    }
  }
  return inodes;
}

const portOf = (address: string | undefined) => parseInt(address?.split(':')[1] ?? '', 16);

/**
 * The client-side ports of the TCP connections `pid` holds whose server side is `serverPort` (the
 * listening socket itself excluded). Stop the process first (SIGSTOP) so that it accepts nothing
 * between this reading and its kill.
 */
export function clientPortsHeldBy(pid: number, serverPort: number): Set<number> {
  const ports = new Set<number>();
  for (const f of socketsOf(pid)) {
    if (portOf(f[1]) !== serverPort) continue;
    const peer = portOf(f[2]);
    if (peer > 0) ports.add(peer);
  }
  return ports;
}

/** The TCP ports `pid` listens on (IPv4 and IPv6). */
export async function listeningPortsOf(pid: number): Promise<Set<number>> {
  const inodes = socketInodes(pid);
  return new Set((await listeningSockets()).filter((l) => inodes.has(l.inode)).map((l) => l.port));
}

/** The processes with a socket listening on TCP `port` (IPv4 and IPv6), by pid. */
export async function listenerPidsOn(port: number): Promise<Set<number>> {
  const inodes = new Set((await listeningSockets()).filter((l) => l.port === port).map((l) => l.inode));
  const pids = new Set<number>();
  if (inodes.size === 0) return pids;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      for (const inode of socketInodes(pid)) if (inodes.has(inode)) pids.add(pid);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/**
 * The host's listening TCP sockets, as ss(8) asks the kernel over netlink for them alone. Not
 * /proc/net/tcp: that lists every socket of the host, 50 000 rows after a CI run's load tests
 * left their TIME_WAITs, and reading and splitting it took this process's loop for so long that a
 * test polling it every 50 ms starved its own HTTP client. Run asynchronously for the same reason.
 */
async function listeningSockets(): Promise<{ readonly port: number; readonly inode: string }[]> {
  const { stdout } = await promisify(execFile)('ss', ['-H', '-l', '-t', '-n', '-e'], { maxBuffer: 16 * 1024 * 1024 });
  const sockets: { port: number; inode: string }[] = [];
  for (const line of stdout.split('\n')) {
    // LISTEN 0 511 127.0.0.1:45599 0.0.0.0:* ino:693667 sk:4 cgroup:/ <->  ([::1]:port, *:port)
    const local = line.trim().split(/\s+/)[3];
    const inode = /\bino:(\d+)/.exec(line)?.[1];
    if (!local || !inode) continue;
    sockets.push({ port: Number(local.slice(local.lastIndexOf(':') + 1)), inode });
  }
  return sockets;
}

/** The lines of /proc/net/tcp{,6} of `pid`'s sockets, split into fields. */
function socketsOf(pid: number): string[][] {
  const inodes = socketInodes(pid);
  return tcpRows().filter((f) => f[9] !== undefined && inodes.has(f[9]));
}

/** Every line of /proc/net/tcp{,6}, split into fields: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ... */
function tcpRows(): string[][] {
  const rows: string[][] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) if (line.trim()) rows.push(line.trim().split(/\s+/));
  }
  return rows;
}
