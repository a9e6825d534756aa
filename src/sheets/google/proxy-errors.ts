// Failures that are the outbound proxy's (HTTPS_PROXY / HTTP_PROXY), told apart from Google's:
// "cannot reach sheets.googleapis.com" sent an operator to Google's status page while the
// company proxy wanted a password.
//
// What undici (7.x, lib/dispatcher/proxy-agent.js) reports:
// - https:// target, CONNECT answered with anything but 200: RequestAbortedError
//   "Proxy response (407) !== 200 when HTTP Tunneling", before any byte went to Google;
// - http:// target sent in absolute form (proxyTunnel false), answered 407: InvalidArgumentError
//   "Proxy Authentication Required (407)"; other refusals arrive as the proxy's own answer, an
//   HTML page with no Google error envelope (proxyAnswer);
// - the proxy itself unreachable: the socket's error (ECONNREFUSED, ENOTFOUND...). corral never
//   connects to Google or resolves its name while a proxy is in use, so these are the proxy's.
// Every one of them: applied 'no', the proxy forwarded nothing.

import { SheetsError } from '../errors.js';
import type { ErrorContext } from './error-map.js';
import type { TransportError } from './http.js';
import type { ProxyRoute } from './proxy.js';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * A certificate this host does not trust, met through a proxy: most often a proxy that inspects
 * TLS and re-signs every site with its own CA. Said as Google being unreachable, it sent operators
 * to Google, with neither the proxy nor the fix named.
 */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function named(route: ProxyRoute): string {
  return `the proxy ${route.shown} (${route.setting})`;
}

function target(ctx: ErrorContext): string {
  return ctx.operation === 'token' ? `the token endpoint ${ctx.host}` : `${ctx.operation} on ${ctx.host}`;
}

/** The error for a proxy that answered `status` instead of relaying the call. */
function refused(route: ProxyRoute, status: number, ctx: ErrorContext, cause?: unknown): SheetsError {
  const who = named(route);
  const init = { status, applied: 'no' as const, ...(cause === undefined ? {} : { cause }) };
  if (status === 407) {
    const fix = route.credentials
      ? `it refused the user and password in ${route.setting}: check them (special characters percent-encoded: @ as %40, : as %3A)`
      : `it wants a user and password: write them in ${route.setting}=http://user:password@host:port`;
    return new SheetsError('CORRAL_ERR_SHEETS_PROXY', `${who} answered 407 Proxy Authentication Required to ${target(ctx)}, so Google was not reached: ${fix}`, {
      ...init,
      reason: 'PROXY_AUTH',
      retryable: false,
    });
  }
  if (status === 403) {
    return new SheetsError(
      'CORRAL_ERR_SHEETS_PROXY',
      `${who} refused (403 Forbidden) to relay ${target(ctx)}, so Google was not reached: its rules do not let this host reach ${ctx.host}; ask its administrators to allow it, or add ${ctx.host.replace(/:\d+$/, '')} to NO_PROXY if this host can reach it directly`,
      { ...init, reason: 'PROXY_REFUSED', retryable: false },
    );
  }
  return new SheetsError('CORRAL_ERR_SHEETS_PROXY', `${who} answered ${status} instead of relaying ${target(ctx)} (the proxy could not reach it, or refuses it)`, {
    ...init,
    reason: 'PROXY_REFUSED',
    retryable: status >= 500,
  });
}

/** The proxy's own failure behind a failed exchange, or undefined: not the proxy's. */
export function proxyTransportError(err: TransportError, ctx: ErrorContext): SheetsError | undefined {
  const route = ctx.proxy;
  if (!route || err.kind !== 'network') return undefined;
  const text = `${err.message} ${(err.cause as Error | undefined)?.message ?? ''}`;
  const status = /Proxy response \((\d{3})\) !== 200/.exec(text)?.[1] ?? (/Proxy Authentication Required \(407\)/.test(text) ? '407' : undefined);
  if (status !== undefined) return refused(route, Number(status), ctx, err);
  const code = err.causeCode;
  if (code !== undefined && UNTRUSTED_CERTIFICATE.has(code)) {
    const host = ctx.host.replace(/:\d+$/, '');
    return new SheetsError(
      'CORRAL_ERR_SHEETS_PROXY',
      `${target(ctx)} through ${named(route)} presented a certificate this host does not trust (${code}), so Google was not reached: a proxy that inspects TLS signs every site with a CA of its own; ` +
        `give that CA to corral with NODE_EXTRA_CA_CERTS=/path/to/proxy-ca.pem in the environment corral starts with (the unit's Environment=), or add ${host} to NO_PROXY if this host can reach it directly`,
      { reason: 'PROXY_TLS', applied: 'no', retryable: false, cause: err },
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return new SheetsError(
      'CORRAL_ERR_SHEETS_PROXY',
      `${target(ctx)} through ${named(route)} got no TLS answer to its handshake (${code}), so Google was not reached: the proxy did not relay the connection (it answered in plain text), or ${ctx.host} does not speak TLS there`,
      { reason: 'PROXY_TLS', applied: 'no', retryable: false, cause: err },
    );
  }
  if (err.phase === 'queued' && code !== undefined && UNREACHABLE.has(code)) {
    return new SheetsError('CORRAL_ERR_SHEETS_PROXY', `cannot reach ${named(route)} for ${target(ctx)}: ${err.message} (${code}); check that the proxy runs and that ${route.setting} names it`, {
      reason: 'PROXY_UNREACHABLE',
      applied: 'no',
      retryable: true,
      cause: err,
    });
  }
  return undefined;
}

/**
 * A proxy's answer in place of Google's (an http:// target sent in absolute form): a 407, or a
 * 403 with no Google error envelope (Google's and the emulator's 403s always carry one).
 */
export function proxyAnswer(status: number, hasGoogleEnvelope: boolean, ctx: ErrorContext): SheetsError | undefined {
  if (!ctx.proxy) return undefined;
  if (status === 407 || (status === 403 && !hasGoogleEnvelope)) return refused(ctx.proxy, status, ctx);
  return undefined;
}
