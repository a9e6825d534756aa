import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createHmacSha256 } from '../../src/app/hmac-sha256.js';
import { createSessions, digestOf } from '../../src/app/session.js';

/** Keys around SHA-256's 64-byte block: empty, short, at it, past it (hashed first), long. */
const KEY_LENGTHS = [0, 1, 32, 63, 64, 65, 100, 300];

/** Messages around the lengths the implementation treats apart, and text beyond ASCII. */
const MESSAGES: string[] = [
  '',
  'v1.eyJzdWIiOiJBbGljZSBNYXJ0aW4iLCJpYXQiOjE3NjQ1MzA0MDAsImV4cCI6MTc2NDU3MzYwMH0',
  'é'.repeat(1365), // 2 bytes each, at the longest laid in the kept buffer
  'x'.repeat(1366), // the first length given to Buffer.concat
  '😀'.repeat(700), // surrogate pairs: 4 bytes per 2 units
  '\ud800 lone surrogate', // encoded as U+FFFD, as createHmac's update() encodes it
  'a'.repeat(20000),
];

describe('HMAC-SHA256 over one-shot hashes', () => {
  it('equals createHmac() for keys and messages of every length class, as text and as bytes', () => {
    for (const keyLength of KEY_LENGTHS) {
      const key = randomBytes(keyLength);
      const mac = createHmacSha256(key);
      for (const message of MESSAGES) {
        const expected = createHmac('sha256', key).update(message, 'utf8').digest();
        const what = `key of ${keyLength} bytes, message of ${message.length} units`;
        assert.equal(mac.text(message, 'base64url'), expected.toString('base64url'), what);
        assert.equal(mac.text(message, 'hex'), expected.toString('hex'), what);
        assert.deepEqual(mac.bytes(message), expected, what);
        assert.deepEqual(mac.bytes(Buffer.from(message, 'utf8')), expected, what);
      }
    }
  });

  it('answers each message on its own: a long message after a short one, and the reverse, leave nothing behind', () => {
    const key = randomBytes(32);
    const mac = createHmacSha256(key);
    const order = ['short', 'y'.repeat(1000), 'short', '', 'z'.repeat(5000), 'short'];
    for (const message of order) assert.equal(mac.text(message, 'base64'), createHmac('sha256', key).update(message).digest('base64'));
  });

  it('keeps the bytes it answered when asked again: each answer is a Buffer of its own', () => {
    const mac = createHmacSha256(randomBytes(32));
    const first = mac.bytes('one');
    const copy = Buffer.from(first);
    mac.bytes('two');
    assert.deepEqual(first, copy);
  });

  it('signs session tokens and code fingerprints as createHmac() did, so tokens issued before still verify', () => {
    const secret = 'q'.repeat(48);
    const now = Date.UTC(2026, 10, 30, 12);
    const digest = digestOf('P001');
    const { token, claims } = createSessions(secret, 3600).issue('Chloé Dubois', now, digest);
    // The fingerprint key and the fingerprint, derived with createHmac() as the tokens already issued were.
    const fingerprintKey = createHmac('sha256', secret).update('corral session code fingerprint v1').digest();
    assert.equal(claims.cfp, createHmac('sha256', fingerprintKey).update(digest).digest().subarray(0, 12).toString('base64url'));
    const [v, payload, signature] = token.split('.') as [string, string, string];
    assert.equal(signature, createHmac('sha256', secret).update(`${v}.${payload}`).digest('base64url'));
    // And a token signed by createHmac() is one it verifies.
    const data = `v1.${Buffer.from(JSON.stringify({ sub: 'Chloé Dubois', iat: now / 1000, exp: now / 1000 + 60, cfp: claims.cfp })).toString('base64url')}`;
    const foreign = `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`;
    assert.equal(createSessions(secret, 3600).verify(foreign, now)?.sub, 'Chloé Dubois');
  });
});
