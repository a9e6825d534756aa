// Reads a small JSON request body with a byte limit, answering clear 4xx errors.

import type { IncomingMessage } from 'node:http';
import { HttpError } from './http.js';

/** App bodies are tiny ({name, code}, {kind, detail}); this keeps a slow-loris body cheap. */
export const DEFAULT_BODY_LIMIT = 16 * 1024;

export async function readJsonObject(req: IncomingMessage, limitBytes = DEFAULT_BODY_LIMIT): Promise<Record<string, unknown>> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new HttpError(415, 'unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limitBytes) {
    throw new HttpError(413, 'body_too_large', `the body may be at most ${limitBytes} bytes`);
  }
  const text = (await readBody(req, limitBytes)).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'invalid_json', 'the body is empty; send a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'invalid_json', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/**
 * The whole body, with plain stream events: an async iterator over the request costs more than
 * the rest of a login. Over the limit, reading stops and the caller answers 413 (with
 * Connection: close, as the rest is unread).
 */
function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      done();
      req.pause();
      reject(new HttpError(413, 'body_too_large', `the body may be at most ${limitBytes} bytes`));
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    // The client went away before the end of its body: nobody is left to answer.
    const onClose = () => onError(new Error('the client closed the connection before sending the whole body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
