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
// - With REDIS_URL and a Google sheet, the failures are also counted by all the sheet's hosts
//   together, in Redis through the keeper (sheets/keeper/shared-logins.ts): counted per host only,
//   a guesser spreading its tries over H hosts got H times the limit. The host's count goes on as
//   before, and the larger of the two decides. The shared count is asked at each settle, in
//   parallel with the host's, and waited for SHARED_WAIT_MS at most: a login never waits long on
//   Redis or the keeper, and when they do not answer the host's count decides alone.
// - A login that sends the proof of an earlier login for the player (login-proof.ts) is judged by
//   the proof's own count instead (settleProof), under the same rules: the name's lock does not
//   apply to it, and its failures count against the proof, not the name. The name's count alone
//   let anyone lock a player out with wrong codes; a guesser cannot touch the count of a token it
//   does not hold, and a thief holding one gets that token's tries, not the name's. Proofs are
//   counted by hash too (login-proof.ts proofHash), on the host and, shared, in Redis, where a
//   proof's hash and a name's are of different texts and so never meet.

import type { Settings } from '../config/schema.js';
import type { CounterHit, CounterOptions, HostCounters } from '../contract.js';
import { COUNTER_TABLE_MAX_LIMIT } from '../counter-table.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { LOGIN_COUNT_WAIT_MS } from '../sheets/keeper/protocol.js';
import { HttpError } from './http.js';
import { normName } from './players.js';
import { sha256 } from './sha256.js';
import { RepeatedFailure } from '../log/repeated-failure.js';
import type { SharedLoginCount, SheetsClient } from '../sheets/types.js';

export const LOGIN_FAILURE_WINDOW_SECONDS = 900;
const WINDOW: CounterOptions = { windowSeconds: LOGIN_FAILURE_WINDOW_SECONDS };
/**
 * The limit the host counters count a name under, whatever CORRAL_LOGIN_FAILURES_PER_NAME is (at
 * most 10^6, below this): they keep one count per limit, so counting under the setting made a
 * reload that changed it start every name afresh, a locked one unlocked at once (an operator who
 * lowered it against a guesser handed the guesser a new budget for every name), and during the
 * reload the two generations counted apart. The name's count is read from `remaining` and judged
 * here, as the shared count is.
 */
const COUNTER_LIMIT = COUNTER_TABLE_MAX_LIMIT;
/** What is counted: a name, or a proof of an earlier login; its keys, its lock's line and its 429. */
interface CountOf {
  /** Its counts' keys on the host counters: no client address (the per-IP limit's keys) starts so. */
  readonly keyPrefix: string;
  /**
   * Keys that mark its window as said locked, one per count and window: the first failure at or
   * past the limit to count one (limit 1: the only hit allowed) says it.
   */
  readonly lockedPrefix: string;
  readonly event: 'login.locked' | 'login.proof_locked';
  /** The field of the lock's line that carries the hash. */
  readonly hashField: 'name_hash' | 'proof_hash';
  /** Whose failed logins, in the lock's line. */
  readonly whose: string;
  /** Whose failed logins, in the 429's message. */
  readonly forWhom: string;
}

const NAME: CountOf = {
  keyPrefix: 'login-name:',
  lockedPrefix: 'login-locked:',
  event: 'login.locked',
  hashField: 'name_hash',
  whose: 'for one name',
  forWhom: 'for this name',
};

const PROOF: CountOf = {
  keyPrefix: 'login-proof:',
  lockedPrefix: 'login-proof-locked:',
  event: 'login.proof_locked',
  hashField: 'proof_hash',
  whose: "sent with one client's proof of an earlier login",
  forWhom: 'with this proof of an earlier login',
};
/**
 * Longest wait for the count shared by the sheet's hosts before the host's count decides alone.
 * The keeper answers from Redis in about a millisecond; longer means it or Redis is stuck. A
 * stuck Redis the keeper says itself, after LOGIN_COUNT_WAIT_MS; this waits for that answer too.
 */
export const SHARED_WAIT_MS = LOGIN_COUNT_WAIT_MS + 50;

export interface LoginLimit {
  readonly failures: number;
  /**
   * Settles a login whose code was checked: a failure (`ok` false) is counted against the name; a
   * correct code only reads the name's count. Throws the 429 once the name has had `failures`
   * failures in its window, whatever the code. Otherwise returns, also when the counters do not
   * answer (the login then goes on as if unlimited, as the per-IP limit does).
   */
  settle(name: string, ok: boolean): Promise<void>;
  /**
   * Settles a login that sent the proof of an earlier login whose hash is `proofHash`
   * (login-proof.ts), as settle() does a name, against the proof's own count: the name's is
   * neither read nor counted.
   */
  settleProof(proofHash: string, ok: boolean): Promise<void>;
}

