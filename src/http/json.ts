// The one way corral answers JSON over HTTP (the app and the admin API alike): explicit length,
// no caching, no content sniffing.

import type { ServerResponse } from 'node:http';

/** A JSON body serialized once, with the headers that go with it. */
export interface PreparedJson {
  readonly bytes: Buffer;
  readonly headers: Readonly<Record<string, string | number>>;
}

/**
 * The same headers as lines of an answer written straight to the socket (a refusal node:http
 * reports before any response exists), each ending in CRLF; Content-Length is the caller's.
 */
export const JSON_HEADER_LINES = 'content-type: application/json; charset=utf-8\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n';

export function jsonHeaders(length: number, extra: Readonly<Record<string, string>>): Record<string, string | number> {
  return {
    ...extra,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': length,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  };
}

/**
 * For a body a hot route answers many times (a cached read): the bytes and the header object are
 * built once and handed to writeHead() as they are. node:http only reads that object, so it is
 * frozen and shared by every answer; this saves building and sizing them on every request.
 */
export function prepareJson(text: string | Buffer): PreparedJson {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  return Object.freeze({ bytes, headers: Object.freeze(jsonHeaders(bytes.length, {})) });
}

export function sendPrepared(res: ServerResponse, status: number, body: PreparedJson): void {
  res.writeHead(status, body.headers);
  res.end(body.bytes);
}

/** Sends JSON that is already serialized. */
export function sendJsonText(res: ServerResponse, status: number, text: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, jsonHeaders(Buffer.byteLength(text), headers));
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}
