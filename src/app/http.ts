// JSON answers and the one error type routes throw. Every error body has the same shape:
// {"error": <stable snake_case code>, "message": <sentence for humans>, "field"?: <input name>},
// and each code has one status (HTTP_ERRORS in src/errors.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { statusOf, type HttpErrorCode } from '../errors.js';
import { sendJson } from '../http/json.js';
import { fieldCount } from '../http/field-count.js';

export { prepareJson, prepareJsonPieces, sendJson, sendJsonText, sendPrepared, type PreparedJson } from '../http/json.js';

export class HttpError extends Error {
  readonly status: number;
  readonly error: HttpErrorCode;
  readonly field: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  constructor(error: HttpErrorCode, message: string, options: { field?: string; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = statusOf(error);
    this.error = error;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }

  body(): Record<string, string> {
    return { error: this.error, message: this.message, ...(this.field !== undefined ? { field: this.field } : {}) };
  }
}

/** A 400 about one input field: `{"error":"invalid_field","field":…,"message":…}`. */
export function invalidField(field: string, message: string): HttpError {
  return new HttpError('invalid_field', message, { field });
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, err.body(), err.headers);
}

/**
 * The bearer credential of a request, or undefined; a 400 for two Authorization headers. node:http
 * keeps the first and drops the others, so a client whose library adds a default header before its
 * own (an old token first) was told its token was "invalid or expired; log in again", and logging
 * in again changed nothing. Authorization is not a list (RFC 9110 §11.6.2), so two are refused, as
 * two Idempotency-Key or Host headers are, naming the header.
 */
export function bearerToken(req: IncomingMessage): string | undefined {
  if (fieldCount(req.rawHeaders, 'authorization') > 1) {
    throw new HttpError('bad_request', 'send one Authorization header, not several: only one of them could be read');
  }
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  // A comma may be in the token: CORRAL_ADMIN_TOKEN's rule allows any printable ASCII (GET
  // /api/export checks it here). Two merged credentials always leave a blank inside the value.
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  if (m) return m[1];
  // A Bearer credential with more after it (`Bearer A, Bearer B`: two headers a proxy or a
  // library merged into one) was taken for no token at all, told to send one.
  if (/^Bearer[ \t]+\S/i.test(h)) {
    throw new HttpError('bad_request', 'the Authorization header must be "Bearer <token>" alone: it holds more after the token (two headers merged into one?); send one token');
  }
  return undefined;
}
