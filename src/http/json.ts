// The one way corral answers JSON over HTTP (the app and the admin API alike): explicit length,
// no caching, no content sniffing.

import type { ServerResponse } from 'node:http';

/**
 * Sends JSON that is already serialized. Hot routes keep their body between requests as bytes:
 * a string body is encoded to UTF-8 twice per answer (length, then write).
 */
export function sendJsonText(res: ServerResponse, status: number, text: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}
