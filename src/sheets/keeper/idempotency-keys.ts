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
//
// A key may name its owner (the app: a hash of the player). No owner holds more than `maxPerOwner`
// keys: past that, the owner's own oldest key is forgotten (counted in `ownerEvicted`), not anyone
// else's. Otherwise the host-wide cap is a shared pool that one player sending many keys drains,
// pushing out other players' keys before their retention; with the share, that takes more than
// max / maxPerOwner players.

import { CorralError } from '../../errors.js';
import type { IdempotencyClaim } from '../types.js';
import type { JournalRecord } from './journal-file.js';
import { appendInvalid } from './journal-rows.js';

export type { IdempotencyClaim };

/** Longest key and fingerprint, and answer, the keeper stores (callers send hashes and a short JSON). */
export const MAX_KEY_CHARS = 256;
export const MAX_ANSWER_CHARS = 1024;

interface HeldKey extends IdempotencyClaim {
  /**
   * When the first request was journaled (the keeper's clock; the wall clock's in the file, moved
   * by journal-wall-time.ts as records are written and read): the retention counts from it.
   */
  readonly at: number;
  /** False while the add record carrying the key is not yet fsynced. */
  durable: boolean;
  /** Replaced by the one copy all the owner's keys share once held (hold()). */
  owner?: string;
}

export interface IdempotencyKeysOptions {
  readonly ttlMs: number;
  readonly max: number;
  /** Most keys one owner holds (default: no share, only `max`). */
  readonly maxPerOwner?: number;
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
  if (typeof raw !== 'object' || Array.isArray(raw)) throw appendInvalid('idempotency must be an object {key, fingerprint, answer, owner?}');
  const claim = { key: text('key', MAX_KEY_CHARS), fingerprint: text('fingerprint', MAX_KEY_CHARS), answer: text('answer', MAX_ANSWER_CHARS) };
  return c.owner === undefined ? claim : { ...claim, owner: text('owner', MAX_KEY_CHARS) };
}

export class IdempotencyKeys {
  /** key → held key, oldest first (insertion order is journaling order). */
  private readonly keys = new Map<string, HeldKey>();
  /** owner → its name (shared by its keys) and the keys it holds, oldest first. */
  private readonly owners = new Map<string, { readonly owner: string; readonly keys: Set<string> }>();
  /** Keys forgotten before their time because the cap was reached, since start. */
  evicted = 0;
  /** Keys forgotten before their time because their owner held its share, since start. */
  ownerEvicted = 0;

  constructor(private readonly o: IdempotencyKeysOptions) {}

  get size(): number {
    return this.keys.size;
  }

