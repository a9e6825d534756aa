// Closing a connection after its answer, whatever the app asked for: a draining worker (and one
// with CORRAL_KEEPALIVE=0) must not keep a connection open because the app set
// `Connection: keep-alive` itself, or the worker's exit waits for the keep-alive timeout.

import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';

export type WriteHeadHeaders = OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;

const isConnection = (name: unknown): boolean => String(name).toLowerCase() === 'connection';

/**
 * `headers` as writeHead takes them, without a Connection header (in any case). The same object
 * when it has none; an array comes back flat ([name, value, ...]), the one array shape node:http
 * accepts once headers were also set with setHeader.
 */
export function withoutConnection(headers: WriteHeadHeaders): WriteHeadHeaders {
  if (headers === undefined) return undefined;
  if (Array.isArray(headers)) {
    const flat: OutgoingHttpHeader[] = [];
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const pair of headers as unknown as [string, OutgoingHttpHeader][]) if (!isConnection(pair[0])) flat.push(pair[0], pair[1]);
    } else {
      for (let i = 0; i < headers.length; i += 2) if (!isConnection(headers[i])) flat.push(headers[i] as OutgoingHttpHeader, headers[i + 1] as OutgoingHttpHeader);
    }
    return flat;
  }
  if (!Object.keys(headers).some(isConnection)) return headers;
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!isConnection(name)) kept[name] = value;
  return kept;
}

/** Marks `res` to close its connection after this answer; call before its headers are written. */
export function closeAfterAnswer(res: ServerResponse): void {
  res.shouldKeepAlive = false;
  // A Connection header the app set with setHeader would turn keep-alive back on.
  if (res.hasHeader('connection')) res.setHeader('connection', 'close');
}
