// The one way corral answers JSON over HTTP (the app and the admin API alike): explicit length,
// no caching, no content sniffing.

import type { ServerResponse } from 'node:http';

/** A JSON body serialized once, with the headers that go with it. */
export interface PreparedJson {
  readonly bytes: Buffer;
  readonly headers: Readonly<Record<string, string | number>>;
  /**
   * Written after `bytes`, when the body is made of two pieces kept apart (prepareJsonPieces):
   * Content-Length counts both.
   */
  readonly rest?: Buffer;
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

/**
 * A prepared body made of a large head and a small rest, written one after the other rather than
 * copied into one: a body whose head stays while its rest changes (GET /api/players' roster, and
 * its fetch time) is made again without copying, nor allocating, the head. Copying a head of 60 MB
 * at each refresh of a large roster stalled the worker for about a second (the copy, and the
 * full garbage collection so much new memory set off).
 */
export function prepareJsonPieces(head: Buffer, rest: Buffer): PreparedJson {
  return Object.freeze({ bytes: head, rest, headers: Object.freeze(jsonHeaders(head.length + rest.length, {})) });
}

export function sendPrepared(res: ServerResponse, status: number, body: PreparedJson): void {
  res.writeHead(status, body.headers);
  if (body.rest === undefined) {
    res.end(body.bytes);
    return;
  }
  res.write(body.bytes);
  res.end(body.rest);
}

/** Sends JSON that is already serialized. */
export function sendJsonText(res: ServerResponse, status: number, text: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, jsonHeaders(Buffer.byteLength(text), headers));
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}
