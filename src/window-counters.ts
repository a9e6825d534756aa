// Hits per key in fixed windows (60 s unless asked otherwise), counted by rate-limiter-flexible's
// memory store. The master keeps one set for the whole host (master/host-counters.ts answers the
// workers with it); the bundled app run outside a corral worker keeps its own.

import { createRequire } from 'node:module';
import type { RateLimiterMemory as MemoryStore, RateLimiterRes as LimiterAnswer } from 'rate-limiter-flexible';
import { checkedCounterKey, checkedCounterWindow } from './counter-args.js';
import type { CounterHit, HostCounters } from './contract.js';

// The memory store and its answer from their own files: the package's index loads every store
// (Redis, Mongo, Postgres, DynamoDB, ...), 0.07 s of CPU at each master start on a 2-core Xeon
// against 0.01 s. The package has no "exports" map; these are its files as shipped (lib/).
const load = createRequire(import.meta.url);
const RateLimiterMemory = load('rate-limiter-flexible/lib/RateLimiterMemory.js') as typeof MemoryStore;
const RateLimiterRes = load('rate-limiter-flexible/lib/RateLimiterRes.js') as typeof LimiterAnswer;
type RateLimiterMemory = MemoryStore;
type RateLimiterRes = LimiterAnswer;

export function createWindowCounters(): HostCounters {
  // One store per limit and window: a reload that changes CORRAL_RATE_LIMIT starts the new limit
  // from fresh windows instead of judging old counts by it. While a reload runs, workers of both
  // generations count side by side, each against its own limit.
  const stores = new Map<string, RateLimiterMemory>();
  const storeFor = (limit: number, windowSeconds: number): RateLimiterMemory => {
    const id = `${limit}/${windowSeconds}`;
    let store = stores.get(id);
    if (!store) {
      store = new RateLimiterMemory({ points: limit, duration: windowSeconds, keyPrefix: `corral-${limit}-${windowSeconds}` });
      stores.set(id, store);
    }
    return store;
  };
  const hitOf = (allowed: boolean, res: RateLimiterRes): CounterHit => ({
    allowed,
    remaining: Math.max(0, res.remainingPoints),
    msBeforeReset: Math.max(0, res.msBeforeNext),
  });
  return {
    async hit(key, limit, options) {
      checkedCounterKey(key);
      const store = storeFor(limit, checkedCounterWindow(limit, options));
      try {
        return hitOf(true, await store.consume(key, 1));
      } catch (err) {
        // The store rejects with its result object when the key is over its limit.
        if (err instanceof RateLimiterRes) return hitOf(false, err);
        throw err;
      }
    },
    async peek(key, limit, options) {
      checkedCounterKey(key);
      const res = await storeFor(limit, checkedCounterWindow(limit, options)).get(key);
      // A window whose end has passed, though its key is not removed yet, is no window.
      if (!res || res.msBeforeNext <= 0) return { allowed: true, remaining: limit, msBeforeReset: 0 };
      return hitOf(res.consumedPoints < limit, res);
    },
  };
}
