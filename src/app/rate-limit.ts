// Per-client-IP rate limit, CORRAL_RATE_LIMIT requests per minute, shared by every worker of the
// host: in a corral worker the counters are the host's (AppContext.hostCounters: a table in memory
// shared by the master and its workers, and the master over IPC for what it has no room for); run
// elsewhere (unit tests, one process) they live in this process. Answers carry the IETF RateLimit headers. Keys are what client-ip.ts's clientKey()
// gives (an IPv4 address or an IPv6 /64), never anything else: other counters on the same host
// counters (login-limit.ts) use keys with a prefix no address has.

import type { ServerResponse } from 'node:http';
import type { HostCounters } from '../contract.js';
import { monotonicNow } from '../clock.js';
import type { Logger } from '../log/logger.js';
import { RepeatedFailure } from '../log/repeated-failure.js';
import { HttpError } from './http.js';

export interface RateDecision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window resets. */
  readonly resetSeconds: number;
}

export interface RateLimit {
  readonly limit: number;
  /** Counts one request from `key`; never throws (a limiter failure lets the request through). */
  consume(key: string): Promise<RateDecision>;
  /**
   * Counts one request from `key` without waiting for the count, for answers that cost nothing to
   * give (404, 405): the refusal when this worker already knows `key` is over its limit in this
   * window (a count it asked for said so), else undefined, and the request is answered at once.
   * The count reaches the counters within UNWAITED_FLUSH_MS, and before this worker's next consume().
   */
  count(key: string): RateDecision | undefined;
}

export interface RateLimitOptions {
  readonly perMinute: number;
  readonly logger: Logger;
  /** The host's counters; undefined outside a corral worker, and then counted in this process. */
  readonly hostCounters: HostCounters | undefined;
}

const WINDOW_SECONDS = 60;
/** Keys remembered as over their limit; past it the memory is dropped (and learned again). */
const REMEMBERED_REFUSALS = 10_000;
/**
 * Requests counted without waiting (count()) go to the counters together, this long after the
 * first of them, or at once when this many gather: one message to the master per 404 would cost
 * the next requests their wakeups (the 99th percentile of back-to-back 404s rose by 0.1 to 0.3 ms;
 * gathered, by 0.05 to 0.1 ms, and their median did not move).
 */
const UNWAITED_FLUSH_MS = 20;
const UNWAITED_MAX = 1000;

/** Undefined when the limit is off (nothing is counted, and no counter store is loaded). */
export async function createRateLimit(options: RateLimitOptions): Promise<RateLimit | undefined> {
  const { perMinute, logger } = options;
  if (perMinute <= 0) return undefined;
  const counters = options.hostCounters ?? (await import('../window-counters.js')).createWindowCounters();
  // Failing open is said at the first failure, then at most once a minute with the count.
  const unavailable = new RepeatedFailure();
  // Keys a count said were over the limit, with when their window ends, on the monotonic clock as
  // the counters' windows are: on the wall clock, a step of the system clock an hour back (NTP, a
  // `date -s`) refused a client's 404s for an hour past its window, with Retry-After: 3630.
  const over = new Map<string, number>();

  const ask = async (key: string): Promise<RateDecision> => {
    try {
      const hit = await counters.hit(key, perMinute);
      const decision = { allowed: hit.allowed, limit: perMinute, remaining: hit.remaining, resetSeconds: Math.max(1, Math.ceil(hit.msBeforeReset / 1000)) };
      if (!hit.allowed) {
        if (over.size >= REMEMBERED_REFUSALS) over.clear();
        over.set(key, monotonicNow() + hit.msBeforeReset);
      }
      unavailable.ended((requests) =>
        logger.info({ event: 'ratelimit.recovered', counter: 'requests', requests }, `rate limiter answers again; ${requests} requests went through uncounted`),
      );
      return decision;
    } catch (err) {
      // Failing open: a missing or slow master must not turn into an outage of the app.
      unavailable.failed((requests) =>
        logger.warn({ event: 'ratelimit.unavailable', err: (err as Error).message, requests }, 'rate limiter did not answer; letting requests through'),
      );
      return { allowed: true, limit: perMinute, remaining: perMinute, resetSeconds: WINDOW_SECONDS };
    }
  };

  let unwaited: string[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  const flushUnwaited = () => {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    const keys = unwaited;
    unwaited = [];
    // Asked in one turn: the worker's counter client sends them to the master in one message.
    for (const key of keys) void ask(key);
  };

  return {
    limit: perMinute,
    consume(key) {
      // This worker's earlier requests are counted first, in the same message.
      if (unwaited.length > 0) flushUnwaited();
      return ask(key);
    },
    count(key) {
      const until = over.get(key);
      if (until !== undefined) {
        const ms = until - monotonicNow();
        // Over until its window ends: refused without asking (more hits would change nothing).
        if (ms > 0) return { allowed: false, limit: perMinute, remaining: 0, resetSeconds: Math.max(1, Math.ceil(ms / 1000)) };
        over.delete(key);
      }
      unwaited.push(key);
      if (unwaited.length >= UNWAITED_MAX) flushUnwaited();
      // Unref'd: counts still gathering when the worker exits are not worth keeping it up.
      else flushTimer ??= setTimeout(flushUnwaited, UNWAITED_FLUSH_MS).unref();
      return undefined;
    },
  };
}

/** RateLimit-* headers (draft-ietf-httpapi-ratelimit-headers), and Retry-After when refused. */
export function rateLimitHeaders(d: RateDecision): Record<string, string> {
  const h: Record<string, string> = {
    'RateLimit-Limit': String(d.limit),
    'RateLimit-Remaining': String(d.remaining),
    'RateLimit-Reset': String(d.resetSeconds),
    'RateLimit-Policy': `${d.limit};w=${WINDOW_SECONDS}`,
  };
  if (!d.allowed) h['Retry-After'] = String(d.resetSeconds);
  return h;
}

export function applyRateLimitHeaders(res: ServerResponse, d: RateDecision): void {
  for (const [k, v] of Object.entries(rateLimitHeaders(d))) res.setHeader(k, v);
}

export function tooManyRequests(d: RateDecision): HttpError {
  return new HttpError('rate_limited', `too many requests: at most ${d.limit} per minute; retry in ${d.resetSeconds} s`, {
    headers: rateLimitHeaders(d),
  });
}
