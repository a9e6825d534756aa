// Which addresses only this host can reach. Decided on addresses, never on text: a host name such
// as "127.corp.example" looks like 127.x but DNS may send it anywhere, and whatever it resolves to
// at check time may differ when the socket is bound (or connected: see checkLoopbackUrl).

import { lookup } from 'node:dns/promises';
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
 * Is a bind host reachable only from this host? A loopback IP literal, or `localhost` in any case
 * (host names are case-insensitive, RFC 4343: LOCALHOST was refused as "reachable from other
 * hosts"): the one name resolvers answer locally without asking DNS (RFC 6761 section 6.3). Any
 * other name is treated as remote, whatever it looks like.
 */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || isLoopbackAddress(host);
}

/** The addresses a host name was checked against: a client connects to these and no others. */
export type PinnedAddresses = readonly { readonly address: string; readonly family: number }[];

export type LoopbackCheck = { readonly ok: true; readonly pinned: PinnedAddresses | undefined } | { readonly ok: false; readonly why: string };

/**
 * Does a URL reach this host alone? For the URLs corral sends load or the admin token to
 * (`loadtest --target/--admin`, `recommend --admin-url`); each caller says how to allow a remote
 * one. A host name is resolved and every address must be loopback ("localhost" normally is; a name
 * that also resolves elsewhere is not). `pinned` is what a name was checked against: resolving it
 * again when connecting could give other addresses (DNS rebinding), so connect to these (pinnedLookup).
 * `what` names the URL in `why` ("target", "--admin-url").
 */
export async function checkLoopbackUrl(url: URL, what: string): Promise<LoopbackCheck> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isLoopbackAddress(host) ? { ok: true, pinned: undefined } : { ok: false, why: `${what} ${url.host} is not a loopback address` };
  let addresses: { address: string; family: number }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch (err) {
    return { ok: false, why: `${what} host ${host} could not be resolved (${(err as Error).message}), so it is not known to be loopback` };
  }
  const remote = addresses.filter((a) => !isLoopbackAddress(a.address)).map((a) => a.address);
  if (addresses.length === 0 || remote.length > 0) return { ok: false, why: `${what} host ${host} resolves to ${remote.join(', ') || 'nothing'}, not loopback` };
  return { ok: true, pinned: addresses };
}

type LookupCallback = (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void;

/** A net.connect lookup (undici's connect.lookup) that answers from the pinned addresses. */
export function pinnedLookup(pinned: PinnedAddresses) {
  return (_host: string, options: { all?: boolean } | number | undefined, cb: LookupCallback): void => {
    const first = pinned[0];
    if (typeof options === 'object' && options?.all) cb(null, pinned.map((a) => ({ address: a.address, family: a.family })));
    else if (first) cb(null, first.address, first.family);
    else cb(new Error('no pinned address'), '', 0);
  };
}
