// Failed logins per player name counted by every host of one sheet through Redis (REDIS_URL), for
// the bundled app's limit per name (app/login-limit.ts): counted in each host's memory alone, a
// guesser spreading its tries over H hosts got H times CORRAL_LOGIN_FAILURES_PER_NAME per window.
//
// The keeper alone holds the Redis link, so the workers ask it (POST /login on its socket). Like
// the other shared parts this is best-effort: Redis away, paused after a failed command, or slow
// is "unavailable", and the worker then decides by its host's count alone. Keys carry the name's
// hash as the worker sent it (32 hex digits), never a name; a login sending the proof of an
// earlier login is counted under the proof's hash instead (app/login-proof.ts), a hash of other
// text, so never a name's.

import type { RedisLink } from '../../redis/link.js';

// KEYS: the name's count. ARGV: '1' to count a failure ('0' to read only), the window in ms.
// A failure that starts the count starts its window, which then runs to its end whatever follows
// (as the host's count does: the window starts at the name's first failure). Returns {count, ms
// left in the window (0 without one)}.
const SETTLE_SCRIPT = `
local n
if ARGV[1] == '1' then
  n = redis.call('INCR', KEYS[1])
  if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
else
  n = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then left = 0 end
return {n, left}
`;

/** A name's failures in its window, all hosts together, and the ms left in that window. */
export interface LoginCount {
  readonly failures: number;
  readonly msLeft: number;
}

export interface SharedLoginsOptions {
  readonly link: RedisLink;
  /** Key prefix of this sheet's shared state (shared-keys.ts). */
  readonly prefix: string;
}

export class SharedLogins {
  constructor(private readonly o: SharedLoginsOptions) {
    o.link.client.defineCommand('corralSettleLogin', { numberOfKeys: 1, lua: SETTLE_SCRIPT });
  }

  /** The name's key: the hash the worker sent, under the sheet's prefix. */
  key(nameHash: string): string {
    return `${this.o.prefix}:login:${nameHash}`;
  }

  /**
   * Counts a failure of the name (`failed`), or only reads its count; undefined when Redis cannot
   * answer now (the caller's host count alone decides).
   */
  async settle(nameHash: string, failed: boolean, windowMs: number): Promise<LoginCount | undefined> {
    if (!this.o.link.usable) return undefined;
    try {
      const client = this.o.link.client as unknown as { corralSettleLogin(key: string, failed: string, windowMs: number): Promise<[number, number]> };
      const [failures, msLeft] = await client.corralSettleLogin(this.key(nameHash), failed ? '1' : '0', windowMs);
      // A count only read says nothing of a Redis that refuses writes (memory full): not its end.
      this.o.link.scriptAnswered(failed, failed ? 'login failure' : 'login read');
      return { failures, msLeft };
    } catch (err) {
      this.o.link.commandFailed(err, failed ? 'login failure' : 'login read');
      return undefined;
    }
  }
}
