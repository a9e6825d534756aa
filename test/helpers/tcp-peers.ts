// Which client connections a process holds on a port, read from /proc: the clients a kill -9 of
// that process cuts; and which ports it listens on. Linux only (the daemon's integration tests
// already are).

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

/** The TCP ports `pid` listens on (its sockets in LISTEN state, IPv4 and IPv6). */
export function listeningPortsOf(pid: number): Set<number> {
  const ports = new Set<number>();
  for (const f of socketsOf(pid)) if (f[3] === LISTEN) ports.add(portOf(f[1]));
  return ports;
}

/** The kernel's st column for LISTEN (include/net/tcp_states.h). */
const LISTEN = '0A';

/** The processes with a socket listening on TCP `port` (IPv4 and IPv6), by pid. */
export function listenerPidsOn(port: number): Set<number> {
  const inodes = new Set(tcpRows().filter((f) => f[3] === LISTEN && portOf(f[1]) === port && f[9]).map((f) => f[9] as string));
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
