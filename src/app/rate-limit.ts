// Per-client-IP rate limit, CORRAL_RATE_LIMIT requests per minute, shared by every worker of the
// host: in a corral worker the counters live in the master (AppContext.hostCounters, one batched
// IPC round trip per event-loop turn); run elsewhere (unit tests, one process) they live in this
// process. Answers carry the IETF RateLimit headers.

import type { ServerResponse } from 'node:http';
import type { HostCounters } from '../contract.js';
import type { Logger } from '../log/logger.js';
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
}

export interface RateLimitOptions {
  readonly perMinute: number;
  readonly logger: Logger;
  /** The host's counters; undefined outside a corral worker, and then counted in this process. */
  readonly hostCounters: HostCounters | undefined;
}

const WINDOW_SECONDS = 60;

/** Undefined when the limit is off (nothing is counted, and no counter store is loaded). */
export async function createRateLimit(options: RateLimitOptions): Promise<RateLimit | undefined> {
  const { perMinute, logger } = options;
  if (perMinute <= 0) return undefined;
  const counters = options.hostCounters ?? (await import('../window-counters.js')).createWindowCounters();
  let lastFailureLog = 0;
  return {
    limit: perMinute,
    async consume(key) {
      try {
        const hit = await counters.hit(key, perMinute);
        return { allowed: hit.allowed, limit: perMinute, remaining: hit.remaining, resetSeconds: Math.max(1, Math.ceil(hit.msBeforeReset / 1000)) };
      } catch (err) {
        // Failing open: a missing or slow master must not turn into an outage of the app.
        const now = Date.now();
        if (now - lastFailureLog > 60_000) {
          lastFailureLog = now;
          logger.warn({ event: 'ratelimit.unavailable', err: (err as Error).message }, 'rate limiter did not answer; letting requests through');
        }
        return { allowed: true, limit: perMinute, remaining: perMinute, resetSeconds: WINDOW_SECONDS };
      }
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
  return new HttpError(429, 'rate_limited', `too many requests: at most ${d.limit} per minute; retry in ${d.resetSeconds} s`, {
    headers: rateLimitHeaders(d),
  });
}
