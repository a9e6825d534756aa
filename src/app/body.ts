// Reads a small JSON request body with a byte limit, answering clear 4xx errors.

import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { fieldCount } from '../http/field-count.js';
import { readBodyWithin } from '../http/read-body.js';
import { repeatedTopLevelKey } from '../json-keys.js';
import { HttpError } from './http.js';

/** App bodies are tiny ({name, code}, {kind, detail}); this keeps a slow-loris body cheap. */
export const DEFAULT_BODY_LIMIT = 16 * 1024;

/** Spellings of UTF-8 a `charset` parameter may use (the WHATWG Encoding labels clients send). */
const UTF8_LABELS = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8']);

/**
 * The `charset` parameter of a Content-Type, lowercased and unquoted, or undefined when absent.
 * JSON has no charset parameter of its own (RFC 8259 §11), but clients send one.
 */
function charsetOf(contentType: string): string | undefined {
  const params = contentType.split(';');
  for (let i = 1; i < params.length; i++) {
    const param = params[i] ?? '';
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    return param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return undefined;
}

export async function readJsonObject(req: IncomingMessage, limitBytes = DEFAULT_BODY_LIMIT): Promise<Record<string, unknown>> {
  // node:http keeps the first of two: `text/plain` then `application/json` was refused 415 as
  // text/plain, a refusal that read as contradicting what the client sent.
  if (fieldCount(req.rawHeaders, 'content-type') > 1) throw new HttpError('bad_request', 'send one Content-Type header, not several: only one of them could be read');
  const contentType = String(req.headers['content-type'] ?? '');
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new HttpError('unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
  }
  // JSON between systems is UTF-8 (RFC 8259 §8.1). Read as UTF-8 regardless, a body in another
  // charset would be stored altered (`Chloé` in Latin-1 becomes `Chlo\uFFFD`), so it is refused.
  const charset = contentType.includes(';') ? charsetOf(contentType) : undefined;
  if (charset !== undefined && !UTF8_LABELS.has(charset)) {
    throw new HttpError('unsupported_charset', `charset=${charset.slice(0, 40)} is not supported; send the JSON body as UTF-8 (Content-Type: application/json; charset=utf-8)`);
  }
  // A compressed body would be parsed as it is, and refused as not UTF-8 or not JSON: a message
  // that sends the client looking in the wrong place. RFC 9110 §15.5.16 says 415 and which
  // codings are taken.
  const coding = req.headers['content-encoding']?.trim().toLowerCase();
  if (coding !== undefined && coding !== '' && coding !== 'identity') {
    throw new HttpError('unsupported_content_encoding', `Content-Encoding: ${coding.slice(0, 40)} is not supported; send the JSON body uncompressed`, {
      headers: { 'Accept-Encoding': 'identity' },
    });
  }
  const tooLarge = () => new HttpError('body_too_large', `the body may be at most ${limitBytes} bytes on this route`);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge();
  const bytes = await readBodyWithin(req, limitBytes, tooLarge);
  // Bytes that are not UTF-8 would decode to U+FFFD and be accepted and stored as such.
  if (!isUtf8(bytes)) throw new HttpError('invalid_json', 'the body is not valid UTF-8; send JSON encoded as UTF-8');
  // A UTF-8 byte order mark (files saved by Windows editors and sent with `curl --data-binary @f`)
  // is not JSON, and JSON.parse's complaint about it points at a character nobody can see; RFC
  // 8259 §8.1 lets a parser ignore it, so it is.
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const text = bytes.toString('utf8', bom ? 3 : 0);
  if (text.trim() === '') throw new HttpError('invalid_json', 'the body is empty; send a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError('invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError('invalid_json', 'the body must be a JSON object');
  }
  const repeated = repeatedTopLevelKey(text);
  if (repeated !== undefined) {
    throw new HttpError('invalid_json', `the key ${JSON.stringify(repeated.slice(0, 40))} appears more than once; send each field once`, { field: repeated.slice(0, 40) });
  }
  return value as Record<string, unknown>;
}
