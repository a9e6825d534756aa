// The client's address. X-Forwarded-For is believed only when the direct peer is a trusted proxy
// (CORRAL_TRUSTED_PROXIES: addresses or CIDR blocks), and then only up to the first hop that is not
// itself trusted: reading it from the right stops a client from forging its own address. And the
// key the per-IP rate limit counts that client under (clientKey): its address, or for IPv6 its /64.

import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

export type ClientIpResolver = (req: IncomingMessage) => string;

/** `::ffff:10.0.0.1` → `10.0.0.1`, so one client has one key whatever the socket family. */
export function normalizeIp(ip: string): string {
  const t = ip.trim();
  return t.toLowerCase().startsWith('::ffff:') && isIP(t.slice(7)) === 4 ? t.slice(7) : t;
}

/**
 * The key the per-IP rate limit counts `ip` under: an IPv4 address as it is, an IPv6 address by
 * its /64 prefix (`2001:db8:1:2::/64`). One IPv6 host usually holds a whole /64 (SLAAC, privacy
 * addresses) and can pick any of its 2^64 addresses per request, so per address it would never
 * run out of budget. IPv4-mapped addresses (`::ffff:a.b.c.d`) are IPv4 (normalizeIp made them so).
 * Anything else (an empty address) is its own key.
 */
export function clientKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const zone = ip.indexOf('%');
  const addr = zone === -1 ? ip : ip.slice(0, zone);
  if (isIP(addr) !== 6) return ip;
  const halves = addr.split('::');
  const groups = (s: string | undefined): string[] => (s === undefined || s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  // A dotted IPv4 tail (`::1.2.3.4`, `64:ff9b::1.2.3.4`) fills the last two groups.
  const width = (g: string[]) => g.reduce((n, p) => n + (p.includes('.') ? 2 : 1), 0);
  const zeros = halves.length === 2 ? 8 - width(head) - width(tail) : 0;
  const all = [...head, ...Array<string>(zeros).fill('0'), ...tail];
  return `${all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export function buildTrustList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const [addr, bits] = entry.split('/');
    const ip = normalizeIp(addr ?? '');
    const family = isIP(ip);
    if (family === 0) throw new Error(`CORRAL_TRUSTED_PROXIES: ${entry} is not an IP address or CIDR block`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(ip, type);
    else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
        throw new Error(`CORRAL_TRUSTED_PROXIES: ${entry} has a bad prefix length`);
      }
      list.addSubnet(ip, prefix, type);
    }
  }
  return list;
}

/** Enough for every proxy and client of a busy host; past it the answers are forgotten at once. */
const REMEMBERED_ANSWERS = 10_000;

/**
 * Whether an address is trusted, remembered per address: BlockList.check() builds a SocketAddress
 * for every call, which cost more than the rest of a rate-limited request's own work.
 */
function trustCheck(list: BlockList): (ip: string) => boolean {
  const answers = new Map<string, boolean>();
  return (ip) => {
    let ok = answers.get(ip);
    if (ok === undefined) {
      const family = isIP(ip);
      ok = family !== 0 && list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
      // Bounded: forged hops in X-Forwarded-For must not grow it without limit.
      if (answers.size >= REMEMBERED_ANSWERS) answers.clear();
      answers.set(ip, ok);
    }
    return ok;
  };
}

export function createClientIpResolver(trustedProxies: readonly string[]): ClientIpResolver {
  const trusted = trustCheck(buildTrustList(trustedProxies));
  const any = trustedProxies.length > 0;
  return (req) => {
    const peer = normalizeIp(req.socket.remoteAddress ?? '');
    if (!any || !trusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '')
      .split(',')
      .map((h) => normalizeIp(h))
      .filter((h) => h !== '');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] ?? '';
      if (isIP(hop) === 0) return peer; // garbage in the chain: fall back to what we know
      if (!trusted(hop)) return hop;
    }
    return hops[0] ?? peer;
  };
}
