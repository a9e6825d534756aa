// Whether this process may listen on the ports of CORRAL_BIND and CORRAL_ADMIN_BIND: a port below
// net.ipv4.ip_unprivileged_port_start (1024 by default) needs CAP_NET_BIND_SERVICE. Without it,
// `corral config --check` said OK and `corral start` as the same user failed every worker's listen
// (EACCES). Read from /proc rather than tried: a listen as a user who has the capability would
// hold the port, perhaps the running corral's, for a moment.
// A warning, never a refusal: the check may be run by another user than the service's, and the
// unit written by `corral systemd-unit` grants the capability to its own.

import { readFileSync } from 'node:fs';
import type { HostPort } from './spec.js';
import { schema } from './schema.js';

const CAP_NET_BIND_SERVICE = 10n;

export interface PrivilegeReaders {
  /** net.ipv4.ip_unprivileged_port_start, or undefined when it cannot be read. */
  unprivilegedPortStart(): number | undefined;
  /** The process's effective capability set (CapEff), or undefined when it cannot be read. */
  effectiveCapabilities(): bigint | undefined;
  uid(): number | undefined;
}

export const procReaders: PrivilegeReaders = {
  unprivilegedPortStart() {
    try {
      const n = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
      return Number.isInteger(n) ? n : undefined;
    } catch {
      // A kernel before 4.11 has no such setting: 1024 is fixed there.
      return 1024;
    }
  },
  effectiveCapabilities() {
    try {
      const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
      return hex === undefined ? undefined : BigInt(`0x${hex}`);
    } catch {
      return undefined;
    }
  },
  uid: () => process.getuid?.(),
};

const CONSEQUENCE = {
  CORRAL_BIND: "corral start as this user would fail every worker's listen (EACCES)",
  CORRAL_ADMIN_BIND: 'corral would start without its admin API (admin.failed)',
} as const;

/** A warning for each bind whose port this process could not listen on for want of the capability. */
export function privilegedPortWarnings(binds: Partial<Record<'CORRAL_BIND' | 'CORRAL_ADMIN_BIND', HostPort>>, read: PrivilegeReaders = procReaders): string[] {
  const below = (['CORRAL_BIND', 'CORRAL_ADMIN_BIND'] as const).flatMap((name) => {
    const bind = binds[name];
    return bind === undefined || bind.port === 0 ? [] : [{ name, bind }];
  });
  if (below.length === 0) return [];
  const start = read.unprivilegedPortStart();
  const caps = read.effectiveCapabilities();
  // Not known: nothing said rather than a guess.
  if (start === undefined || caps === undefined || (caps >> CAP_NET_BIND_SERVICE) & 1n) return [];
  const uid = read.uid();
  const who = uid === undefined ? 'this user' : `this user (uid ${uid})`;
  return below
    .filter(({ bind }) => bind.port < start)
    .map(({ name, bind }) => `${name}=${schema[name].format(bind)}: port ${bind.port} is below ${start} (net.ipv4.ip_unprivileged_port_start) and ${who} lacks CAP_NET_BIND_SERVICE, so ${CONSEQUENCE[name]}; the unit written by \`corral systemd-unit\` grants it (AmbientCapabilities=CAP_NET_BIND_SERVICE); otherwise use a port of 1024 or more behind a proxy`);
}
