// The client's address. X-Forwarded-For is believed only when the direct peer is a trusted proxy
// (CORRAL_TRUSTED_PROXIES: addresses or CIDR blocks), and then only up to the first hop that is not
// itself trusted: reading it from the right stops a client from forging its own address (without
// one, that proxy's X-Real-IP). And the
// key the per-IP rate limit counts that client under (clientKey): its IPv4 address (also one an
// IPv6 address carries), or for IPv6 its /64.

import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

export type ClientIpResolver = (req: IncomingMessage) => string;

/** `::ffff:10.0.0.1` → `10.0.0.1`, so one client has one key whatever the socket family. */
export function normalizeIp(ip: string): string {
  const t = ip.trim();
  return t.toLowerCase().startsWith('::ffff:') && isIP(t.slice(7)) === 4 ? t.slice(7) : t;
}

/**
 * An X-Forwarded-For entry's address. Some proxies write the client's port too (Azure Application
 * Gateway, IIS ARR: `203.0.113.7:53211`, `[2001:db8::1]:53211`): read as garbage, the entry made
 * the resolver fall back to the proxy's own address, and every client shared its budget.
 */
export function forwardedAddress(entry: string): string {
  const t = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(t);
  if (bracketed?.[1]) return normalizeIp(bracketed[1]);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(t);
  if (withPort?.[1]) return withPort[1];
  return normalizeIp(t);
}

/**
 * The eight 16-bit groups of an IPv6 address (`::` expanded, a dotted IPv4 tail as the last two
 * groups, any case), or undefined when `addr` is not one. A zone id (`%eth0`) must be cut first.
 */
export function ipv6Groups(addr: string): number[] | undefined {
  if (isIP(addr) !== 6) return undefined;
  const parts = (s: string): number[] => {
    if (s === '') return [];
    return s.split(':').flatMap((p) => {
      if (!p.includes('.')) return [parseInt(p, 16)];
      const [a = 0, b = 0, c = 0, d = 0] = p.split('.').map(Number);
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const gap = addr.indexOf('::');
  if (gap === -1) return parts(addr);
  const head = parts(addr.slice(0, gap));
  const tail = parts(addr.slice(gap + 2));
  return [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** The IPv4 address an IPv6 address carries in its last 32 bits, for the prefixes that mean one. */
function embeddedIpv4(g: readonly number[]): string | undefined {
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = g;
  const zeroTo4 = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  const v4 = () => `${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`;
  // IPv4-mapped, ::ffff:0:0/96 (a dual-stack socket's IPv4 peer, in any spelling).
  if (zeroTo4 && g5 === 0xffff) return v4();
  // IPv4-compatible, ::/96 (deprecated, still seen), except :: and ::1, which are not IPv4 clients.
  if (zeroTo4 && g5 === 0 && !(g6 === 0 && g7 <= 1)) return v4();
  // The well-known NAT64 prefix 64:ff9b::/96 (RFC 6052): every IPv4 client behind a NAT64 or
  // SIIT translator comes from it, one address each, and must not share one /64's budget.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return v4();
  return undefined;
}

/**
 * The key the per-IP rate limit counts `ip` under: an IPv4 address as it is, an IPv6 address by
 * its /64 prefix in RFC 5952 form (`2001:db8:1:2::/64`, `2001:db8::/64`). One IPv6 host usually
 * holds a whole /64 (SLAAC, privacy addresses) and can pick any of its 2^64 addresses per request,
 * so per address it would never run out of budget. An IPv6 address that stands for an IPv4 one
 * (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96, however written) is keyed
 * by that IPv4 address: by its /64 all such clients would share one budget. Anything else (an
 * empty address) is its own key.
 */
export function clientKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const zone = ip.indexOf('%');
  const groups = ipv6Groups(zone === -1 ? ip : ip.slice(0, zone));
  if (!groups) return ip;
  const v4 = embeddedIpv4(groups);
  if (v4 !== undefined) return v4;
  // Groups 4-7 are zero in the prefix: RFC 5952's longest run of zeros is always the tail (with
  // any zero groups just before it), so dropping those and writing `::` is the canonical form.
  const prefix = groups.slice(0, 4);
  while (prefix.length > 0 && prefix[prefix.length - 1] === 0) prefix.pop();
  return `${prefix.map((g) => g.toString(16)).join(':')}::/64`;
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
      .map((h) => forwardedAddress(h))
      .filter((h) => h !== '');
    if (hops.length === 0) return realIp(req.headers['x-real-ip']) ?? peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] ?? '';
      if (isIP(hop) === 0) return peer; // garbage in the chain: fall back to what we know
      if (!trusted(hop)) return hop;
    }
    return hops[0] ?? peer;
  };
}

/**
 * X-Real-IP from a trusted proxy that sends no X-Forwarded-For: nginx sites written for gunicorn
 * (the seeds' own) set `proxy_set_header X-Real-IP $remote_addr` alone, and behind them every
 * client was counted as nginx, one budget for the whole site. One address only: several headers,
 * or a list, are no single client's.
 */
function realIp(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const ip = forwardedAddress(header);
  return isIP(ip) === 0 ? undefined : ip;
}
