import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { sha256 } from '../../src/app/sha256.js';

describe('sha256', () => {
  it('gives the bytes and the encodings a Hash object gives, for ASCII and non-ASCII text', () => {
    for (const text of ['', 'alice martin', 'Zoë Ünal 🎯', 'x'.repeat(10_000)]) {
      const expected = createHash('sha256').update(text).digest();
      assert.deepEqual(sha256(text), expected);
      assert.equal(sha256(text, 'hex'), expected.toString('hex'));
      assert.equal(sha256(text, 'base64url'), expected.toString('base64url'));
    }
  });
});
