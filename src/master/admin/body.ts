// The JSON body of an admin POST: a few bytes ({"delta":1}). A bigger one is refused with 413
// before it is read when its Content-Length says so, and as soon as it passes the limit otherwise,
// so a client cannot make the master buffer an upload; its error says what is wrong, like every
// other admin answer. The body must be one object with the route's fields only, each once:
// `{"delta":1,"delta":-1}` was taken as -1 (JSON.parse keeps the last key, a proxy or a log
// reader may read the first) and removed a worker, and a misspelt or extra field was ignored.

import type { IncomingMessage } from 'node:http';
import { statusOf } from '../../errors.js';
import { readBodyWithin } from '../../http/read-body.js';
import { repeatedTopLevelKey } from '../../json-keys.js';

export const ADMIN_BODY_LIMIT_BYTES = 1024;

export class AdminBodyError extends Error {
  readonly status: number;
  constructor(
    readonly error: 'body_too_large' | 'invalid_json' | 'invalid_field',
    message: string,
    /** The field at fault (a repeated or unknown key), named in the answer. */
    readonly field?: string,
  ) {
    super(message);
    this.status = statusOf(error);
  }
}

const tooLarge = (limit: number) => new AdminBodyError('body_too_large', `the request body may be at most ${limit} bytes; admin POST bodies are small JSON such as {"delta":1}`);

export interface AdminBodyShape {
  /** What to send, said in every refusal: `{"delta":1} or {"delta":-1}`. */
  readonly example: string;
  /** The fields the route reads; any other is refused. */
  readonly fields: readonly string[];
}

/** The body as an object (`{}` when empty), refused unless it is one object of `fields`, each once. */
export async function readAdminJson(req: IncomingMessage, shape: AdminBodyShape, limit = ADMIN_BODY_LIMIT_BYTES): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const bytes = await readBodyWithin(req, limit, () => tooLarge(limit));
  const text = bytes.toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AdminBodyError('invalid_json', `the request body is not valid JSON (${(err as Error).message}); send ${shape.example}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AdminBodyError('invalid_json', `the request body must be a JSON object; send ${shape.example}`);
  }
  const repeated = repeatedTopLevelKey(text);
  if (repeated !== undefined) {
    const key = repeated.slice(0, 40);
    throw new AdminBodyError('invalid_json', `the key ${JSON.stringify(key)} appears more than once; send each field once, as ${shape.example}`, key);
  }
  const unknown = Object.keys(value).find((k) => !shape.fields.includes(k));
  if (unknown !== undefined) {
    const key = unknown.slice(0, 40);
    throw new AdminBodyError('invalid_field', `unknown field ${JSON.stringify(key)}; send ${shape.example}`, key);
  }
  return value as Record<string, unknown>;
}
