// The Host check of an admin listener on loopback, against DNS rebinding: a web page served from
// attacker.example, whose name the attacker then points at 127.0.0.1, has the browser send its
// requests to this listener and lets the page read the answers (same origin, for the browser).
// Such a request names attacker.example in Host. A client that really means this listener names
// `localhost` or an IP literal, which no DNS answer can redirect: curl http://127.0.0.1:9090, the
// dashboard through an SSH tunnel (http://localhost:PORT/admin), `corral status` and `recommend`.
//
// Beyond loopback no check is made: every route but health needs the token there, which such a
// page does not have, and operators reach the host by whatever name their network gives it.

import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from '../../loopback.js';
import { fieldCount } from '../../http/field-count.js';

export type HostCheck = { ok: true } | { ok: false; error: 'host_not_allowed' | 'missing_host' | 'invalid_host'; message: string };


/** `name`, `name:port`, `[v6]` or `[v6]:port`; anything else (user info, paths, spaces) is no host. */
const HOST_HEADER = /^(?:\[([0-9a-f:.]+)\]|([^\s[\]:/@]+))(?::\d*)?$/i;

/** The host name of a Host header, lowercased and unbracketed, or undefined when it is not one. */
export function hostNameOf(header: string): string | undefined {
  const m = HOST_HEADER.exec(header);
  return m ? (m[1] ?? m[2] ?? '').toLowerCase() : undefined;
}

/**
 * The authority of a request target in absolute form (`GET http://name:port/path`), '' when it
 * names none, undefined for any other form. RFC 9112 §3.2.2: a server given one ignores Host and
 * takes the target's, so a check of Host alone answered `GET http://attacker.example/api/admin/stats`
 * sent with `Host: 127.0.0.1`, a request addressed to another name.
 */
function targetAuthority(target: string | undefined): string | undefined {
  if (target === undefined || !/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return undefined;
  try {
    return new URL(target).host;
  } catch {
    return '';
  }
}

/**
 * A request's Host (or, in absolute form, its target's authority), judged for a listener bound to `bindHost`. A request without Host (HTTP/1.0)
 * passes: browsers always send it.
 */
export function checkAdminHost(req: IncomingMessage, bindHost: string): HostCheck {
  const header = req.headers.host;
  // RFC 9112 §3.2, on every bind, as the workers answer them: an HTTP/1.1 request without Host is
  // a 400 (node:http's own has an empty body: the server turns it off to say it in JSON), and so is
  // one with two (node:http kept the first, which was the one judged here, whatever a proxy in
  // front routed on).
  if (header === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
    return { ok: false, error: 'missing_host', message: 'an HTTP/1.1 request needs a Host header' };
  }
  if (header !== undefined && fieldCount(req.rawHeaders, 'host') > 1) {
    return { ok: false, error: 'invalid_host', message: 'a request needs exactly one Host header' };
  }
  if (!isLoopbackHost(bindHost)) return { ok: true };
  const authority = targetAuthority(req.url);
  const addressed = authority ?? header;
  if (addressed === undefined) return { ok: true };
  const name = hostNameOf(addressed);
  if (name !== undefined && isLoopbackHost(name)) return { ok: true };
  const named = authority !== undefined ? `its target's host ${JSON.stringify(authority)}` : `Host: ${JSON.stringify(header)}`;
  return {
    ok: false,
    error: 'host_not_allowed',
    message: `the admin API listens on loopback and answers only requests addressed to localhost or a loopback address (127.0.0.1, [::1]), any port; this one was for ${named}. Use http://127.0.0.1:PORT or http://localhost:PORT (also through an SSH tunnel)`,
  };
}
