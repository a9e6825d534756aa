// SHA-256 of a string, as the hot routes need it (every login, every event with an
// Idempotency-Key). The one-shot crypto.hash() (Node >= 20.12) costs about a third of a Hash
// object per call here (0.5 against 1.7 µs for a short name); older Nodes get the Hash object.
//
// The bytes are asked for as a latin1 ('binary') string and copied into a Buffer here: a Buffer returned by
// crypto.hash() itself gets a backing store of its own, made outside the heap, and cost 1.0 µs
// per digest against 0.5 µs so (Node 20, a 4-character code), on every login's code check.

import crypto, { createHash, type BinaryToTextEncoding } from 'node:crypto';

const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

export function sha256(s: string): Buffer;
export function sha256(s: string, encoding: BinaryToTextEncoding): string;
export function sha256(s: string, encoding?: BinaryToTextEncoding): Buffer | string {
  if (encoding === undefined) return oneShot ? Buffer.from(oneShot('sha256', s, 'binary'), 'latin1') : createHash('sha256').update(s).digest();
  return oneShot ? oneShot('sha256', s, encoding) : createHash('sha256').update(s).digest(encoding);
}
