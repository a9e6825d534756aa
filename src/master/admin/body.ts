// The JSON body of an admin POST: a few bytes ({"delta":1}). A bigger one is refused with 413
// before it is read when its Content-Length says so, and as soon as it passes the limit otherwise,
// so a client cannot make the master buffer an upload; its error says what is wrong, like every
// other admin answer.

import type { IncomingMessage } from 'node:http';
import { statusOf } from '../../errors.js';
import { readBodyWithin } from '../../http/read-body.js';

export const ADMIN_BODY_LIMIT_BYTES = 1024;

export class AdminBodyError extends Error {
  readonly status: number;
  constructor(
    readonly error: 'body_too_large' | 'invalid_json',
    message: string,
  ) {
    super(message);
    this.status = statusOf(error);
  }
}

const tooLarge = (limit: number) => new AdminBodyError('body_too_large', `the request body may be at most ${limit} bytes; admin POST bodies are small JSON such as {"delta":1}`);

export async function readAdminJson(req: IncomingMessage, example: string, limit = ADMIN_BODY_LIMIT_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const bytes = await readBodyWithin(req, limit, () => tooLarge(limit));
  const text = bytes.toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AdminBodyError('invalid_json', `the request body is not valid JSON (${(err as Error).message}); send ${example}`);
  }
}