export interface LoginLimitOptions {
  /** Failed logins per name per window; 0 = off. */
  readonly failures: number;
  readonly logger: Logger;
  /** The host's counters; undefined outside a corral worker, and then counted in this process. */
  readonly hostCounters: HostCounters | undefined;
  /**
   * The Sheets client whose keeper keeps the count shared by the sheet's hosts, when the limit is
   * shared (sharedAcrossHosts); undefined: this host's count alone, and nothing asked of the keeper.
   */
  readonly shared?: (() => SheetsClient | undefined) | undefined;
}

/** Whether the limit counts with the sheet's other hosts: the keeper shares it with REDIS_URL and a Google sheet. */
export function sharedAcrossHosts(settings: Pick<Settings, 'REDIS_URL' | 'SHEET_ID'>): boolean {
  return settings.REDIS_URL !== undefined && Boolean(settings.SHEET_ID);
}

/** What logs and counter keys say instead of a name: 32 hex digits of the SHA-256 of its normalized form. */
export function nameHash(name: string): string {
  return hashOfNormalized(normName(name));
}

/** nameHash of a name already normalized (normName). */
function hashOfNormalized(norm: string): string {
  return sha256(norm, 'hex').slice(0, 32);
}

/**
 * Hashes kept by normalized name, so that a roster name's logins hash it once (0.45 µs of each
 * login, in a tight loop). Only roster names are settled (routes/auth.ts), so this holds at most
 * the roster's names, which are public; the bound only keeps another caller of settle() from
 * growing it without end.
 */
const NAME_HASHES_KEPT = 10_000;

