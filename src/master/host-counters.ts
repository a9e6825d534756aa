// The master's side of the host-wide counters behind the per-IP rate limit: it answers each
// worker's batched 'count' message from one set of window counters, so every worker of the host
// counts against one budget.

import type { ChildMessage, CountResult, MasterMessage } from '../ipc/messages.js';
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
      if (!Number.isSafeInteger(req.limit) || req.limit <= 0 || !Array.isArray(req.keys) || !req.keys.every((k) => typeof k === 'string')) {
        throw new TypeError(`malformed count request (limit ${String(req.limit)})`);
      }
      const results: CountResult[] = [];
      // In order: two hits of one key in a batch must see each other, as two messages would.
      for (const key of req.keys) {
        const hit = await counters.hit(key, req.limit);
        results.push([hit.allowed ? 1 : 0, hit.remaining, hit.msBeforeReset]);
      }
      return { type: 'counted', id: req.id, results };
    },
  };
}
