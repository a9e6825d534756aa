// Cached ranges shared by every host of one sheet through Redis (REDIS_URL): a range one host
// fetched from Google is read by the others from Redis until its TTL ends, and while one host
// fetches a range the others wait for its value instead of fetching it too (a claim with a
// deadline). So the hosts together read a range from Google about once per TTL, as one host does.
//
// Every call here is best-effort: Redis away, slow or holding something unreadable is a miss, and
// the tier then reads Google itself (read-tier.ts). Values are kept in Redis for TTL +
// SHEET_CACHE_MAX_STALE, so Redis holds no more than the hosts could serve.
//
// A range larger than SHARED_VALUE_MAX_BYTES as JSON is not shared: in its place goes a small
// marker that tells the other hosts to read it from Google themselves, at once, instead of waiting
// on a claim for a value that will not come. Such a value would cost every host a large read per
// TTL, block Redis (one thread) while it copies it, and could outlast the 1 s command timeout on a
// slow link: a timeout pauses all sharing, the quota's included (redis/link.ts).
//
// Nothing is looked up, claimed or put while the link does not share (link.sharing): a host that
// Redis refuses (a user without scripts) acts alone, as with Redis away. Its plain GET and SET
// would work, but a claim it could not release (a script) held the others off for the whole
// claim, its value never put (the quota's refused script had paused the link), and it took the
// others' copies while its figures said it shared nothing.

import type { Logger } from '../../log/logger.js';
import type { RedisLink } from '../../redis/link.js';
import { RangeMemory } from './range-memory.js';

/** A range's value as a host fetched it; times in that host's clock (ms). */
export interface SharedValue {
  readonly values: readonly (readonly string[])[];
  readonly fetchStartedAt: number;
  readonly fetchedAt: number;
}

// Deletes the claim only if it is still ours (a claim past its deadline may be another's now).
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// Extends the claim only if it is still ours (a claim past its deadline may be another's now).
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

const FORMAT = 1;

/** The largest range, as JSON, that a host shares: about 40,000 rows of 100 bytes. */
export const SHARED_VALUE_MAX_BYTES = 4 * 1024 * 1024;

/** What another host left for a range: its value, or word that it is too large to be shared. */
export type SharedLookup = ({ readonly kind: 'value' } & SharedValue) | { readonly kind: 'too-large'; readonly bytes: number };

export interface SharedRangesOptions {
  readonly link: RedisLink;
  /** Key prefix of this sheet's shared state (shared-keys.ts). */
  readonly prefix: string;
  /** How long Redis keeps a value: TTL + SHEET_CACHE_MAX_STALE. */
  readonly keepMs: number;
  /** How long a claim holds before another host may fetch the range (a holder that died). */
  readonly claimMs: number;
  readonly ownerId: string;
  readonly logger: Logger;
  /** Defaults to SHARED_VALUE_MAX_BYTES. */
  readonly maxValueBytes?: number;
}

function isRows(v: unknown): v is string[][] {
  return Array.isArray(v) && v.every((row) => Array.isArray(row) && row.every((c) => typeof c === 'string'));
}

export class SharedRanges {
  private claimSeq = 0;
  private readonly saidTooLarge = new RangeMemory();

