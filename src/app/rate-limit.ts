// Per-client-IP rate limit, CORRAL_RATE_LIMIT requests per minute, shared by every worker of the
// host. In a cluster worker the counters live in the master (rate-limiter-flexible's
// RateLimiterCluster talks to the RateLimiterClusterMaster the arbiter creates); elsewhere (unit
// tests, a single process) they live in memory. Answers carry the IETF RateLimit headers.

import cluster from 'node:cluster';
import type { ServerResponse } from 'node:http';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
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
  /** 'auto' = cluster store inside a cluster worker, memory otherwise. */
  readonly store?: 'auto' | 'memory' | 'cluster';
  /** How long a worker waits for the master's answer before letting the request through. */
  readonly timeoutMs?: number;
}

const WINDOW_SECONDS = 60;

/** Undefined when the limit is off (rate-limiter-flexible is then not loaded at all). */
export async function createRateLimit(options: RateLimitOptions): Promise<RateLimit | undefined> {
  const { perMinute, logger } = options;
  if (perMinute <= 0) return undefined;
  const { RateLimiterCluster, RateLimiterMemory, RateLimiterRes } = await import('rate-limiter-flexible');
  const store = options.store === undefined || options.store === 'auto' ? (cluster.isWorker ? 'cluster' : 'memory') : options.store;
  // The limit is part of the key prefix: the master keeps a limiter per prefix for its whole life,
  // so a reload that changes CORRAL_RATE_LIMIT must get a fresh one, not the old points.
  const opts = { points: perMinute, duration: WINDOW_SECONDS, keyPrefix: `corral-ip-${perMinute}` };
  const limiter: RateLimiterAbstract =
    store === 'cluster' ? new RateLimiterCluster({ ...opts, timeoutMs: options.timeoutMs ?? 2000 }) : new RateLimiterMemory(opts);
  let lastFailureLog = 0;
  return {
    limit: perMinute,
    async consume(key) {
      try {
        const res = await limiter.consume(key, 1);
        return decision(true, perMinute, res);
      } catch (err) {
        if (err instanceof RateLimiterRes) return decision(false, perMinute, err);
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

function decision(allowed: boolean, limit: number, res: RateLimiterRes): RateDecision {
  return {
    allowed,
    limit,
    remaining: Math.max(0, res.remainingPoints),
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
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
