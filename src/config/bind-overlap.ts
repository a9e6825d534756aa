// Whether a new CORRAL_BIND can be bound while the running workers hold the old one. Linux refuses
// (EADDRINUSE) a listening socket on the port of another unless both name distinct specific
// addresses: 127.0.0.1:8080 and 0.0.0.0:8080 overlap, as do [::]:8080 and any address on 8080
// (a `::` socket takes IPv4 too unless net.ipv6.bindv6only is set), while 127.0.0.1:8080 and
// 127.0.0.2:8080 do not. Node's listen sets SO_REUSEADDR, which does not let a listener share a
// port with a wildcard one, and corral never sets SO_REUSEPORT.

import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import type { HostPort } from './spec.js';

/** An IP literal, its family, and whether it is the wildcard; undefined for a host name. */
function ipOf(host: string): { address: string; family: 4 | 6; wildcard: boolean } | undefined {
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
 * True when `next` cannot be bound while `held` listens; false when it can; undefined when it
 * cannot be told here: a host name resolves only at listen time, maybe to several addresses.
 * Port 0 is an ephemeral port, never the one held.
 */
export function bindsOverlap(held: HostPort, next: HostPort, dualStack: boolean): boolean | undefined {
  if (held.port !== next.port || next.port === 0) return false;
  const [a, b] = [ipOf(held.host), ipOf(next.host)];
  if (!a || !b) return undefined;
  if (a.family !== b.family) return (a.family === 6 && a.wildcard && dualStack) || (b.family === 6 && b.wildcard && dualStack);
  if (a.wildcard || b.wildcard) return true;
  const same = new BlockList();
  same.addAddress(a.address, a.family === 4 ? 'ipv4' : 'ipv6');
  return same.check(b.address, b.family === 4 ? 'ipv4' : 'ipv6');
}
