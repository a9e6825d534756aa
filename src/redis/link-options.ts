// The link's settings (link.ts): its waits (the command timeout, the pause after a failure, the
// probe's and the settle's with an override for tests; the connect timeout, the reconnection's cap
// and the refusal's repeat without), its clock, and the ioredis options it connects with. A file of its own: these say how long the link waits and how
// it connects, and the link, its probe (link-probe.ts) and its log lines (link-log.ts) are given
// the values they need from here rather than each reading the options.

import type { RedisOptions } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { guardedConnector } from './guarded-connector.js';

/** A command Redis has not answered by then fails (and the caller acts for this host alone). */
export const REDIS_COMMAND_TIMEOUT_MS = 1000;
/**
 * After a failed command, Redis is left alone this long: a Redis that hangs with its connection
 * open would otherwise cost every call the whole timeout (a miss looks, claims and polls: three).
 */
export const REDIS_PAUSE_AFTER_FAILURE_MS = 5000;
/**
 * While a failed command's outage lasts on an open connection, or Redis refuses writes, Redis is
 * asked (the keeper's presence script, probeWith; PING without one) this often
 * whether it answers again: the keeper then shares again within about a second of its return,
 * not at the next call after the pause (11 s after a 12 s hang in the audit). A probe that fails
 * extends the pause, so the callers' commands do not each wait out a timeout while Redis hangs.
 */
export const REDIS_PROBE_MS = 1000;
/**
 * An outage is said to be over (redis.recovered) once Redis has answered this long without a
 * failure: a failure before then is the same outage going on (it stalls, answers, stalls again).
 */
export const REDIS_RECOVERED_AFTER_MS = 5000;
export const CONNECT_TIMEOUT_MS = 2000;
/**
 * A connection that has answered nothing for this long while a command waits is dropped, and the
 * link connects again. A command's timeout fails the command, never the connection: one whose
 * peer went away without a reset (a host powered off, a route blackholed, a proxy whose backend
 * is gone) stayed open, and ioredis never connected again, so a REDIS_URL whose name leads to
 * another server after a failover was never reached: the keeper acted alone until TCP gave up
 * (about 15 minutes by Linux's retransmissions) or, behind a proxy that keeps its side open,
 * until a restart. Longer than the command timeout: a Redis that stalls a moment (a fork for its
 * snapshot) keeps its connection.
 */
export const REDIS_SOCKET_TIMEOUT_MS = 5000;
const RECONNECT_MAX_MS = 5000;
/**
 * A refusal is said again at most this often while it lasts: it ends only when someone changes
 * Redis's settings or REDIS_URL, and a line a minute would bury the log in it.
 */
export const REFUSAL_REPEAT_MS = 3_600_000;

/**
 * The link's time: its pause after a failed command, its probes, the settle before redis.recovered,
 * and failingForMs. Shaped as the keeper's Clock (sheets/keeper/clock.ts), so a test's FakeClock
 * fits; declared here so that redis/ imports nothing from sheets/.
 */
export interface LinkClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_LINK_CLOCK: LinkClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface RedisLinkOptions {
  readonly url: string;
  /** REDIS_TLS_CA_FILE: the CAs a rediss:// server's certificate is checked against. */
  readonly tlsCaFile?: string | undefined;
  readonly logger: Logger;
  /** Overrides for tests (shorter waits). */
  readonly commandTimeoutMs?: number;
  readonly pauseAfterFailureMs?: number;
  readonly probeMs?: number;
  readonly recoveredAfterMs?: number;
  /**
   * Tests only (default: Date.now and unref'd timers). A fake clock lets a unit test say how long
   * Redis answered or failed on the link's clock instead of sleeping: the settle before
   * redis.recovered and the gap failingForMs reports were real time before, and a loaded machine
   * that ran a test's steps late flipped its outcome.
   */
  readonly clock?: LinkClock;
}

/** The ioredis options of the link's client: REDIS_URL's (`options`), failing fast, reconnecting with a capped backoff. */
export function clientSettings(options: RedisOptions, commandTimeoutMs: number): RedisOptions {
  return {
    ...options,
    connectionName: `corral-keeper-${process.pid}`,
    // While disconnected, a command fails at once instead of waiting in a queue: a read or a
    // quota token must not wait on Redis longer than the timeout below.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: REDIS_SOCKET_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(RECONNECT_MAX_MS, 100 * 2 ** Math.min(times, 6)),
    lazyConnect: false,
    ...guardedConnector,
  };
}
