// HMAC-SHA256 (RFC 2104) over node's one-shot crypto.hash(), for the session tokens: one signed at
// every login, one checked on every request that carries a token.
//
// Why not createHmac(): each call makes a Hmac stream object and a native HMAC context (a digest
// looked up by name and fetched from OpenSSL's provider, a context allocated, a weak handle for
// the GC to free it), which cost 1.7 µs in a tight loop but about 12 µs of a login on a worker
// serving under load, where none of that machinery stays in the CPU's caches between requests.
// The construction itself is two plain hashes, H((K ^ opad) || H((K ^ ipad) || m)), and
// crypto.hash() does each in one call with no object left behind (0.9 µs for both in a loop).
// test/unit/hmac-sha256.test.ts holds it equal to createHmac() for keys and messages of every
// length class.

import { hash } from 'node:crypto';

/** SHA-256's block: keys are padded (or first hashed) to it. */
const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;
/** Messages up to this many bytes are laid after the inner pad in a buffer kept for it. */
const SCRATCH_MESSAGE_BYTES = 4096;

export interface HmacSha256 {
  /** The MAC of `message` (UTF-8), as text in `encoding`. */
  text(message: string, encoding: 'base64url' | 'hex' | 'base64'): string;
  /** The MAC of `message` (UTF-8 when a string), as bytes. */
  bytes(message: string | Buffer): Buffer;
}

export function createHmacSha256(key: Buffer): HmacSha256 {
  // RFC 2104 §2: a key longer than the block is hashed first; a shorter one is padded with zeros.
  const block = key.length > BLOCK_BYTES ? Buffer.from(hash('sha256', key, 'binary'), 'latin1') : key;
  const inner = Buffer.alloc(BLOCK_BYTES + SCRATCH_MESSAGE_BYTES);
  const outer = Buffer.alloc(BLOCK_BYTES + DIGEST_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i++) {
    const b = i < block.length ? (block[i] as number) : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  const innerPad = Buffer.from(inner.subarray(0, BLOCK_BYTES));
  /** The inner hash laid after the outer pad; returns the bytes the outer hash covers. */
  const outerInput = (message: string | Buffer): Buffer => {
    let innerInput: Buffer;
    if (typeof message === 'string' && message.length <= SCRATCH_MESSAGE_BYTES / 3) {
      // Three bytes at most per UTF-16 unit in UTF-8: the message fits the buffer whatever it holds.
      innerInput = inner.subarray(0, BLOCK_BYTES + inner.write(message, BLOCK_BYTES, 'utf8'));
    } else {
      innerInput = Buffer.concat([innerPad, typeof message === 'string' ? Buffer.from(message, 'utf8') : message]);
    }
    // As 'binary' (latin1) text, one byte per character: a Buffer answered by hash() gets a backing store of
    // its own, made outside the heap (sha256.ts says what that costs).
    outer.write(hash('sha256', innerInput, 'binary'), BLOCK_BYTES, 'latin1');
    return outer;
  };
  return {
    text: (message, encoding) => hash('sha256', outerInput(message), encoding),
    bytes: (message) => Buffer.from(hash('sha256', outerInput(message), 'binary'), 'latin1'),
  };
}
