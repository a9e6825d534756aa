// Hits per key in fixed 60 s windows, counted by rate-limiter-flexible's memory store. The master
// keeps one set for the whole host (master/host-counters.ts answers the workers with it); the
// bundled app run outside a corral worker keeps its own.

import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { CounterHit, HostCounters } from './contract.js';

export const COUNTER_WINDOW_SECONDS = 60;

export function createWindowCounters(): HostCounters {
  // One store per limit: a reload that changes CORRAL_RATE_LIMIT starts the new limit from fresh
  // windows instead of judging old counts by it. While a reload runs, workers of both generations
  // count side by side, each against its own limit.
  const stores = new Map<number, RateLimiterMemory>();
  const storeFor = (perMinute: number): RateLimiterMemory => {
    let store = stores.get(perMinute);
    if (!store) {
      store = new RateLimiterMemory({ points: perMinute, duration: COUNTER_WINDOW_SECONDS, keyPrefix: `corral-${perMinute}` });
      stores.set(perMinute, store);
    }
    return store;
  };
  const hitOf = (allowed: boolean, res: RateLimiterRes): CounterHit => ({
    allowed,
    remaining: Math.max(0, res.remainingPoints),
    msBeforeReset: Math.max(0, res.msBeforeNext),
  });
  return {
    async hit(key, perMinute) {
      try {
        return hitOf(true, await storeFor(perMinute).consume(key, 1));
      } catch (err) {
        // The store rejects with its result object when the key is over its limit.
        if (err instanceof RateLimiterRes) return hitOf(false, err);
        throw err;
      }
    },
  };
}
