// Small node:http helpers for the emulator: bounded body reading and JSON answers.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { systemParameter } from './system-parameters.js';

/** Google's limit on a request body; over it the API answers 400 INVALID_ARGUMENT. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export class BodyTooLarge extends Error {}

/** The whole body; over MAX_REQUEST_BYTES the rest is read and dropped, then BodyTooLarge. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_REQUEST_BYTES) reject(new BodyTooLarge(`Request payload size exceeds the limit: ${MAX_REQUEST_BYTES} bytes.`));
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/**
 * Google's APIs indent their JSON unless asked `prettyPrint=false` (a standard query parameter of
 * every Google API); the emulator does the same, so the bytes a client receives are the real ones.
 */
export function wantsPrettyPrint(query: URLSearchParams): boolean {
  return systemParameter(query, 'prettyPrint') !== 'false';
}

export function jsonBody(value: unknown, pretty = true): Buffer {
  return Buffer.from(pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value));
}

/**
 * Whether Google would gzip its answer to `req`: only when the client accepts gzip AND its
 * User-Agent contains "gzip" (the performance guide of Google's APIs: "you must do two things").
 */
export function wantsGzip(req: IncomingMessage): boolean {
  const accepted = String(req.headers['accept-encoding'] ?? '')
    .split(',')
    .some((part) => {
      const [coding, ...params] = part.trim().toLowerCase().split(';');
      return coding?.trim() === 'gzip' && !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p));
    });
  return accepted && /gzip/i.test(String(req.headers['user-agent'] ?? ''));
}

/** Sends `value` as JSON; gzip-encoded when `gzip` (wantsGzip of the request). */
export function sendJson(res: ServerResponse, status: number, value: unknown, pretty = true, gzip = false): void {
  if (res.headersSent || res.destroyed) return;
  const json = jsonBody(value, pretty);
  const body = gzip ? gzipSync(json) : json;
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': body.length, ...(gzip ? { 'content-encoding': 'gzip', vary: 'Accept-Encoding' } : {}) });
  res.end(body);
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(html);
  res.writeHead(status, { 'content-type': 'text/html; charset=UTF-8', 'content-length': body.length });
  res.end(body);
}

/**
 * Google's JSON follows proto3's mapping, which leaves out a field at its default value: a count of
 * 0, an empty list (https://protobuf.dev/programming-guides/json/). Drops those from an answer's
 * counts and lists; the emulator's own control answers keep theirs.
 */
export function withoutDefaults<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== 0 && !(Array.isArray(v) && v.length === 0)) out[k] = v;
  return out as T;
}
