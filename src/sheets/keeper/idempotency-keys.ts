// Idempotency keys of appends: an append may carry a key (scoped by the caller: the app hashes the
// player with the client's Idempotency-Key header), a fingerprint of the request it stands for,
// and the answer that request got. A later append with the same key is answered from here instead
// of being journaled again: the same answer for the same fingerprint, a refusal for another.
//
// Keys outlive the rows they came with: rows leave the journal minutes after Google has them, a
// key stays `ttlMs` (the IETF draft and Stripe keep keys 24 h). A key is written in its row's add
// record (one line, so no crash can keep the row without its key) and, once its entry is gone, as
// a `key` record of its own at each compaction. At most `max` keys are held: beyond that the
// oldest is forgotten early (counted in `evicted`), and a retry of it would be a new request.

import { CorralError } from '../../errors.js';
import type { IdempotencyClaim } from '../types.js';
import type { JournalRecord } from './journal-file.js';
import { appendInvalid } from './journal-rows.js';

export type { IdempotencyClaim };

/** Longest key and fingerprint, and answer, the keeper stores (callers send hashes and a short JSON). */
export const MAX_KEY_CHARS = 256;
export const MAX_ANSWER_CHARS = 1024;

interface HeldKey extends IdempotencyClaim {
  /** When the first request was journaled (keeper clock, wall-clock ms): the retention counts from it. */
  readonly at: number;
  /** False while the add record carrying the key is not yet fsynced. */
  durable: boolean;
}

export interface IdempotencyKeysOptions {
  readonly ttlMs: number;
  readonly max: number;
}

/** Checks the wire shape of a claim; undefined when the append carries none. */
export function validateClaim(raw: unknown): IdempotencyClaim | undefined {
  if (raw === undefined || raw === null) return undefined;
  const c = raw as Record<string, unknown>;
  const text = (name: string, max: number): string => {
    const v = c[name];
    if (typeof v !== 'string' || v === '' || v.length > max) throw appendInvalid(`idempotency.${name} must be a string of 1 to ${max} characters`);
    return v;
  };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw appendInvalid('idempotency must be an object {key, fingerprint, answer}');
  return { key: text('key', MAX_KEY_CHARS), fingerprint: text('fingerprint', MAX_KEY_CHARS), answer: text('answer', MAX_ANSWER_CHARS) };
}

export class IdempotencyKeys {
  /** key → held key, oldest first (insertion order is journaling order). */
  private readonly keys = new Map<string, HeldKey>();
  /** Keys forgotten before their time because the cap was reached, since start. */
  evicted = 0;

  constructor(private readonly o: IdempotencyKeysOptions) {}

  get size(): number {
    return this.keys.size;
  }

  /**
   * The answer to give back when the key is held with the same fingerprint; undefined for a key
   * not held (a new request). Throws for another fingerprint, and while the first request's record
   * is still being written (its outcome is not known yet).
   */
  lookup(claim: IdempotencyClaim, now: number): string | undefined {
    this.expire(now);
    const held = this.keys.get(claim.key);
    if (!held) return undefined;
    if (held.fingerprint !== claim.fingerprint) {
      throw new CorralError('CORRAL_ERR_IDEMPOTENCY_MISMATCH', 'this idempotency key was used for a different request');
    }
    if (!held.durable) throw new CorralError('CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT', 'a request with this idempotency key is still being journaled');
    return held.answer;
  }

  /** Holds a key whose record is being written (lookup() answers "in flight" until settle()). */
  reserve(claim: IdempotencyClaim, at: number): void {
    this.keys.set(claim.key, { key: claim.key, fingerprint: claim.fingerprint, answer: claim.answer, at, durable: false });
    this.enforceCap();
  }

  settle(key: string): void {
    const held = this.keys.get(key);
    if (held) held.durable = true;
  }

  /** The record carrying the key could not be written: the request was not acknowledged. */
  release(key: string): void {
    if (this.keys.get(key)?.durable === false) this.keys.delete(key);
  }

  /** Keys the journal's records hold (add records with `ik`, and `key` records), in file order. */
  restore(records: readonly JournalRecord[], now: number): void {
    for (const rec of records) {
      const raw = rec.k === 'key' ? rec : rec.k === 'add' ? rec.ik : undefined;
      if (typeof raw !== 'object' || raw === null) continue;
      const r = raw as Record<string, unknown>;
      const at = Number(rec.at);
      if (typeof r.key !== 'string' || typeof r.fp !== 'string' || typeof r.ans !== 'string' || !Number.isFinite(at)) continue;
      this.keys.delete(r.key);
      this.keys.set(r.key, { key: r.key, fingerprint: r.fp, answer: r.ans, at, durable: true });
    }
    this.expire(now);
    this.enforceCap();
  }

  /** The `ik` field of an add record carrying `claim`. */
  static field(claim: IdempotencyClaim): { key: string; fp: string; ans: string } {
    return { key: claim.key, fp: claim.fingerprint, ans: claim.answer };
  }

  /** One `key` record per held durable key, for a compaction (the add records carry none). */
  snapshot(now: number): JournalRecord[] {
    this.expire(now);
    const out: JournalRecord[] = [];
    for (const h of this.keys.values()) if (h.durable) out.push({ k: 'key', key: h.key, fp: h.fingerprint, ans: h.answer, at: h.at });
    return out;
  }

  /** Drops keys past their retention, oldest first (it stops at the first one still kept). */
  private expire(now: number): void {
    const before = now - this.o.ttlMs;
    for (const h of this.keys.values()) {
      if (h.at >= before) break;
      if (h.durable) this.keys.delete(h.key);
    }
  }

  private enforceCap(): void {
    if (this.keys.size <= this.o.max) return;
    for (const h of this.keys.values()) {
      if (this.keys.size <= this.o.max) break;
      // A key in flight stays: its request has no answer yet to give back, and will settle soon.
      if (!h.durable) continue;
      this.keys.delete(h.key);
      this.evicted++;
    }
  }
}
