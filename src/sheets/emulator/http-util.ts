// Small node:http helpers for the emulator: bounded body reading and JSON answers.

import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY = 20 * 1024 * 1024;

export class BodyTooLarge extends Error {}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new BodyTooLarge(`request body over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function jsonBody(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2));
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const body = jsonBody(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': body.length });
  res.end(body);
}
