// Failed logins per player name, CORRAL_LOGIN_FAILURES_PER_NAME per 15 minutes, shared by every
// worker of the host through the same host counters as the per-IP rate limit (the host's shared
// table; in this process outside a corral worker). The per-IP limit alone lets a guesser with many addresses
// try every code of one player; this one counts the failures of the name, whoever sends them.
//
// - The name is counted as the login lookup compares it (players.ts normName: NFC, trimmed,
//   lowercase), so `ALICE martin ` is Alice Martin's count.
// - Only roster names are counted (routes/auth.ts settles only those): a name not in the roster
//   always answers 401 and is never counted. Counting made-up names would let a flood of random
//   names fill the master with counters (and timers) for 15 minutes each; counting roster names
//   only keeps them to one per player. Telling the two apart hides nothing: GET /api/players lists
//   every roster name without a token.
// - Once the name has had its failures in its window, every login for it answers 429 with
//   Retry-After, a correct code included: otherwise a 200 among the 429s would still tell a guesser
//   which code is right. The name's window starts at its first failure and lasts 15 minutes.
// - A correct code neither counts nor resets the count: the count is the name's, not a client's, so
//   a reset would hand every guesser a fresh budget each time the real player logs in.
// - The name is never logged nor kept as typed: keys and the `login.locked` log line carry a hash
//   of the normalized name (attacker-chosen text, and a person's name when it is real).

import type { CounterHit, CounterOptions, HostCounters } from '../contract.js';
import type { Logger } from '../log/logger.js';
import { HttpError } from './http.js';
import { normName } from './players.js';
import { sha256 } from './sha256.js';
import { RepeatedFailure } from '../log/repeated-failure.js';

export const LOGIN_FAILURE_WINDOW_SECONDS = 900;
const WINDOW: CounterOptions = { windowSeconds: LOGIN_FAILURE_WINDOW_SECONDS };
/** This limit's keys on the host counters: no client address (the per-IP limit's keys) starts so. */
const KEY_PREFIX = 'login-name:';

export interface LoginLimit {
  readonly failures: number;
  /**
   * Settles a login whose code was checked: a failure (`ok` false) is counted against the name; a
   * correct code only reads the name's count. Throws the 429 once the name has had `failures`
   * failures in its window, whatever the code. Otherwise returns, also when the counters do not
   * answer (the login then goes on as if unlimited, as the per-IP limit does).
   */
  settle(name: string, ok: boolean): Promise<void>;
}

export interface LoginLimitOptions {
  /** Failed logins per name per window; 0 = off. */
  readonly failures: number;
  readonly logger: Logger;
  /** The host's counters; undefined outside a corral worker, and then counted in this process. */
  readonly hostCounters: HostCounters | undefined;
}

/** What logs and counter keys say instead of a name: 32 hex digits of the SHA-256 of its normalized form. */
export function nameHash(name: string): string {
  return sha256(normName(name), 'hex').slice(0, 32);
}

export function loginLocked(retryAfterSeconds: number): HttpError {
  return new HttpError(429, 'login_locked', `too many failed logins for this name; retry in ${retryAfterSeconds} s`, {
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });
}

/** Undefined when the limit is off. */
export async function createLoginLimit(options: LoginLimitOptions): Promise<LoginLimit | undefined> {
  const { failures, logger } = options;
  if (failures <= 0) return undefined;
  const counters = options.hostCounters ?? (await import('../window-counters.js')).createWindowCounters();
  // Failing open is said at the first failure, then at most once a minute with the count.
  const unavailable = new RepeatedFailure();
  return {
    failures,
    async settle(name, ok) {
      const hash = nameHash(name);
      const key = KEY_PREFIX + hash;
      let hit: CounterHit;
      try {
        // Answered at once from the shared table. A name counted in the master (the table had no
        // room for it): a peek and a hit asked in one turn go in one message and settle together,
        // in order (worker/counter-client.ts), so a burst of guesses at a locked name gets all its
        // 429s at once, the correct code's among them, not apart from the others.
        hit = ok ? await counters.peek(key, failures, WINDOW) : await counters.hit(key, failures, WINDOW);
      } catch (err) {
        unavailable.failed((logins) =>
          logger.warn(
            { event: 'ratelimit.unavailable', counter: 'login_failures', err: (err as Error).message, logins },
            'failed-login counter did not answer; letting logins through',
          ),
        );
        return;
      }
      unavailable.ended((logins) =>
        logger.info({ event: 'ratelimit.recovered', counter: 'login_failures', logins }, `failed-login counter answers again; ${logins} logins went through unchecked`),
      );
      const retryAfter = Math.max(1, Math.ceil(hit.msBeforeReset / 1000));
      // The failure that used up the name's budget: once per name and window on the whole host
      // (each hit is counted alone, by one compare-and-swap in the table or in turn in the master). It still gets its 401; the next login gets 429.
      if (!ok && hit.allowed && hit.remaining === 0) {
        logger.warn(
          { event: 'login.locked', name_hash: hash, failures, window_s: LOGIN_FAILURE_WINDOW_SECONDS, retry_after_s: retryAfter },
          'too many failed logins for one name: its logins answer 429 until its window ends',
        );
      }
      if (!hit.allowed) throw loginLocked(retryAfter);
    },
  };
}
