// The emulator's side of OAuth: registered service accounts (public keys), the token endpoint's
// checks on the signed JWT (signature, aud, iat/exp, scope), issued access tokens, API keys.
// Refusals use the bodies Google's token endpoint sends, e.g.
// {"error":"invalid_grant","error_description":"Invalid JWT Signature."}

import { randomBytes, verify, type KeyObject } from 'node:crypto';
import { JWT_BEARER_GRANT, SCOPE_READONLY, SCOPE_READWRITE, type WireTokenError, type WireTokenResponse } from '../google/wire.js';

export class TokenError extends Error {
  constructor(
    readonly status: number,
    readonly body: WireTokenError,
  ) {
    super(`${body.error}: ${body.error_description ?? ''}`);
    this.name = 'TokenError';
  }
}

export interface IssuedToken {
  readonly email: string;
  readonly scopes: ReadonlySet<string>;
  readonly expiresAt: number;
}

const DRIVE_SCOPE = 'https://www.googleapis.com/auth/drive';
/** The scopes the values methods take ("Requires one of the following OAuth scopes", spreadsheets.values.get). */
const SHEETS_SCOPES: ReadonlySet<string> = new Set([SCOPE_READWRITE, SCOPE_READONLY, DRIVE_SCOPE, `${DRIVE_SCOPE}.readonly`, `${DRIVE_SCOPE}.file`]);
/**
 * Scopes the token endpoint grants besides those: Google's own that a service account commonly
 * asks (cloud-platform, what Application Default Credentials ask by default), which the token
 * endpoint takes and the Sheets API then refuses as insufficient (403), rather than invalid_scope.
 */
const OTHER_SCOPES = [
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/cloud-platform.read-only',
  'https://www.googleapis.com/auth/userinfo.email',
  'https://www.googleapis.com/auth/userinfo.profile',
  'openid',
  'email',
  'profile',
];
const KNOWN_SCOPES: ReadonlySet<string> = new Set([...SHEETS_SCOPES, ...OTHER_SCOPES]);
/** Google allows a little clock skew on iat; beyond that the JWT is "not in a reasonable timeframe". */
const ALLOWED_SKEW_S = 300;
/**
 * The longest assertion Google takes. Its JWT error table says the timeframe error "can also
 * happen if the exp value is more than 65 minutes in the future from the iat value"
 * (developers.google.com/identity/protocols/oauth2/service-account#error-codes): an hour is what
 * clients are told to ask, with five minutes of slack before the refusal.
 */
const MAX_ASSERTION_S = 65 * 60;
const TIMEFRAME =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';

function decodePart(part: string | undefined): Record<string, unknown> {
  if (!part) throw new TokenError(400, { error: 'invalid_grant', error_description: 'Invalid JWT: malformed token.' });
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new TokenError(400, { error: 'invalid_grant', error_description: 'Invalid JWT: malformed token.' });
  }
}

export class Accounts {
  readonly #keys = new Map<string, KeyObject>();
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #apiKeys = new Set<string>();
  readonly #now: () => number;
  /** Lifetime of issued tokens; Google's is 3599 s. */
  tokenLifetimeS: number;

  constructor(now: () => number, tokenLifetimeS = 3599) {
    this.#now = now;
    this.tokenLifetimeS = tokenLifetimeS;
  }

  register(email: string, publicKey: KeyObject): void {
    this.#keys.set(email, publicKey);
  }

  registerApiKey(key: string): void {
    this.#apiKeys.add(key);
  }

  hasApiKey(key: string): boolean {
    return this.#apiKeys.has(key);
  }

  /** Forget every issued access token (tests: "Google revoked the token"). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  /** Looks up a bearer token; undefined when unknown or expired. */
  lookup(token: string): IssuedToken | undefined {
    const t = this.#tokens.get(token);
    if (!t) return undefined;
    if (this.#now() >= t.expiresAt) {
      this.#tokens.delete(token);
      return undefined;
    }
    return t;
  }

  /** The token endpoint: form body in, token (or TokenError) out. `audiences`: the accepted `aud` values. */
  exchange(form: URLSearchParams, audiences: readonly string[]): WireTokenResponse {
    const grant = form.get('grant_type');
    if (grant !== JWT_BEARER_GRANT) {
      throw new TokenError(400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${grant ?? ''}` });
    }
    const assertion = form.get('assertion') ?? '';
    const parts = assertion.split('.');
    if (parts.length !== 3) throw new TokenError(400, { error: 'invalid_grant', error_description: 'Invalid JWT: malformed token.' });
    const [h, p, sig] = parts as [string, string, string];
    const header = decodePart(h);
    const claims = decodePart(p);
    if (header.alg !== 'RS256') throw new TokenError(400, { error: 'invalid_grant', error_description: 'Invalid JWT: only RS256 is accepted.' });
    const iss = typeof claims.iss === 'string' ? claims.iss : '';
    const publicKey = this.#keys.get(iss);
    if (!publicKey) throw new TokenError(400, { error: 'invalid_grant', error_description: 'Invalid grant: account not found' });
    const valid = verify('sha256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(sig, 'base64url'));
    if (!valid) throw new TokenError(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    if (typeof claims.aud !== 'string' || !audiences.includes(claims.aud)) {
      throw new TokenError(400, { error: 'invalid_grant', error_description: `Invalid JWT: Failed audience check. The right audience is ${audiences[0] ?? ''}` });
    }
    const now = Math.floor(this.#now() / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (!Number.isFinite(iat) || !Number.isFinite(exp) || exp - iat > MAX_ASSERTION_S || exp <= iat || exp <= now || iat > now + ALLOWED_SKEW_S) {
      throw new TokenError(400, { error: 'invalid_grant', error_description: TIMEFRAME });
    }
    const scopes = new Set(String(claims.scope ?? '').split(' ').filter(Boolean));
    if (scopes.size === 0 || [...scopes].some((s) => !KNOWN_SCOPES.has(s))) {
      throw new TokenError(400, { error: 'invalid_scope', error_description: 'Invalid OAuth scope or ID token audience provided.' });
    }
    const accessToken = `ya29.emu-${randomBytes(24).toString('base64url')}`;
    this.#tokens.set(accessToken, { email: iss, scopes, expiresAt: this.#now() + this.tokenLifetimeS * 1000 });
    this.#purge();
    return { access_token: accessToken, expires_in: this.tokenLifetimeS, token_type: 'Bearer' };
  }

  /**
   * May this token write? Needs a scope the write methods list ("Requires one of the following
   * OAuth scopes", spreadsheets.values.append): spreadsheets, drive or drive.file.
   */
  static canWrite(token: IssuedToken): boolean {
    return token.scopes.has(SCOPE_READWRITE) || token.scopes.has(DRIVE_SCOPE) || token.scopes.has(`${DRIVE_SCOPE}.file`);
  }

  /** May this token read values? Needs one of the scopes the values methods list. */
  static canRead(token: IssuedToken): boolean {
    return [...token.scopes].some((s) => SHEETS_SCOPES.has(s));
  }

  #purge(): void {
    if (this.#tokens.size < 1000) return;
    const now = this.#now();
    for (const [k, t] of this.#tokens) if (now >= t.expiresAt) this.#tokens.delete(k);
  }
}
