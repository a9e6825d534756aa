// Cached ranges shared by every host of one sheet through Redis (REDIS_URL): a range one host
// fetched from Google is read by the others from Redis until its TTL ends, and while one host
// fetches a range the others wait for its value instead of fetching it too (a claim with a
// deadline). So the hosts together read a range from Google about once per TTL, as one host does.
//
// Every call here is best-effort: Redis away, slow or holding something unreadable is a miss, and
// the tier then reads Google itself (read-tier.ts). Values are kept in Redis for TTL +
// SHEET_CACHE_MAX_STALE, so Redis holds no more than the hosts could serve.

import type { RedisLink } from '../../redis/link.js';

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

const FORMAT = 1;

export interface SharedRangesOptions {
  readonly link: RedisLink;
  /** Key prefix of this sheet's shared state (shared-keys.ts). */
  readonly prefix: string;
  /** How long Redis keeps a value: TTL + SHEET_CACHE_MAX_STALE. */
  readonly keepMs: number;
  /** How long a claim holds before another host may fetch the range (a holder that died). */
  readonly claimMs: number;
  readonly ownerId: string;
}

function isRows(v: unknown): v is string[][] {
  return Array.isArray(v) && v.every((row) => Array.isArray(row) && row.every((c) => typeof c === 'string'));
}

export class SharedRanges {
  private claimSeq = 0;

  constructor(private readonly o: SharedRangesOptions) {
    o.link.client.defineCommand('corralReleaseClaim', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  }

  private valueKey(range: string): string {
    return `${this.o.prefix}:range:${range}`;
  }

  private claimKey(range: string): string {
    return `${this.o.prefix}:fetching:${range}`;
  }

  /** The value another host (or this one) shared, or undefined: none, unreadable, or Redis away. */
  async get(range: string): Promise<SharedValue | undefined> {
    if (!this.o.link.usable) return undefined;
    try {
      const raw = await this.o.link.client.getBuffer(this.valueKey(range));
      this.o.link.commandAnswered();
      return raw ? this.parse(raw) : undefined;
    } catch (err) {
      this.o.link.commandFailed(err);
      return undefined;
    }
  }

  private parse(raw: Buffer): SharedValue | undefined {
    try {
      const v = JSON.parse(raw.toString('utf8')) as { v?: unknown; s?: unknown; f?: unknown; values?: unknown };
      if (v.v !== FORMAT || typeof v.s !== 'number' || typeof v.f !== 'number' || !isRows(v.values)) return undefined;
      return { values: v.values, fetchStartedAt: v.s, fetchedAt: v.f };
    } catch {
      return undefined;
    }
  }

  /** Shares a value this host fetched; `jsonBytes` are its rows as JSON, written as they are. */
  async put(range: string, jsonBytes: Buffer, fetchStartedAt: number, fetchedAt: number): Promise<void> {
    if (!this.o.link.usable) return;
    const payload = Buffer.concat([Buffer.from(`{"v":${FORMAT},"s":${fetchStartedAt},"f":${fetchedAt},"values":`), jsonBytes, Buffer.from('}')]);
    try {
      await this.o.link.client.set(this.valueKey(range), payload, 'PX', Math.max(1, Math.round(this.o.keepMs)));
    } catch (err) {
      // The other hosts then fetch it themselves: what they did without Redis.
      this.o.link.commandFailed(err);
    }
  }

  /**
   * Claims the range's fetch for this host: 'won' (fetch it, then release), 'held' (another host
   * fetches it now), or 'unavailable' (Redis away: fetch it alone).
   */
  async claim(range: string): Promise<{ readonly result: 'won'; readonly token: string } | { readonly result: 'held' | 'unavailable' }> {
    if (!this.o.link.usable) return { result: 'unavailable' };
    const token = `${this.o.ownerId}:${++this.claimSeq}`;
    try {
      const ok = await this.o.link.client.set(this.claimKey(range), token, 'PX', Math.max(1, Math.round(this.o.claimMs)), 'NX');
      return ok === 'OK' ? { result: 'won', token } : { result: 'held' };
    } catch (err) {
      this.o.link.commandFailed(err);
      return { result: 'unavailable' };
    }
  }

  /** Whether another host's claim on the range still holds (false when Redis is away). */
  async claimed(range: string): Promise<boolean> {
    if (!this.o.link.usable) return false;
    try {
      return (await this.o.link.client.exists(this.claimKey(range))) === 1;
    } catch (err) {
      this.o.link.commandFailed(err);
      return false;
    }
  }

  async release(range: string, token: string): Promise<void> {
    if (!this.o.link.usable) return;
    try {
      const client = this.o.link.client as unknown as { corralReleaseClaim(key: string, token: string): Promise<number> };
      await client.corralReleaseClaim(this.claimKey(range), token);
    } catch (err) {
      // It lapses by its deadline.
      this.o.link.commandFailed(err);
    }
  }
}
