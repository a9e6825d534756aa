// Which addresses only this host can reach. Decided on addresses, never on text: a host name such
// as "127.corp.example" looks like 127.x but DNS may send it anywhere, and whatever it resolves to
// at check time may differ when the socket is bound.

import { BlockList, isIP } from 'node:net';

/** 127.0.0.0/8, ::1 and the IPv4-mapped 127.x (which the URL parser writes as ::ffff:7f00:1). */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** Is this an IP literal (brackets allowed) in a loopback range? Host names are never. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  const family = isIP(a);
  return family !== 0 && LOOPBACK.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Is a bind host reachable only from this host? A loopback IP literal, or exactly `localhost`:
 * the one name resolvers answer locally without asking DNS (RFC 6761 section 6.3). Any other
 * name is treated as remote, whatever it looks like.
 */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}
