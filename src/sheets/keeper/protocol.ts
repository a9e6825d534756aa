// What travels between a worker's client and the keeper over the local socket (HTTP + JSON).
//   GET  /read?range=R          → WireRead
//   GET  /read?range=R&held=only → WireRead when the keeper can answer from its copy at once
//                                 (fresh, or stale within SHEET_CACHE_MAX_STALE), else at once
//                                 WireNotHeld: nothing waits for Google or the read quota
//   GET  /read?range=R&have=C   → WireUnchanged when the answer would be the copy C (its `copy`)
//                                 again: the same rows, with this answer's times; else WireRead.
//                                 A keeper of a build before it ignores `have` and answers
//                                 WireRead without `copy`, which the worker takes as it is.
//   POST /append {range, rows, idempotency?: {key, fingerprint, answer}, header?}
//                               → WireReceipt, only after the rows are fsynced in the journal
//                                 (or at once with `replayed` when the key is held); `header`:
//                                 the header row the rows were built under, for the keeper to
//                                 write them under the tab's header when they are sent
//                                 (header-mapping.ts)
//   GET  /watch?since=V&epoch=E → WatchAnswer (long poll: answered when a tab changes)
//   POST /login {name_hash, failed, window_ms}
//                               → WireLoginCount: a name's failed logins counted by all the
//                                 sheet's hosts (REDIS_URL; shared-logins.ts), a failure counted first
//   GET  /figures               → the keeper's figures (debugging)
// Errors answer a non-2xx status with WireError; `code` is one of src/errors.ts.
//
// Every request may name, in the `corral-destination` header, the digest of the sheet the worker's
// settings append to (destination.ts). A keeper that serves another sheet answers it 421 with
// CORRAL_ERR_KEEPER_OTHER_SHEET, before reading or writing anything: two corrals sharing one data
// dir share this socket, and the second one's rows went to the first one's sheet (audit). A
// request without the header (curl, a worker of a build before it) is served as before: every
// process of a host runs one build (a build change restarts them all), so the workers always send it.

export interface WireRead {
  readonly range: string;
  readonly values: readonly (readonly string[])[];
  readonly fetchedAt: number;
  /** When the keeper's copy stops being fresh; the worker's L1 keeps it until then. */
  readonly expiresAt: number;
  readonly stale: boolean;
  readonly staleSeconds: number;
  readonly pendingRows: number;
  readonly backend: 'google' | 'offline';
  /**
   * The keeper's clock when it answered. `fetchedAt` and `expiresAt` are times of that clock, which
   * does not follow steps of the system clock (keeper/clock.ts) while a worker's Date.now() does:
   * the worker reads them relative to this.
   */
  readonly now: number;
  /**
   * What names these rows (copy-identity.ts): another answer with the same `copy` has the same
   * `values`, byte for byte. A worker refreshing the copy it holds sends it back as `have`.
   * Absent from a keeper of a build before it (a reload's overlap).
   */
  readonly copy?: string;
}

/**
 * The answer to `have=C` when the rows are still those of copy C: everything WireRead says but
 * the rows, which the worker keeps (the same arrays, so what it built from them stays valid), with
 * the new times: a refresh that found the same bytes moves `fetchedAt` and `expiresAt` on.
 */
export interface WireUnchanged extends Omit<WireRead, 'values' | 'copy'> {
  readonly unchanged: true;
  readonly copy: string;
}

/** What GET /read answers. */
export type WireReadAnswer = WireRead | WireUnchanged;

/** The answer to a `held=only` read of a range the keeper has no copy of that it may serve now. */
export interface WireNotHeld {
  readonly held: false;
}

export interface WireReceipt {
  readonly id: string;
  readonly rows: number;
  readonly duplicates: number;
  /** The answer stored with the idempotency key, when this append was a retry of it. */
  readonly replayed?: string;
}

/** The answer to POST /login: the count all the sheet's hosts share, or why there is none now. */
export type WireLoginCount =
  | { readonly shared: true; readonly failures: number; readonly msLeft: number }
  | { readonly shared: false; readonly reason: string; /** What Redis refuses (refusal.ts), when it answers but refuses the keeper. */ readonly refused?: string };

/**
 * How long the keeper waits for Redis's count before answering POST /login `shared: false`: less
 * than the worker waits (app/login-limit.ts), so a Redis that stalls is said as Redis's doing, not
 * as a keeper that did not answer (the log blamed a healthy keeper). Redis answers in about a
 * millisecond; the command goes on, and a failure it counts still counts.
 */
export const LOGIN_COUNT_WAIT_MS = 200;

/** Bounds of POST /login's window_ms (the limit's window is 15 minutes). */
export const LOGIN_WINDOW_MS_MAX = 86_400_000;

export interface WireError {
  readonly code: string;
  readonly message: string;
  /** A read of a range in backoff: when the keeper tries it again (RetryLaterError). */
  readonly retry_after_ms?: number;
  /** CORRAL_ERR_KEEPER_OTHER_SHEET: the digest of the sheet this keeper serves (destination.ts). */
  readonly destination?: string;
  /** CORRAL_ERR_KEEPER_OTHER_SHEET: the pid of the keeper's master, to tell a reload's overlap from another corral. */
  readonly master_pid?: number;
  /**
   * CORRAL_ERR_KEEPER_UNAVAILABLE of an append whose rows were written to the journal before the
   * keeper found its lock another's (lock-fence.ts): that keeper may have read them and sends
   * them, so the append may have been saved. Without it, an unavailable keeper took nothing.
   */
  readonly written?: true;
}

/** Long polls are answered empty after this long, so dead peers are noticed. */
export const WATCH_TIMEOUT_MS = 25_000;

/** Largest append body the keeper accepts. */
export const MAX_APPEND_BYTES = 8 * 1024 * 1024;
