// A request target as it is written to the log. A query string may carry a secret a client put
// there by mistake (`?token=...`, `?api_key=...`): corral never reads credentials from a query
// and refuses such a request as it is, but a log line that copied `req.url` kept the secret in
// the log file, its rotations and whatever ships them. Error and diagnostic lines name the path
// alone (the same failure comes with any query); the access log keeps the query, as nginx's does,
// with the values of parameters named like a credential replaced.

/** Parameter names whose values the access log does not write (matched anywhere in the name, any case). */
const SECRET_NAME = /token|secret|passw|pwd|key|auth|sig|session|code|credential|jwt|bearer|cookie/i;

export const REDACTED = '[REDACTED]';

/**
 * An absolute-form target's user and password (`GET http://admin:pw@host/api/players`), which
 * node:http takes as sent and the app routes by its path: replaced, as a query's secret is.
 * RFC 9110 section 4.2.4 deprecates userinfo in http URIs; only a client's mistake puts it there.
 */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i;

function withoutUserinfo(raw: string): string {
  return raw.charCodeAt(0) === 0x2f ? raw : raw.replace(USERINFO, `$1${REDACTED}@`);
}

/** The target without its query (nor a fragment, which clients do not send but a raw target may hold). */
export function pathOfTarget(target: string | undefined): string {
  const raw = withoutUserinfo(target ?? '');
  const q = raw.indexOf('?');
  const h = raw.indexOf('#');
  const end = q < 0 ? h : h < 0 ? q : Math.min(q, h);
  return end < 0 ? raw : raw.slice(0, end);
}

/**
 * The target with its query, each value of a parameter named like a credential replaced by
 * `[REDACTED]` (the name stays: it says what was sent where). A target without a query is
 * returned as it is, at no cost: the access log writes one per request.
 */
export function targetForAccessLog(target: string | undefined): string {
  const raw = withoutUserinfo(target ?? '');
  const q = raw.indexOf('?');
  if (q < 0 && raw.indexOf('#') < 0) return raw;
  const path = pathOfTarget(raw);
  if (q < 0) return path;
  const h = raw.indexOf('#', q);
  const query = raw.slice(q + 1, h < 0 ? undefined : h);
  // `;` too: some clients and frameworks still separate parameters with it (HTML 4's advice), so
  // `?x=1;token=...` carries a token to them. But to a server that splits on `&` alone (WHATWG's
  // URLSearchParams, node:querystring) a `;` is part of the value: `sig=part1;part2` is one
  // secret, whose tail was logged as sent when `;` ended it. So a value named like a credential
  // is redacted to the next `&`. The separators before it are kept as they were sent.
  const pairs = query.split('&').map((pair) => {
    const chunks = pair.split(';');
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i] ?? '';
      const eq = chunk.indexOf('=');
      const name = eq < 0 ? chunk : chunk.slice(0, eq);
      if (SECRET_NAME.test(decodedName(name))) return [...chunks.slice(0, i), `${name}=${REDACTED}`].join(';');
    }
    return pair;
  });
  return `${path}?${pairs.join('&')}`;
}

/** `%74oken` is `token` to whoever decodes the query: names are matched as decoded. */
function decodedName(name: string): string {
  const spaced = name.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