  /**
   * Keys held at `now`, those past their retention dropped first: expiry otherwise runs only with
   * a keyed append or a compaction, and the figures counted a key a day old until the next one.
   */
  count(now: number): number {
    this.expire(now);
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

  /** Whether the key is held for this same request (its fingerprint) and its record is still being written. */
  inFlightWith(claim: IdempotencyClaim): boolean {
    const held = this.keys.get(claim.key);
    return held !== undefined && !held.durable && held.fingerprint === claim.fingerprint;
  }

  /**
   * Holds a key whose record is being written (lookup() answers "in flight" until settle()). The
   * cap and the owner's share are enforced once it is durable (settle()), not here: a write the
   * disk refused (ENOSPC, EIO) releases the key, and each such refusal, and each retry of it every
   * Retry-After, pushed out one held key (the owner's oldest, or the host's) for a request that
   * was never acknowledged, and said idempotency.keys_evicted ("raise the cap") for a full disk.
   */
  reserve(claim: IdempotencyClaim, at: number): void {
    this.hold({ key: claim.key, fingerprint: claim.fingerprint, answer: claim.answer, ...(claim.owner !== undefined ? { owner: claim.owner } : {}), at, durable: false });
  }

  settle(key: string): void {
    const held = this.keys.get(key);
    if (!held || held.durable) return;
    held.durable = true;
    const mine = held.owner === undefined ? undefined : this.owners.get(held.owner);
    if (mine) this.enforceShare(mine.keys);
    this.enforceCap();
  }

  /** The record carrying the key could not be written: the request was not acknowledged. */
  release(key: string): void {
    const held = this.keys.get(key);
    if (held?.durable === false) this.drop(held);
  }

  /** Keys the journal's records hold (add records with `ik`, and `key` records), the last of each key in file order, held oldest first. */
  restore(records: readonly JournalRecord[], now: number): void {
    const before = now - this.o.ttlMs;
    // The last record of each key in file order (a key forgotten and used again is journaled again).
    const found = new Map<string, HeldKey>();
    for (const rec of records) {
      const raw = rec.k === 'key' ? rec : rec.k === 'add' ? rec.ik : undefined;
      if (typeof raw !== 'object' || raw === null) continue;
      const r = raw as Record<string, unknown>;
      const at = Number(rec.at);
      if (typeof r.key !== 'string' || typeof r.fp !== 'string' || typeof r.ans !== 'string' || !Number.isFinite(at)) continue;
      found.delete(r.key);
      // Past its retention: not held at all. Held and expired after, it took a place in its owner's
      // share first, and the owner's live keys it pushed out were counted as evicted by the share.
      if (at < before) continue;
      // A time ahead of this keeper's clock (the wall clock stepped back since it was written: it
      // ran fast, NTP set it right at boot) counts from now: never later than the keys this keeper
      // journals next.
      found.set(r.key, { key: r.key, fingerprint: r.fp, answer: r.ans, ...(typeof r.own === 'string' ? { owner: r.own } : {}), at: Math.min(at, now), durable: true });
    }
    // Held oldest first, as expire() and the cap need: the file's order is not the times' after a
    // step of the wall clock (records written before it read as later than those written after),
    // and expire() stops at the first key it keeps, so one key dated ahead kept every later key
    // held past its retention, replayed to a retry that should be a new event, and counted.
    for (const h of [...found.values()].sort((a, b) => a.at - b.at)) {
      this.hold(h);
      if (h.owner !== undefined) {
        const mine = this.owners.get(h.owner);
        if (mine) this.enforceShare(mine.keys);
      }
    }
    this.expire(now);
    this.enforceCap();
  }

  /** The `ik` field of an add record carrying `claim`. */
  static field(claim: IdempotencyClaim): { key: string; fp: string; ans: string; own?: string } {
    return { key: claim.key, fp: claim.fingerprint, ans: claim.answer, ...(claim.owner !== undefined ? { own: claim.owner } : {}) };
  }

  /** One `key` record per held durable key, for a compaction (the add records carry none). */
  snapshot(now: number): JournalRecord[] {
    this.expire(now);
    const out: JournalRecord[] = [];
    for (const h of this.keys.values()) if (h.durable) out.push({ k: 'key', ...IdempotencyKeys.field(h), at: h.at });
    return out;
  }

  /** Drops keys past their retention, oldest first (it stops at the first one still kept). */
  private expire(now: number): void {
    const before = now - this.o.ttlMs;
    for (const h of this.keys.values()) {
      if (h.at >= before) break;
      if (h.durable) this.drop(h);
    }
  }

  /** Holds `h` as the newest key (of all, and of its owner), in place of any held with its name. */
  private hold(h: HeldKey): void {
    const old = this.keys.get(h.key);
    if (old) this.drop(old);
    this.keys.set(h.key, h);
    if (h.owner === undefined) return;
    let mine = this.owners.get(h.owner);
    if (!mine) {
      mine = { owner: h.owner, keys: new Set() };
      this.owners.set(h.owner, mine);
    }
    // Every key of an owner holds the one copy of its name (a 43-character hash each request
    // computes anew): about 13 % of a held key's memory.
    h.owner = mine.owner;
    mine.keys.add(h.key);
  }

  private drop(h: HeldKey): void {
    this.keys.delete(h.key);
    if (h.owner === undefined) return;
    const mine = this.owners.get(h.owner);
    mine?.keys.delete(h.key);
    if (mine?.keys.size === 0) this.owners.delete(h.owner);
  }

  /** An owner over its share loses its own oldest durable keys. */
  private enforceShare(mine: Set<string>): void {
    const share = this.o.maxPerOwner;
    if (share === undefined || mine.size <= share) return;
    for (const key of mine) {
      if (mine.size <= share) break;
      const h = this.keys.get(key);
      // A key in flight stays, as under the cap.
      if (!h?.durable) continue;
      this.drop(h);
      this.ownerEvicted++;
    }
  }

  private enforceCap(): void {
    if (this.keys.size <= this.o.max) return;
    for (const h of this.keys.values()) {
      if (this.keys.size <= this.o.max) break;
      // A key in flight stays: its request has no answer yet to give back, and will settle soon.
      if (!h.durable) continue;
      this.drop(h);
      this.evicted++;
    }
  }
}
