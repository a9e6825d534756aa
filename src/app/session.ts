// Stateless session tokens: `v1.<base64url(payload)>.<base64url(HMAC-SHA256)>`. Any worker on any
// host holding the same secret verifies them without shared state; expiry is inside the payload,
// and so is a fingerprint of the player's code at login, so that changing the code in the sheet
// ends the sessions it opened.

import { timingSafeEqual } from 'node:crypto';
import { createHmacSha256 } from './hmac-sha256.js';
import { sha256 } from './sha256.js';

export interface SessionClaims {
  /** The player's name as written in the sheet. */
  readonly sub: string;
  /** Issued at, epoch seconds. */
  readonly iat: number;
  /** Expires at, epoch seconds. */
  readonly exp: number;
  /**
   * Fingerprint of the player's code at login (codeFingerprint): absent from tokens issued before
   * there was one, which are taken until they expire.
   */
  readonly cfp?: string;
}

export interface Sessions {
  /** `codeDigest`: digestOf() the code the player logged in with, fingerprinted into the claims. */
  issue(player: string, nowMs?: number, codeDigest?: Buffer): { token: string; claims: SessionClaims };
  /** The claims of a valid, unexpired token, else undefined (never says why, to the client). */
  verify(token: string, nowMs?: number): SessionClaims | undefined;
  /**
   * The claims of a token this secret signed for a code (with a fingerprint) at most
   * `maxAgeSeconds` ago, expired or not, else undefined: a proof that its holder logged in then
   * (login-proof.ts), never a session.
   */
  verifyIssued(token: string, maxAgeSeconds: number, nowMs?: number): (SessionClaims & { readonly cfp: string }) | undefined;
  /**
   * Whether verified claims were issued for the code whose digest the roster holds now (undefined:
   * the player has no code). Claims with no fingerprint (issued before there was one) pass.
   */
  holdsCode(claims: SessionClaims, codeDigest: Buffer | undefined): boolean;
}

const PREFIX = 'v1';

/**
 * Bytes of the code's fingerprint kept in the claims: 96 bits, so that a new code keeps an old
 * session only by a 2^-96 chance, in 16 characters of every token.
 */
const FINGERPRINT_BYTES = 12;
const FINGERPRINT_CHARS = Math.ceil((FINGERPRINT_BYTES * 4) / 3);

/** What the fingerprint key is derived with, so that it never signs what a token's key signs. */
const FINGERPRINT_KEY_LABEL = 'corral session code fingerprint v1';

/** How far ahead of this host's clock a token's issue time may be: another host's clock, a little ahead. */
const ISSUED_AHEAD_SLACK_S = 300;

export function createSessions(secret: Buffer | string, ttlSeconds: number): Sessions {
  // Keyed once: the pads of the key are laid out here, and each signature is two one-shot hashes
  // (hmac-sha256.ts says why not createHmac(), about 10 µs of every login on a busy worker).
  const key = createHmacSha256(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
  const sign = (data: string) => key.bytes(data);
  const signText = (data: string) => key.text(data, 'base64url');
  // The token carries its claims in the clear (anyone holding it reads them), so the code is there
  // only as an HMAC under a key of the secret's: no one without the secret can test a guess of the
  // code against it, as they could against a plain hash of a short code.
  const fingerprintKey = createHmacSha256(key.bytes(FINGERPRINT_KEY_LABEL));
  // By digest object: a roster copy digests each code once (players.ts), so a token check costs a
  // lookup, not an HMAC.
  const fingerprints = new WeakMap<Buffer, Buffer>();
  // The claims' spelling of each, made once too: a login costs a lookup for its fingerprint.
  const fingerprintTexts = new WeakMap<Buffer, string>();
  const fingerprintTextOf = (codeDigest: Buffer): string => {
    let text = fingerprintTexts.get(codeDigest);
    if (text === undefined) {
      text = fingerprintOf(codeDigest).toString('base64url');
      fingerprintTexts.set(codeDigest, text);
    }
    return text;
  };
  const fingerprintOf = (codeDigest: Buffer): Buffer => {
    let fp = fingerprints.get(codeDigest);
    if (!fp) {
      fp = fingerprintKey.bytes(codeDigest).subarray(0, FINGERPRINT_BYTES);
      fingerprints.set(codeDigest, fp);
    }
    return fp;
  };
  /** The claims of a token this secret signed, in the shape issue() writes them, whatever its times. */
  const read = (token: string): SessionClaims | undefined => {
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
    if (c.cfp === undefined) return { sub: c.sub, iat: c.iat, exp: c.exp };
    if (typeof c.cfp !== 'string' || c.cfp.length !== FINGERPRINT_CHARS) return undefined;
    return { sub: c.sub, iat: c.iat, exp: c.exp, cfp: c.cfp };
  };
  return {
    issue(player, nowMs = Date.now(), codeDigest) {
      const iat = Math.floor(nowMs / 1000);
      const claims: SessionClaims = codeDigest
        ? { sub: player, iat, exp: iat + ttlSeconds, cfp: fingerprintTextOf(codeDigest) }
        : { sub: player, iat, exp: iat + ttlSeconds };
      const data = `${PREFIX}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return { token: `${data}.${signText(data)}`, claims };
    },
    verify(token, nowMs = Date.now()) {
      const c = read(token);
      if (!c) return undefined;
      const now = Math.floor(nowMs / 1000);
      if (now >= c.exp) return undefined;
      // Held to the TTL in force, not only to the expiry it was issued with: lowering
      // CORRAL_SESSION_TTL (a reload) left every token issued before valid for the old TTL. And
      // never from the future beyond a clock's slack between hosts.
      if (c.exp - c.iat > ttlSeconds || c.iat > now + ISSUED_AHEAD_SLACK_S) return undefined;
      return c;
    },
    verifyIssued(token, maxAgeSeconds, nowMs = Date.now()) {
      const c = read(token);
      // A token from before codes were fingerprinted cannot say whose code it was issued for.
      if (!c || c.cfp === undefined) return undefined;
      // Its expiry and the TTL it was issued with say how long it was a session, not when it was
      // issued: only its age counts here.
      const now = Math.floor(nowMs / 1000);
      if (now - c.iat > maxAgeSeconds || c.iat > now + ISSUED_AHEAD_SLACK_S) return undefined;
      return { sub: c.sub, iat: c.iat, exp: c.exp, cfp: c.cfp };
    },
    holdsCode(claims, codeDigest) {
      // Tokens issued before codes were fingerprinted: taken until they expire (CORRAL_SESSION_TTL
      // at most), so that upgrading logs no one out.
      if (claims.cfp === undefined) return true;
      // A code emptied in the sheet ends its sessions as a changed one does.
      if (!codeDigest) return false;
      const given = Buffer.from(claims.cfp, 'base64url');
      const expected = fingerprintOf(codeDigest);
      return given.length === expected.length && timingSafeEqual(given, expected);
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