  constructor(private readonly o: SharedRangesOptions) {
    o.link.client.defineCommand('corralReleaseClaim', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    o.link.client.defineCommand('corralRenewClaim', { numberOfKeys: 1, lua: RENEW_SCRIPT });
  }

  private valueKey(range: string): string {
    return `${this.o.prefix}:range:${range}`;
  }

  private claimKey(range: string): string {
    return `${this.o.prefix}:fetching:${range}`;
  }

  /** What another host (or this one) shared, or undefined: nothing, unreadable, or Redis away. */
  async get(range: string): Promise<SharedLookup | undefined> {
    if (!this.o.link.sharing) return undefined;
    try {
      const raw = await this.o.link.client.getBuffer(this.valueKey(range));
      this.o.link.commandAnswered();
      return raw ? this.parse(raw) : undefined;
    } catch (err) {
      this.o.link.commandFailed(err);
      return undefined;
    }
  }

  private parse(raw: Buffer): SharedLookup | undefined {
    try {
      const v = JSON.parse(raw.toString('utf8')) as { v?: unknown; s?: unknown; f?: unknown; values?: unknown; tooLarge?: unknown };
      if (v.v !== FORMAT) return undefined;
      if (typeof v.tooLarge === 'number') return { kind: 'too-large', bytes: v.tooLarge };
      if (typeof v.s !== 'number' || typeof v.f !== 'number' || !isRows(v.values)) return undefined;
      return { kind: 'value', values: v.values, fetchStartedAt: v.s, fetchedAt: v.f };
    } catch {
      return undefined;
    }
  }

  /**
   * Shares a value this host fetched; `jsonBytes` are its rows as JSON, written as they are, or,
   * past the size bound, the marker that has the other hosts read the range themselves.
   */
  async put(range: string, jsonBytes: Buffer, fetchStartedAt: number, fetchedAt: number): Promise<void> {
    if (!this.o.link.sharing) return;
    const max = this.o.maxValueBytes ?? SHARED_VALUE_MAX_BYTES;
    const payload =
      jsonBytes.length > max
        ? this.tooLarge(range, jsonBytes.length, max)
        : Buffer.concat([Buffer.from(`{"v":${FORMAT},"s":${fetchStartedAt},"f":${fetchedAt},"values":`), jsonBytes, Buffer.from('}')]);
    try {
      await this.o.link.client.set(this.valueKey(range), payload, 'PX', Math.max(1, Math.round(this.o.keepMs)));
    } catch (err) {
      // The other hosts then fetch it themselves: what they did without Redis.
      this.o.link.commandFailed(err);
    }
  }

  private tooLarge(range: string, bytes: number, max: number): Buffer {
    if (this.saidTooLarge.add(range)) {
      const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
      this.o.logger.info(
        { event: 'sheets.shared_range_too_large', range, bytes, max_bytes: max },
        `sheets: range ${range} is ${mb(bytes)} as JSON, more than the ${mb(max)} a host shares through Redis: every host reads it from Google itself (the quota stays shared)`,
      );
    }
    return Buffer.from(JSON.stringify({ v: FORMAT, tooLarge: bytes }));
  }

  /**
   * Claims the range's fetch for this host: 'won' (fetch it, then release), 'held' (another host
   * fetches it now), or 'unavailable' (Redis away or refusing: fetch it alone).
   */
  async claim(range: string): Promise<{ readonly result: 'won'; readonly token: string } | { readonly result: 'held' | 'unavailable' }> {
    if (!this.o.link.sharing) return { result: 'unavailable' };
    const token = `${this.o.ownerId}:${++this.claimSeq}`;
    try {
      const ok = await this.o.link.client.set(this.claimKey(range), token, 'PX', this.claimPx, 'NX');
      return ok === 'OK' ? { result: 'won', token } : { result: 'held' };
    } catch (err) {
      this.o.link.commandFailed(err);
      return { result: 'unavailable' };
    }
  }

  /** Whether another host's claim on the range still holds (false when Redis is away). */
  async claimed(range: string): Promise<boolean> {
    if (!this.o.link.sharing) return false;
    try {
      return (await this.o.link.client.exists(this.claimKey(range))) === 1;
    } catch (err) {
      this.o.link.commandFailed(err);
      return false;
    }
  }

  /**
   * How often a host holding a claim renews it while its fetch goes on: a third of the claim, so
   * one renewal late or lost leaves it held.
   */
  get renewEveryMs(): number {
    return Math.max(1, Math.round(this.o.claimMs / 3));
  }

  /** The claim's life in whole milliseconds, as PX and PEXPIRE take it. */
  private get claimPx(): number {
    return Math.max(1, Math.round(this.o.claimMs));
  }

  /**
   * Extends our claim by claimMs while our fetch goes on (it may wait a minute for a slot of the
   * shared quota window). Only by its holder: a dead host's claim still lapses within claimMs.
   */
  async renew(range: string, token: string): Promise<void> {
    if (!this.o.link.sharing) return;
    try {
      const client = this.o.link.client as unknown as { corralRenewClaim(key: string, token: string, ms: number): Promise<number> };
      await client.corralRenewClaim(this.claimKey(range), token, this.claimPx);
      this.o.link.scriptAnswered(false);
    } catch (err) {
      // It lapses by its deadline, and the others fetch the range themselves then.
      this.o.link.commandFailed(err);
    }
  }

  async release(range: string, token: string): Promise<void> {
    if (!this.o.link.sharing) return;
    try {
      const client = this.o.link.client as unknown as { corralReleaseClaim(key: string, token: string): Promise<number> };
      await client.corralReleaseClaim(this.claimKey(range), token);
      // A delete, which a Redis refusing writes (memory full) still takes: it does not end that.
      this.o.link.scriptAnswered(false);
    } catch (err) {
      // It lapses by its deadline.
      this.o.link.commandFailed(err);
    }
  }
}
