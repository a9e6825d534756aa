// The RS256 JWT a service account signs to ask Google's token endpoint for an access token
// (OAuth 2.0 JWT bearer grant, RFC 7523). Signed with node:crypto; no JWT library needed.
// https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests

import { sign, type KeyObject } from 'node:crypto';

export interface JwtClaims {
  /** The service account's client_email. */
  readonly iss: string;
  /** Space-separated scopes. */
  readonly scope: string;
  /** The token endpoint (the key's token_uri). */
  readonly aud: string;
  /** Issued-at, seconds since the epoch. */
  readonly iat: number;
  /** Expiry, seconds since the epoch; Google refuses more than one hour after iat. */
  readonly exp: number;
}

/** Google accepts assertions valid for at most an hour. */
export const MAX_ASSERTION_LIFETIME_S = 3600;

export function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export function signJwt(claims: JwtClaims, privateKey: KeyObject, keyId?: string): string {
  if (claims.exp - claims.iat > MAX_ASSERTION_LIFETIME_S) throw new RangeError('JWT lifetime may not exceed 3600 s');
  const header = { alg: 'RS256', typ: 'JWT', ...(keyId ? { kid: keyId } : {}) };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(signingInput), privateKey);
  return `${signingInput}.${base64url(signature)}`;
}
