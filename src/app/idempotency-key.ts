// The Idempotency-Key request header (IETF draft-ietf-httpapi-idempotency-key-header, the header
// Stripe's API made familiar): a client that sends one may retry a POST safely. This file reads
// the header and turns it into what the keeper remembers: a key scoped to the player and route
// (one player's key can neither replay nor probe another's) and a fingerprint of the request.
// The player is scoped by name as the roster finds it (players.ts normName), not as the roster
// spells it: an organiser who fixes only the case or the surrounding spaces of a name between a
// request and its retry ("alice martin" -> "Alice Martin") has not made it another player, and its
// retry must still find the key rather than write a second row.

import type { IncomingMessage } from 'node:http';
import { HttpError } from './http.js';
import { normName } from './players.js';
import { sha256 } from './sha256.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Stripe's limit; the draft sets none. */
export const IDEMPOTENCY_KEY_MAX = 255;

function invalid(message: string): HttpError {
  return new HttpError('invalid_idempotency_key', message);
}

/**
 * The draft writes the key as a Structured Field string (`Idempotency-Key: "8e03978e-..."`, RFC
 * 8941 §3.3.3); Stripe's clients send it bare. Both are taken: a value in double quotes is
 * unquoted (with its `\"` and `\\` escapes), anything else is the key as sent.
 */
function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  let out = '';
  for (let i = 1; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\') {
      const next = value[++i];
      if (next !== '"' && next !== '\\') throw invalid('Idempotency-Key: in a quoted key, a backslash may only escape " or \\');
      out += next;
    } else if (ch === '"') {
      if (i !== value.length - 1) throw invalid('Idempotency-Key: nothing may follow the closing quote');
      return out;
    } else {
      out += ch;
    }
  }
  throw invalid('Idempotency-Key: the quoted key has no closing quote');
}

/** The client's key, undefined without the header; a 400 for a malformed one. */
export function readIdempotencyKey(req: IncomingMessage): string | undefined {
  const values = req.headersDistinct[IDEMPOTENCY_HEADER];
  if (values === undefined) return undefined;
  // Two keys for one request cannot both be honoured (Node would join them with ", ").
  if (values.length > 1) throw invalid('send one Idempotency-Key header, not several');
  const key = unquote(values[0] ?? '');
  if (key === '') throw invalid('Idempotency-Key is empty; send a unique value per request, such as a UUID');
  if (key.length > IDEMPOTENCY_KEY_MAX) throw invalid(`Idempotency-Key is ${key.length} characters long; at most ${IDEMPOTENCY_KEY_MAX} are taken`);
  // Printable ASCII, as a Structured Field string allows: the bytes a proxy passes unchanged.
  if (!/^[\x20-\x7e]+$/.test(key)) throw invalid('Idempotency-Key may only hold printable ASCII characters (space to ~)');
  return key;
}

function digest(text: string): string {
  return sha256(text, 'base64url');
}

/** The key as the keeper holds it: the client's key under this route and this player only. */
export function scopedKey(route: string, player: string, key: string): string {
  return digest(JSON.stringify([route, normName(player), key]));
}

/** Whom the keeper counts a player's keys against: each player holds at most its share of them. */
export function keyOwner(player: string): string {
  return digest(JSON.stringify(['player', normName(player)]));
}

/** What makes two requests with one key "the same request": their validated inputs. */
export function requestFingerprint(inputs: readonly unknown[]): string {
  return digest(JSON.stringify(inputs));
}
