// The proof of an earlier login that POST /api/login takes in `token`: the session token a client
// was issued by a successful login for the same player (OWASP's "device cookie" against lockout
// by failed logins). The failed-login limit per name lets anyone lock a player out with wrong
// codes; a client holding a proof is judged instead by the proof's own count (login-limit.ts
// settleProof), which a guesser without that token cannot touch.
//
// A token is a proof when this secret signed it, it was issued at most PROOF_MAX_AGE_SECONDS ago
// (expired or not), its player is the login's (as logins compare names), and the code it was
// issued for is the roster's code now. Anything else is no proof, and the login is judged as one
// without a token: the answer never says why a token was not taken.

import { sha256 } from './sha256.js';
import { codeDigestOf, findPlayer, normName } from './players.js';
import type { Sessions } from './session.js';
import type { SheetRecords } from '../sheets/types.js';

/**
 * 30 days, CORRAL_SESSION_TTL's largest value: a token still valid as a session is always a proof,
 * and a player who comes back within a month after the session ended keeps their client's own
 * count. Longer would let a token copied off a client long ago buy a thief fresh tries of its own
 * for longer; a code changed in the sheet ends its proofs sooner anyway.
 */
export const PROOF_MAX_AGE_SECONDS = 30 * 86_400;

/**
 * What keys and logs say instead of a proof: 32 hex digits of the SHA-256 of its signature (the
 * token's last part, one spelling per token), never the token, which is a session while unexpired.
 */
export function proofHash(token: string): string {
  return sha256(`login proof ${token.slice(token.lastIndexOf('.') + 1)}`, 'hex').slice(0, 32);
}

/**
 * The proof's hash when `token` proves an earlier login of the roster player named `name`, else
 * undefined.
 */
export function loginProof(sessions: Sessions, token: string, sheet: SheetRecords, name: string, nowMs = Date.now()): string | undefined {
  const claims = sessions.verifyIssued(token, PROOF_MAX_AGE_SECONDS, nowMs);
  if (!claims) return undefined;
  const norm = normName(name);
  if (normName(claims.sub) !== norm) return undefined;
  const record = findPlayer(sheet, norm);
  if (!record || !sessions.holdsCode(claims, codeDigestOf(sheet, record))) return undefined;
  return proofHash(token);
}
