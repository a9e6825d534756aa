// Whether a new CORRAL_BIND can be bound while the running workers hold the old one. Linux refuses
// (EADDRINUSE) a listening socket on the port of another unless both name distinct specific
// addresses: 127.0.0.1:8080 and 0.0.0.0:8080 overlap, as do [::]:8080 and any address on 8080
// (a `::` socket takes IPv4 too unless net.ipv6.bindv6only is set), while 127.0.0.1:8080 and
// 127.0.0.2:8080 do not. Node's listen sets SO_REUSEADDR, which does not let a listener share a
// port with a wildcard one, and corral never sets SO_REUSEPORT.

import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import type { HostPort } from './spec.js';

interface Ip {
  readonly address: string;
  readonly family: 4 | 6;
  readonly wildcard: boolean;
}

/** An IP literal, its family, and whether it is the wildcard; undefined for a host name. */
function ipOf(host: string): Ip | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  const address = mapped?.[1] ?? host;
  const family = isIP(address);
  if (family === 4) return { address, family, wildcard: address === '0.0.0.0' };
  if (family === 6) return { address, family, wildcard: /^[0:]+$/.test(address) };
  return undefined;
}

/** Linux's default: a `::` listener takes IPv4 connections too, unless net.ipv6.bindv6only is 1. */
export function v6WildcardTakesIPv4(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv6/bindv6only', 'utf8').trim() !== '1';
  } catch {
    return true;
  }
}

/**
 * The addresses a host may listen on: an IP literal's own; for `localhost` (and names under it,
 * RFC 6761), the loopback addresses it resolves to, whichever comes first; undefined for any other
 * name, which resolves only at listen time.
 */
const LOOPBACK: readonly Ip[] = [
  { address: '127.0.0.1', family: 4, wildcard: false },
  { address: '::1', family: 6, wildcard: false },
];

/** `localhost` or a name under it (RFC 6761). */
function isLocalhost(host: string): boolean {
  return /^(.+\.)?localhost\.?$/i.test(host);
}

function addressesOf(host: string): readonly Ip[] | undefined {
  const ip = ipOf(host);
  if (ip) return [ip];
  return isLocalhost(host) ? LOOPBACK : undefined;
}

/** The loopback addresses as the resolver writes them, which is how node:cluster keys its sockets. */
const RESOLVED_LOOPBACK = new Set(['127.0.0.1', '::1']);

/**
 * Whether a new generation of cluster workers can listen on `next` while the running workers
 * listen on `held`, on the same port, although bindsOverlap says the two overlap: `localhost`
 * beside the loopback address its resolver gives (127.0.0.1 or ::1, spelt so) or beside another
 * localhost. A worker resolves a name before it asks the master for the socket, and node:cluster
 * keys its sockets by the resolved address: localhost resolving to the address held is handed the
 * running socket, and to the other loopback address gets a socket of its own; neither is refused.
 * (A reload from 127.0.0.1:8080 to localhost:8080 was kept back as needing a restart, its log line
 * saying the new workers could not bind it, EADDRINUSE, which they could.) Not so beside a socket
 * outside the cluster, the admin API's: there the overlap stands.
 */
export function clusterSharesLoopback(held: HostPort, next: HostPort): boolean {
  if (!isLocalhost(held.host) && !isLocalhost(next.host)) return false;
  const resolvable = (host: string) => isLocalhost(host) || RESOLVED_LOOPBACK.has(host);
  return resolvable(held.host) && resolvable(next.host);
}

/**
 * True when `next` cannot be bound while `held` listens; false when it can; undefined when it
 * cannot be told here: a host name resolves only at listen time, maybe to several addresses
 * (`localhost` excepted: it is loopback, and `localhost:9090` beside `127.0.0.1:9090` passed the
 * check and then failed every worker's listen). Port 0 is an ephemeral port, never the one held.
 */
export function bindsOverlap(held: HostPort, next: HostPort, dualStack: boolean): boolean | undefined {
  if (held.port !== next.port || next.port === 0) return false;
  const [as, bs] = [addressesOf(held.host), addressesOf(next.host)];
  if (!as || !bs) return undefined;
  return as.some((a) => bs.some((b) => addressesOverlap(a, b, dualStack)));
}

function addressesOverlap(a: Ip, b: Ip, dualStack: boolean): boolean {
  if (a.family !== b.family) return (a.family === 6 && a.wildcard && dualStack) || (b.family === 6 && b.wildcard && dualStack);
  if (a.wildcard || b.wildcard) return true;
  const same = new BlockList();
  same.addAddress(a.address, a.family === 4 ? 'ipv4' : 'ipv6');
  return same.check(b.address, b.family === 4 ? 'ipv4' : 'ipv6');
}
