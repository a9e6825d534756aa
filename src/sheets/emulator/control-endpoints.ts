// The control endpoints under /__emulator/: counters, read log, quotas, faults, tokens and a tab's
// rows, over HTTP for another process (bench/lib/emulator-proc.ts, `corral emulator`'s users).
// Unauthenticated (hence the emulator's default host, 127.0.0.1). Apart from server.ts because
// they are the Emulator interface's calls again, not Google's wire format: they use nothing else.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isLoopbackHost } from '../../loopback.js';
import type { Emulator } from './emulator.js';
import { parseFaults } from './faults.js';
import { sendJson } from './http-util.js';

/** The host name of a Host header (`name`, `name:port`, `[v6]:port`), lowercased; undefined for anything else. */
function hostNameOf(header: string): string | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^\s[\]:/@]+))(?::\d*)?$/i.exec(header);
  return m ? (m[1] ?? m[2] ?? '').toLowerCase() : undefined;
}

/**
 * Why a control request is refused as a web page's, or undefined. Unauthenticated, the endpoints
 * are kept from other hosts by the default bind, 127.0.0.1, but not from a page open in the
 * developer's browser: a cross-site POST with a text/plain body (fetch's no-cors mode, a form) is
 * sent without a CORS preflight, and a page whose name its owner re-points at 127.0.0.1 (DNS
 * rebinding) reads the answers, a tab's rows with the login codes among them. Browsers name the
 * page in `Origin` on every POST, and its name in `Host`; the scripts and benches that use these
 * endpoints send neither (node's fetch and curl send no Origin, and the emulator's own URL as Host).
 */
export function browserRefusal(req: IncomingMessage, bindHost: string): { status: number; error: string } | undefined {
  if (req.headers.origin !== undefined) return { status: 403, error: 'the /__emulator/ control endpoints do not answer web pages (a request with an Origin header)' };
  const host = req.headers.host;
  if (host === undefined || !isLoopbackHost(bindHost)) return undefined;
  const name = hostNameOf(host);
  if (name !== undefined && isLoopbackHost(name)) return undefined;
  return { status: 421, error: `the emulator listens on loopback and answers its control endpoints only for localhost or a loopback address, not Host ${JSON.stringify(host.slice(0, 100))}` };
}

/** The calls of the emulator the control endpoints make. */
export type Controlled = Pick<Emulator, 'counters' | 'resetCounters' | 'reads' | 'resetQuotas' | 'faults' | 'setFaults' | 'revokeTokens' | 'getSheet'>;

/** Answers a request to /__emulator/...; 404 for an endpoint there is not. */
export function answerControl(emulator: Controlled, req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): void {
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (path === '/__emulator/counters' && method === 'GET') return sendJson(res, 200, emulator.counters());
  if (path === '/__emulator/counters/reset' && method === 'POST') {
    const before = emulator.counters();
    emulator.resetCounters();
    return sendJson(res, 200, before);
  }
  if (path === '/__emulator/reads' && method === 'GET') {
    const since = Number(url.searchParams.get('since') ?? '0');
    return sendJson(res, 200, emulator.reads(Number.isFinite(since) ? since : 0));
  }
  if (path === '/__emulator/quotas/reset' && method === 'POST') {
    emulator.resetQuotas();
    return sendJson(res, 200, { reset: true });
  }
  if (path === '/__emulator/faults' && method === 'GET') return sendJson(res, 200, emulator.faults());
  if (path === '/__emulator/faults' && method === 'POST') {
    try {
      return sendJson(res, 200, emulator.setFaults(parseFaults(JSON.parse(body.toString('utf8') || '{}') as unknown)));
    } catch (err) {
      return sendJson(res, 400, { error: (err as Error).message });
    }
  }
  if (path === '/__emulator/revoke-tokens' && method === 'POST') {
    emulator.revokeTokens();
    return sendJson(res, 200, { revoked: true });
  }
  const sheet = /^\/__emulator\/spreadsheets\/([^/]+)\/sheets\/([^/]+)$/.exec(path);
  if (sheet && method === 'GET') {
    let id: string;
    let tab: string;
    try {
      id = decodeURIComponent(sheet[1] ?? '');
      tab = decodeURIComponent(sheet[2] ?? '');
    } catch {
      // A cut-off or malformed %-sequence: the caller's path, not the emulator, is wrong.
      return sendJson(res, 400, { error: `the path ${path} has a percent-encoding that does not decode (UTF-8 written as %XX, as encodeURIComponent writes it)` });
    }
    const rows = emulator.getSheet(id, tab);
    return rows ? sendJson(res, 200, { values: rows }) : sendJson(res, 404, { error: 'no such spreadsheet or tab' });
  }
  sendJson(res, 404, { error: `unknown emulator control endpoint ${method} ${path}` });
}
