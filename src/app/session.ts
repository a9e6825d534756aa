// Stateless session tokens: `v1.<base64url(payload)>.<base64url(HMAC-SHA256)>`. Any worker on any
// host holding the same secret verifies them without shared state; expiry is inside the payload.

import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { sha256 } from './sha256.js';

export interface SessionClaims {
  /** The player's name as written in the sheet. */
  readonly sub: string;
  /** Issued at, epoch seconds. */
  readonly iat: number;
  /** Expires at, epoch seconds. */
  readonly exp: number;
}

export interface Sessions {
  issue(player: string, nowMs?: number): { token: string; claims: SessionClaims };
  /** The claims of a valid, unexpired token, else undefined (never says why, to the client). */
  verify(token: string, nowMs?: number): SessionClaims | undefined;
}

const PREFIX = 'v1';

/** How far ahead of this host's clock a token's issue time may be: another host's clock, a little ahead. */
const ISSUED_AHEAD_SLACK_S = 300;

export function createSessions(secret: Buffer | string, ttlSeconds: number): Sessions {
  // A KeyObject made once: createHmac() with raw key bytes imports them again on every call, about
  // 2 µs of every login and every token check (5.2 against 3.4 µs per signature here).
  const key = createSecretKey(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
  const sign = (data: string) => createHmac('sha256', key).update(data).digest();
  return {
    issue(player, nowMs = Date.now()) {
      const iat = Math.floor(nowMs / 1000);
      const claims: SessionClaims = { sub: player, iat, exp: iat + ttlSeconds };
      const data = `${PREFIX}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return { token: `${data}.${sign(data).toString('base64url')}`, claims };
    },
    verify(token, nowMs = Date.now()) {
      const parts = token.split('.');
      if (parts.length !== 3 || parts[0] !== PREFIX) return undefined;
      const data = `${parts[0]}.${parts[1]}`;
      const signature = parts[2] ?? '';
      const given = Buffer.from(signature, 'base64url');
      // Node's base64url decoder skips characters outside the alphabet (`=`, `%`) and ignores the
      // unused low bits of the last character, so `<token>=` and three other spellings of the
      // signature decoded to the same bytes and were accepted: only the canonical one is a token.
      if (given.toString('base64url') !== signature) return undefined;
      const expected = sign(data);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      let claims: unknown;
      try {
        claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
      } catch {
        return undefined;
      }
      // Claims that are not an object (`null`) or an expiry no Date can hold (`1e300`, which
      // GET /api/me turned into a 500 writing expires_at) are no session: only whole seconds
      // within Date's range, as issue() writes them, are.
      if (typeof claims !== 'object' || claims === null) return undefined;
      const c = claims as Partial<SessionClaims>;
      if (typeof c.sub !== 'string' || !isEpochSeconds(c.exp) || !isEpochSeconds(c.iat)) return undefined;
      const now = Math.floor(nowMs / 1000);
      if (now >= c.exp) return undefined;
      // Held to the TTL in force, not only to the expiry it was issued with: lowering
      // CORRAL_SESSION_TTL (a reload) left every token issued before valid for the old TTL. And
      // never from the future beyond a clock's slack between hosts.
      if (c.exp - c.iat > ttlSeconds || c.iat > now + ISSUED_AHEAD_SLACK_S) return undefined;
      return { sub: c.sub, iat: c.iat, exp: c.exp };
    },
  };
}

/** Date's range (±8.64e15 ms), in whole seconds. */
const EPOCH_SECONDS_MAX = 8.64e12;

function isEpochSeconds(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= EPOCH_SECONDS_MAX;
}

/** SHA-256 of a string: equal-length values to compare in constant time, whatever the inputs' lengths. */
export function digestOf(s: string): Buffer {
  return sha256(s);
}

/** Constant-time string equality (hashing first so lengths leak nothing either). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digestOf(a), digestOf(b));
}
