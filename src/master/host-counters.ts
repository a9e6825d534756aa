// The master's side of the host-wide counters behind the bundled app's per-IP rate limit and its
// failed-login limit per name: it answers each worker's batched 'count' message from one set of
// window counters, so every worker of the host counts against one budget.

import type { ChildMessage, CountResult, MasterMessage } from '../ipc/messages.js';
import { MAX_COUNTER_WINDOW_SECONDS } from '../contract.js';
import { createWindowCounters } from '../window-counters.js';

type CountRequest = Extract<ChildMessage, { type: 'count' }>;
type CountAnswer = Extract<MasterMessage, { type: 'counted' }>;

export interface HostCounterService {
  /** Rejects a malformed request (the worker then times out and lets its requests through). */
  answer(req: CountRequest): Promise<CountAnswer>;
}

export function createHostCounters(): HostCounterService {
  const counters = createWindowCounters();
  return {
    async answer(req) {
      const window = req.window;
      if (
        !Number.isSafeInteger(req.limit) ||
        req.limit <= 0 ||
        !Array.isArray(req.keys) ||
        !req.keys.every((k) => typeof k === 'string') ||
        (window !== undefined && (!Number.isSafeInteger(window) || window <= 0 || window > MAX_COUNTER_WINDOW_SECONDS)) ||
        (req.peek !== undefined && typeof req.peek !== 'boolean')
      ) {
        throw new TypeError(`malformed count request (limit ${String(req.limit)}, window ${String(window)})`);
      }
      const options = window === undefined ? undefined : { windowSeconds: window };
      const results: CountResult[] = [];
      // In order: two hits of one key in a batch must see each other, as two messages would.
      for (const key of req.keys) {
        const hit = req.peek === true ? await counters.peek(key, req.limit, options) : await counters.hit(key, req.limit, options);
        results.push([hit.allowed ? 1 : 0, hit.remaining, hit.msBeforeReset]);
      }
      return { type: 'counted', id: req.id, results };
    },
  };
}
