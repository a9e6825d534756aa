// The Sheets quota shared by every host of one sheet through Redis (REDIS_URL). Google counts
// calls per minute per project and account, whatever host makes them: two hosts each keeping
// their own SHEETS_*_PER_MINUTE would together spend twice the quota. With a shared window, every
// upstream call, after its host's own bucket (quota.ts) granted it, also takes a slot in one
// sliding-window log in Redis, kept by a script that runs atomically on Redis's own clock (no
// host's clock counts): no 60 s window holds more than SHEETS_*_PER_MINUTE calls of all the hosts
// together.
//
// When Redis cannot be reached (or does not answer within its command timeout), a host spends
// only its share: the limit divided by the keepers Redis last counted (each registers itself at
// every grant, and counts while it made a call in the last two minutes). The grants made alone
// are written into the shared window once Redis answers again, backdated to when they were made,
// so the minute around the outage's end holds no more than the limit either.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CorralError } from '../../errors.js';
import type { RedisLink } from '../../redis/link.js';
import { sleepOn, systemClock, type Clock } from './clock.js';
import { QUOTA_WINDOW_MS, QuotaBucket } from './quota.js';

export type QuotaKind = 'read' | 'write';

// KEYS: the window's grants (sorted set scored by Redis's time in ms), the keepers seen (sorted
// set scored by their last grant). ARGV: limit, window ms, keeper id, grant id, then the ages (ms)
// of grants made while Redis was away. Returns {granted 0|1, ms until a slot frees, keepers}.
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 2 * window)
redis.call('PEXPIRE', KEYS[2], 2 * window)
local keepers = redis.call('ZCARD', KEYS[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
for i = 5, #ARGV do
  redis.call('ZADD', KEYS[1], now - tonumber(ARGV[i]), ARGV[3] .. ':' .. ARGV[4] .. ':alone:' .. i)
end
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3] .. ':' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0, keepers}
end
redis.call('PEXPIRE', KEYS[1], window)
local blocking = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return {0, math.max(1, tonumber(blocking[2]) + window - now), keepers}
`;

/** Longest single wait before asking Redis again (a slot may free sooner: another host's grant expired). */
const MAX_WAIT_MS = 1000;

export interface SharedQuotaOptions {
  readonly link: RedisLink;
  /** Key prefix of this sheet's shared state (keys.ts). */
  readonly prefix: string;
  readonly perMinute: Readonly<Record<QuotaKind, number>>;
  readonly clock?: Clock;
}

interface KindState {
  readonly kind: QuotaKind;
  readonly key: string;
  readonly perMinute: number;
  /** Times (this host's clock) of grants made while Redis was away, not yet written to it. */
  alone: number[];
  /** This host's share while Redis is away; made at an outage's first call, dropped when it ends. */
  fallback: QuotaBucket | undefined;
}

export class SharedQuota {
  private readonly clock: Clock;
  /** Unique per keeper, not only per host and pid: a grant's member in the window must not repeat. */
  private readonly keeperId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly keepersKey: string;
  private readonly kinds: Record<QuotaKind, KindState>;
  /** Keepers Redis counted at the last answer (1 until it answered once: the whole limit). */
  private keepers = 1;
  private grantSeq = 0;
  private closed = false;
  private counts = { shared: 0, alone: 0, waits: 0 };

  constructor(private readonly o: SharedQuotaOptions) {
    this.clock = o.clock ?? systemClock;
    this.keepersKey = `${o.prefix}:keepers`;
    const state = (kind: QuotaKind): KindState => ({ kind, key: `${o.prefix}:quota:${kind}s`, perMinute: o.perMinute[kind], alone: [], fallback: undefined });
    this.kinds = { read: state('read'), write: state('write') };
    o.link.client.defineCommand('corralTakeQuota', { numberOfKeys: 2, lua: TAKE_SCRIPT });
  }

  /**
   * Resolves once the call may leave: a slot of the shared window, or (Redis away) of this host's
   * share. Rejects only when `signal` aborts or the quota is closed.
   */
  async take(kind: QuotaKind, signal?: AbortSignal): Promise<void> {
    const st = this.kinds[kind];
    for (;;) {
      if (this.closed) throw new CorralError('CORRAL_ERR_QUEUE_FULL', `shared sheets ${kind} quota is closed`);
      signal?.throwIfAborted();
      let answer: [number, number, number] | undefined;
      if (this.o.link.usable) {
        try {
          answer = await this.ask(st);
          this.o.link.commandAnswered();
        } catch (err) {
          // Unreachable, too slow, or refused: said in the log; this call goes on alone.
          this.o.link.commandFailed(err);
        }
      }
      if (!answer) return this.takeAlone(st, signal);
      const [granted, waitMs, keepers] = answer;
      this.keepers = Math.max(1, keepers);
      st.fallback = undefined;
      if (granted === 1) {
        this.counts.shared++;
        return;
      }
      this.counts.waits++;
      await sleepOn(this.clock, Math.min(MAX_WAIT_MS, Math.max(1, waitMs)), signal);
    }
  }

  private async ask(st: KindState): Promise<[number, number, number]> {
    const now = this.clock.now();
    const ages = st.alone.map((t) => now - t).filter((age) => age >= 0 && age < QUOTA_WINDOW_MS);
    const sent = st.alone.length;
    const client = this.o.link.client as unknown as { corralTakeQuota(...args: (string | number)[]): Promise<[number, number, number]> };
    const answer = await client.corralTakeQuota(`${st.key}`, this.keepersKey, st.perMinute, QUOTA_WINDOW_MS, this.keeperId, ++this.grantSeq, ...ages);
    // Written: only grants made alone since the call left stay to be sent.
    st.alone = st.alone.slice(sent);
    return answer;
  }

  private async takeAlone(st: KindState, signal?: AbortSignal): Promise<void> {
    // The share is fixed for the outage: the count of keepers is Redis's, and Redis is away.
    st.fallback ??= new QuotaBucket({ name: `sheets ${st.kind}s (this host's share while Redis is away)`, perMinute: Math.max(1, Math.floor(st.perMinute / this.keepers)), maxQueue: Number.MAX_SAFE_INTEGER, clock: this.clock });
    await st.fallback.acquire(signal);
    st.alone.push(this.clock.now());
    this.counts.alone++;
  }

  /** Calls granted through Redis, alone, and waits for a shared slot; and the keepers last counted. */
  figures(): Record<string, number> {
    return { sharedQuotaGrants: this.counts.shared, aloneQuotaGrants: this.counts.alone, sharedQuotaWaits: this.counts.waits, sharedKeepers: this.keepers };
  }

  /** Idempotent. Waiters for a share are refused; the link is closed by its owner. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const st of Object.values(this.kinds)) st.fallback?.close();
  }
}