export function loginLocked(retryAfterSeconds: number, of: CountOf = NAME): HttpError {
  return new HttpError('login_locked', `too many failed logins ${of.forWhom}; retry in ${retryAfterSeconds} s`, {
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
  const sharedDown = new RepeatedFailure();
  const sheets = options.shared;
  const windowMs = LOGIN_FAILURE_WINDOW_SECONDS * 1000;
  const hashes = new Map<string, string>();
  const hashOf = (name: string): string => {
    const norm = normName(name);
    let hash = hashes.get(norm);
    if (hash === undefined) {
      if (hashes.size >= NAME_HASHES_KEPT) hashes.clear();
      hash = hashOfNormalized(norm);
      hashes.set(norm, hash);
    }
    return hash;
  };

  /** The count all the sheet's hosts share, or undefined (said) when it cannot be had in time. */
  const askShared = async (hash: string, failed: boolean): Promise<SharedLoginCount | undefined> => {
    try {
      const client = sheets?.();
      if (!client?.settleLogin) throw new Error('no Sheets client with a shared login count in this worker');
      const count = await client.settleLogin(hash, failed, windowMs, SHARED_WAIT_MS);
      sharedDown.ended((logins) =>
        logger.info({ event: 'login_limit.shared_recovered', logins }, `the failed-login count shared with the other hosts answers again; ${logins} logins were judged by this host's count alone`),
      );
      return count;
    } catch (err) {
      sharedDown.failed((logins) => {
        const d = describeError(err);
        logger.warn(
          { event: 'login_limit.shared_unavailable', code: d.code ?? null, err: d.message, logins },
          `the failed-login count shared with the other hosts ${d.code === 'CORRAL_ERR_REDIS_REFUSED' ? 'is refused by Redis (see redis.misconfigured)' : 'did not answer'}: ${d.message}; this host's count alone decides`,
        );
      });
      return undefined;
    }
  };

  /**
   * Whether this failure, at or past the limit on this host, is the one to say the name locked.
   * Not only the failure whose count equals the limit: a reload that lowers the limit below a
   * name's count locks it with no failure ever counted at the new limit, and the lock went unsaid
   * for that window. So each failure at or past the limit counts one hit of a key naming the
   * name's window (limit 1), and the one hit allowed says it, on whichever worker, whatever the
   * limit was when the count passed it. The window is named by its end on the host's monotonic
   * clock, in 15-minute units: a name's windows end at least 15 minutes apart, so each has its
   * own key, and every worker names it alike unless they read its end on either side of a unit's
   * boundary (their readings differ by the time the count took to reach them, a millisecond or
   * a few: then both say it, about once in a million windows). `reaching`: this failure's count is
   * the limit, which says it as before when the mark cannot be counted.
   */
  const claimLockedLine = async (of: CountOf, hash: string, hit: CounterHit, reaching: boolean): Promise<boolean> => {
    const end = monotonicMs() + hit.msBeforeReset;
    const key = `${of.lockedPrefix}${hash}:${Math.floor(end / windowMs)}`;
    try {
      return (await counters.hit(key, 1, WINDOW)).allowed;
    } catch {
      // Said by the ratelimit.unavailable line of the name's own count when the counters fail.
      return reaching;
    }
  };

  /**
   * Settles a login against one count, a name's or a proof's, by its hash: the comments below say
   * the name's, and a proof's is counted, judged and said alike.
   */
  const settleCount = async (of: CountOf, hash: string, ok: boolean): Promise<void> => {
    const key = of.keyPrefix + hash;
    // Asked first: the keeper's round trip runs while the host's count is taken.
    const sharedCount = sheets ? askShared(hash, !ok) : undefined;
    let hit: CounterHit | undefined;
    try {
      // Answered at once from the shared table. A name counted in the master (the table had no
      // room for it): a peek and a hit asked in one turn go in one message and settle together,
      // in order (worker/counter-client.ts), so a burst of guesses at a locked name gets all its
      // 429s at once, the correct code's among them, not apart from the others.
      hit = ok ? await counters.peek(key, COUNTER_LIMIT, WINDOW) : await counters.hit(key, COUNTER_LIMIT, WINDOW);
    } catch (err) {
      unavailable.failed((logins) =>
        logger.warn(
          { event: 'ratelimit.unavailable', counter: 'login_failures', err: (err as Error).message, logins },
          'failed-login counter did not answer; letting logins through',
        ),
      );
      // The shared count, when there is one, still decides.
      if (!sharedCount) return;
    }
    if (hit) {
      unavailable.ended((logins) =>
        logger.info({ event: 'ratelimit.recovered', counter: 'login_failures', logins }, `failed-login counter answers again; ${logins} logins went through unchecked`),
      );
    }
    // The name's failures on this host, this one's included.
    const here = hit === undefined ? undefined : COUNTER_LIMIT - hit.remaining;
    // Asked before the shared count is waited for: the window's end is read against the clock
    // as soon as the count is had.
    const saidHere = !ok && hit !== undefined && here !== undefined && here >= failures ? claimLockedLine(of, hash, hit, here === failures) : undefined;
    const shared = sharedCount && (await sharedCount);
    // Said by the failure that used up the name's budget (it still gets its 401; the next login
    // gets 429), or by the first one refused past it: once per name and window on the whole host,
    // and, counted all together, once per name and window on all the sheet's hosts (Redis counts
    // each failure alone, so exactly one reaches the limit).
    const reachedHere = saidHere !== undefined && (await saidHere);
    const reachedShared = !ok && shared !== undefined && shared.failures === failures;
    if (reachedHere || reachedShared) {
      const ms = Math.max(reachedHere ? (hit?.msBeforeReset ?? 0) : 0, reachedShared ? (shared?.msLeft ?? 0) : 0);
      logger.warn(
        {
          event: of.event,
          [of.hashField]: hash,
          failures,
          window_s: LOGIN_FAILURE_WINDOW_SECONDS,
          retry_after_s: retryAfterSeconds(ms),
          ...(reachedShared ? { shared: true } : {}),
        },
        reachedShared
          ? `too many failed logins ${of.whose} on all the sheet's hosts together: its logins answer 429 until its window ends`
          : `too many failed logins ${of.whose}: its logins answer 429 until its window ends`,
      );
    }
    // Locked: the name had its failures before this login, on this host or on all together (a
    // failure is counted first, so all together it is then over the limit; a read is at it).
    const lockedHere = here !== undefined && (ok ? here >= failures : here > failures);
    const lockedShared = shared !== undefined && (ok ? shared.failures >= failures : shared.failures > failures);
    if (lockedHere || lockedShared) {
      // Until the later of the windows that lock it: the name stays locked that long.
      const ms = Math.max(lockedHere ? (hit?.msBeforeReset ?? 0) : 0, lockedShared ? (shared?.msLeft ?? 0) : 0);
      throw loginLocked(retryAfterSeconds(ms), of);
    }
  };

  return {
    failures,
    settle: (name, ok) => settleCount(NAME, hashOf(name), ok),
    settleProof: (proofHash, ok) => settleCount(PROOF, proofHash, ok),
  };
}

/** The host's monotonic clock (CLOCK_MONOTONIC, the one the shared table's windows end on), ms. */
function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
