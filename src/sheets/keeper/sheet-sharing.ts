// What a keeper shares with the other hosts of its sheet through Redis (REDIS_URL): the quota
// window (shared-quota.ts), the cached ranges (shared-ranges.ts) and the failed logins per name
// (shared-logins.ts), over one link (redis/link.ts), under the sheet's key prefix (shared-keys.ts).
// Only for a Google sheet: the offline sheet is each host's own file, and there is nothing to share.

import { hostname } from 'node:os';
import type { Settings } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import type { RedisLink } from '../../redis/link.js';
import type { SheetsBackend } from '../backend.js';
import type { Clock } from './clock.js';
import { LOGIN_COUNT_WAIT_MS, type WireLoginCount } from './protocol.js';
import { sharedPrefix } from './shared-keys.js';
import { SharedLogins } from './shared-logins.js';
import { SharedQuota, type QuotaMemory } from './shared-quota.js';
import { SharedRanges } from './shared-ranges.js';

export type SharingSettings = Pick<Settings, 'REDIS_URL' | 'REDIS_TLS_CA_FILE' | 'SHEET_CACHE_TTL' | 'SHEET_CACHE_MAX_STALE' | 'SHEETS_READS_PER_MINUTE' | 'SHEETS_WRITES_PER_MINUTE' | 'SHEETS_TIMEOUT'>;

export class SheetSharing {
  private constructor(
    private readonly link: RedisLink,
    readonly quota: SharedQuota,
    readonly ranges: SharedRanges,
    private readonly logins: SharedLogins,
  ) {}

  /**
   * The sharing of this keeper's sheet, or undefined (no REDIS_URL, or not a Google sheet). Waits
   * for Redis up to its connect timeout: not a condition of starting (Redis away, this host goes on
   * alone), but the keeper's first reads can then take what the other hosts hold.
   */
  static async open(s: SharingSettings, backend: SheetsBackend, logger: Logger, o: QuotaMemory & { readonly clock?: Clock } = {}): Promise<SheetSharing | undefined> {
    if (s.REDIS_URL === undefined || backend.kind !== 'google') return undefined;
    // Loaded only with REDIS_URL: a keeper without it does not pay for ioredis.
    const [{ RedisLink }, { CONNECT_TIMEOUT_MS }] = await Promise.all([import('../../redis/link.js'), import('../../redis/link-options.js')]);
    const link = new RedisLink({ url: s.REDIS_URL, tlsCaFile: s.REDIS_TLS_CA_FILE, logger });
    const prefix = sharedPrefix(backend.source);
    const sharing = new SheetSharing(
      link,
      new SharedQuota({ link, prefix, perMinute: { read: s.SHEETS_READS_PER_MINUTE, write: s.SHEETS_WRITES_PER_MINUTE }, logger, ...o }),
      new SharedRanges({ link, prefix, keepMs: (s.SHEET_CACHE_TTL + s.SHEET_CACHE_MAX_STALE) * 1000, claimMs: s.SHEETS_TIMEOUT * 1000, ownerId: `${hostname()}:${process.pid}`, logger }),
      new SharedLogins({ link, prefix }),
    );
    await link.whenReady(CONNECT_TIMEOUT_MS);
    return sharing;
  }

  /** Where it is shared: the Redis URL without its password. */
  get target(): string {
    return this.link.target;
  }

  /** A name's failed logins counted by all the sheet's hosts, a failure (`failed`) counted first. */
  async settleLogin(nameHash: string, failed: boolean, windowMs: number): Promise<WireLoginCount> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), LOGIN_COUNT_WAIT_MS);
    });
    try {
      const count = await Promise.race([this.logins.settle(nameHash, failed, windowMs), late]);
      if (count === 'late') return { shared: false, reason: `redis ${this.link.target} did not answer within ${LOGIN_COUNT_WAIT_MS} ms` };
      if (!count) {
        // Redis answering but refusing the keeper is no outage: said as what it refuses, as
        // `corral status` and redis.misconfigured say it, not as Redis away.
        const refused = this.link.refusedKind;
        if (refused !== undefined) return { shared: false, refused, reason: `redis ${this.link.target} refuses the keeper (${refused}: see redis.misconfigured for the fix)` };
        return { shared: false, reason: `redis ${this.link.target} unavailable` };
      }
      return { shared: true, failures: count.failures, msLeft: count.msLeft };
    } finally {
      clearTimeout(timer);
    }
  }

  figures(): Record<string, number | boolean | string | null> {
    // redisRefused: what Redis refuses (refusal.ts), null while it refuses nothing; a host that
    // does not share because of it is told apart from one whose Redis is away.
    return { redisConnected: this.link.sharing, redisRefused: this.link.refusedKind ?? null, ...this.quota.figures() };
  }

  /** Idempotent. */
  async close(): Promise<void> {
    this.quota.close();
    await this.link.close();
  }
}
