// The Redis settings, judged past their own values: REDIS_URL as a connection target (the parse
// the keeper's client makes of it), REDIS_TLS_CA_FILE only with TLS and as a CA file that can be
// read, REDIS_URL without SHEET_ID, which shares nothing, and without CORRAL_SESSION_SECRET, which
// leaves each host signing sessions the others refuse.

import { resolve } from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { readRedisCa } from '../redis/tls-ca.js';
import { redisTarget, redisUrlWarnings } from '../redis/url.js';
import { schema, type SettingName } from './schema.js';
import { shownRaw } from './shown-value.js';
import type { SettingSpec } from './spec.js';

/**
 * Judges the Redis settings in `out`: each problem is given to `refuse` (a refusal, or a warning
 * for a command that does not need them), each warning to `warn`, in the order they are found.
 * `readFiles`: LoadOptions.readFiles (the CA file read and parsed).
 */
export function redisChecks(
  out: Readonly<Record<string, unknown>>,
  { where, readFiles, cwd, refuse, warn }: { where: (name: SettingName) => string; readFiles: boolean; cwd: string; refuse: (p: ConfigProblem) => void; warn: (...texts: string[]) => void },
): void {
  if (typeof out.REDIS_URL === 'string') {
    warn(...redisUrlWarnings(out.REDIS_URL));
    try {
      redisTarget(out.REDIS_URL);
    } catch (err) {
      refuse({ name: 'REDIS_URL', value: shownRaw(schema.REDIS_URL as SettingSpec<unknown>, out.REDIS_URL), source: where('REDIS_URL'), allowed: (err as Error).message });
    }
    // Each host's offline sheet is its own file: there is nothing to share, and sharing its ranges
    // would serve one host's rows from another's file.
    if (out.SHEET_ID === undefined) warn('REDIS_URL has no effect without SHEET_ID: the offline sheet is this host\'s own, its quota and cache are not shared');
    // Hosts that share a sheet serve the same users: a session signed with a secret generated in
    // one host's data dir is refused (401) by every other, so a failover or a balancer without
    // affinity logs each user out. Said where it is read, as the README's "set alike" list is not.
    else if (out.CORRAL_SESSION_SECRET === undefined) {
      warn('REDIS_URL shares this host\'s sheet with other hosts, but CORRAL_SESSION_SECRET is unset: each host signs sessions with a secret generated in its own CORRAL_DATA_DIR, and refuses (401) the tokens of the others, so a user whose requests reach another host is logged out; set CORRAL_SESSION_SECRET to the same value (at least 32 characters) on every host');
    }
  }
  if (typeof out.REDIS_TLS_CA_FILE === 'string') {
    const source = where('REDIS_TLS_CA_FILE');
    const path = resolve(cwd, out.REDIS_TLS_CA_FILE);
    if (typeof out.REDIS_URL !== 'string' || !out.REDIS_URL.startsWith('rediss://')) {
      // Set for TLS, with a URL that would send the password in the clear: refused, not ignored.
      refuse({ name: 'REDIS_TLS_CA_FILE', value: out.REDIS_TLS_CA_FILE, source, allowed: 'set only with a rediss:// REDIS_URL (TLS): write REDIS_URL=rediss://host:port, or unset REDIS_TLS_CA_FILE' });
    } else if (readFiles) {
      try {
        readRedisCa(path);
      } catch (err) {
        refuse({ name: 'REDIS_TLS_CA_FILE', value: out.REDIS_TLS_CA_FILE, source, allowed: (err as Error).message });
      }
    }
  }
}
