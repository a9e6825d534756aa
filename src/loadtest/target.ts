// Where the load may go. A load test is a small denial of service: by default it may only hit
// this machine (loopback), and --allow-remote is the operator saying "I own that server".

import { checkLoopbackUrl, type PinnedAddresses } from '../loopback.js';
import { targetRefused } from './exit.js';

/**
 * Refuses a target that is not loopback unless allowRemote (`what` names it in the message: the
 * target, or the --admin URL, which is sent the admin token). The check is src/loopback.ts's, shared
 * with `corral recommend --admin-url`. Returns the addresses a host name was checked against: the
 * client is pinned to these (pinnedLookup).
 */
export async function checkTargetAllowed(target: URL, allowRemote: boolean, what = 'target'): Promise<PinnedAddresses | undefined> {
  if (allowRemote) return undefined;
  const checked = await checkLoopbackUrl(target, what);
  if (checked.ok) return checked.pinned;
  const hint = what === 'target' ? 'pass --allow-remote if you own that server and mean to load it' : 'pass --allow-remote if you own that server and mean to send it the admin token';
  throw targetRefused(`${checked.why}; ${hint}`);
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

/**
 * Said with a 404: the path of a --target is put before every route (a proxy's prefix), so
 * `--target http://host:8080/api` was asked for /api/api/players, and a 404 naming
 * /api/players alone sent the operator looking for a missing route.
 */
export function prefixHint(target: URL): string {
  const base = target.pathname.replace(/\/+$/, '');
  return base === '' ? '' : `; the path of --target, ${base}, is put before every route (a proxy's prefix): if the app answers at the root, give --target ${target.origin}`;
}
