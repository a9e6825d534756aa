// Where the load may go. A load test is a small denial of service: by default it may only hit
// this machine (loopback), and --allow-remote is the operator saying "I own that server".

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isLoopbackAddress } from '../loopback.js';
import { targetRefused } from './exit.js';

/** The addresses a host name was checked against: the client connects to these and no others. */
export type PinnedAddresses = readonly { readonly address: string; readonly family: number }[];

/**
 * Refuses a target that is not loopback unless allowRemote (`what` names it in the message: the
 * target, or the --admin URL, which is sent the admin token). Host names are resolved and every
 * address must be loopback ("localhost" normally is; a name that also resolves elsewhere is not).
 * Returns the addresses checked, for a host name: resolving it again when connecting could give
 * others (DNS rebinding), so the client is pinned to these.
 */
export async function checkTargetAllowed(target: URL, allowRemote: boolean, what = 'target'): Promise<PinnedAddresses | undefined> {
  if (allowRemote) return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const hint = what === 'target' ? 'pass --allow-remote if you own that server and mean to load it' : 'pass --allow-remote if you own that server and mean to send it the admin token';
  if (isIP(host)) {
    if (!isLoopbackAddress(host)) throw targetRefused(`${what} ${target.host} is not a loopback address; ${hint}`);
    return undefined;
  }
  let addresses: { address: string; family: number }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch (err) {
    throw targetRefused(`${what} host ${host} could not be resolved (${(err as Error).message}), so it is not known to be loopback; ${hint}`);
  }
  const remote = addresses.filter((a) => !isLoopbackAddress(a.address)).map((a) => a.address);
  if (addresses.length === 0 || remote.length > 0) {
    throw targetRefused(`${what} host ${host} resolves to ${remote.join(', ') || 'nothing'}, not loopback; ${hint}`);
  }
  return addresses;
}

type LookupCallback = (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void;

/** A net.connect lookup that answers from the pinned addresses. */
export function pinnedLookup(pinned: PinnedAddresses) {
  return (_host: string, options: { all?: boolean } | number | undefined, cb: LookupCallback): void => {
    const first = pinned[0];
    if (typeof options === 'object' && options?.all) cb(null, pinned.map((a) => ({ address: a.address, family: a.family })));
    else if (first) cb(null, first.address, first.family);
    else cb(new Error('no pinned address'), '', 0);
  };
}

const CERT_CODES = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/**
 * Why the preflight got no answer, in the operator's terms. A TLS failure is not "nothing
 * listening": the server answered, but with a certificate this machine does not trust, or in
 * plain HTTP on an https:// URL.
 */
export function noAnswerReason(target: URL, code: string): string {
  if (CERT_CODES.test(code)) {
    return `target ${target.origin} answered with a TLS certificate this machine does not trust (${code}); give its CA with NODE_EXTRA_CA_CERTS=FILE, or use the app's plain http:// port`;
  }
  if (target.protocol === 'https:' && /^ERR_SSL_|^EPROTO$/.test(code)) {
    return `target ${target.origin} does not speak TLS (${code}); use http:// for it`;
  }
  if (target.protocol === 'http:' && code === 'UND_ERR_SOCKET') {
    return `target ${target.origin} closed the connection without answering (${code}); if it serves TLS, use https:// for it`;
  }
  return `target ${target.origin} is not answering (${code}); is corral running there?`;
}

/** Joins the target's base path (a proxy prefix such as /corral) and an API path. */
export function apiPath(target: URL, path: string): string {
  const base = target.pathname.replace(/\/+$/, '');
  return `${base}${path}`;
}
