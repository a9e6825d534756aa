// The master's side of the host-wide counters behind the bundled app's per-IP rate limit and its
// failed-login limit per name: it answers each worker's batched 'count' message from one set of
// window counters, so every worker of the host counts against one budget. Workers count in the
// shared table (counter-table.ts) and send here only the keys it has no room for, or every key
// when it could not be made. Each counter here holds a bounded number of keys (window-counters.ts):
// past it, keys new to it are refused as over their limit, and said so (`counters.full`).

import { counterArgsProblem } from '../counter-args.js';
import { CorralError } from '../errors.js';
import type { ChildMessage, CountResult, MasterMessage } from '../ipc/messages.js';
import { monotonicNow } from '../clock.js';
import type { Logger } from '../log/logger.js';
import { FAILURE_REPEAT_MS, RepeatedFailure } from '../log/repeated-failure.js';
import { createWindowCounters, MAX_KEYS_PER_COUNTER, type CounterRoomObserver } from '../window-counters.js';

type CountRequest = Extract<ChildMessage, { type: 'count' }>;
type CountAnswer = Extract<MasterMessage, { type: 'counted' }>;

export interface HostCounterService {
  /**
   * Rejects a malformed request (the worker then times out and lets its requests through), and
   * logs it, at most once a minute.
   */
  answer(req: CountRequest): Promise<CountAnswer>;
}

export interface HostCounterOptions {
  /** Where malformed requests are reported (`counters.malformed`); unset: nowhere. */
  readonly logger?: Logger;
  /** Clock for the once-a-minute log (tests). */
  readonly now?: () => number;
  /** Keys each counter holds at most (tests); MAX_KEYS_PER_COUNTER unless set. */
  readonly maxKeysPerCounter?: number;
}

const MALFORMED_LOG_INTERVAL_MS = FAILURE_REPEAT_MS;

function problemOf(req: CountRequest): string | undefined {
  const args = counterArgsProblem(req.limit, req.window);
  if (args) return args;
  if (!Array.isArray(req.keys) || !req.keys.every((k) => typeof k === 'string')) return 'keys is not a list of strings';
  const peeks: unknown = req.peeks;
  if (peeks === undefined) return undefined;
  // Indices into keys, ascending, each once: what the counter client sends.
  if (!Array.isArray(peeks) || !peeks.every((p, i) => Number.isSafeInteger(p) && p >= 0 && p < req.keys.length && (i === 0 || p > peeks[i - 1]))) {
    return 'peeks is not a list of ascending indices into keys';
  }
  return undefined;
}

export function createHostCounters(options: HostCounterOptions = {}): HostCounterService {
  const now = options.now ?? monotonicNow;
  const maxKeys = options.maxKeysPerCounter ?? MAX_KEYS_PER_COUNTER;
  // Per counter (limit and window): the per-IP limit's filling does not hide a login counter's.
  const full = new Map<string, RepeatedFailure>();
  const room: CounterRoomObserver = {
    refused(limit, windowSeconds) {
      const id = `${limit}/${windowSeconds}`;
      let failure = full.get(id);
      if (!failure) {
        failure = new RepeatedFailure(now);
        full.set(id, failure);
      }
      failure.failed((refused, refusedTotal) =>
        options.logger?.warn(
          { event: 'counters.full', limit, window_s: windowSeconds, max_keys: maxKeys, refused, refused_total: refusedTotal },
          `the master's counter of ${limit} per ${windowSeconds} s holds ${maxKeys} keys, the shared table being full too (many client addresses, IPv6 /64s, in one window: a scan?): ` +
            'hits of keys new to it are refused as over their limit (429 for the per-IP limit) until its windows end and make room; keys it holds are counted as before',
        ),
      );
    },
    accepting(limit, windowSeconds) {
      full.get(`${limit}/${windowSeconds}`)?.ended((refused) =>
        options.logger?.info(
          { event: 'counters.accepting', limit, window_s: windowSeconds, refused },
          `the master's counter of ${limit} per ${windowSeconds} s takes new keys again; ${refused} hits of new keys were refused while it was full`,
        ),
      );
    },
  };
  const counters = createWindowCounters({ room, maxKeys });
  // A custom app's bad request comes with every one of its requests: one line a minute says so.
  const malformed = new RepeatedFailure(now, MALFORMED_LOG_INTERVAL_MS);
  const report = (problem: string) => {
    if (!options.logger) return;
    const logger = options.logger;
    malformed.failed((requests) =>
      logger.warn(
        { event: 'counters.malformed', code: 'CORRAL_ERR_COUNTER_INVALID', problem, requests },
        `dropped a malformed count request from a worker (${problem}); its requests wait for their timeout`,
      ),
    );
  };
  return {
    async answer(req) {
      const problem = problemOf(req);
      if (problem) {
        report(problem);
        throw new CorralError('CORRAL_ERR_COUNTER_INVALID', `malformed count request: ${problem}`);
      }
      const window = req.window;
      const counterOptions = window === undefined ? undefined : { windowSeconds: window };
      const peeks = new Set(req.peeks);
      const results: CountResult[] = [];
      // In order: two hits of one key in a batch must see each other, as two messages would, and a
      // peek sees the hits asked before it.
      for (let i = 0; i < req.keys.length; i++) {
        const key = req.keys[i] as string;
        const hit = peeks.has(i) ? await counters.peek(key, req.limit, counterOptions) : await counters.hit(key, req.limit, counterOptions);
        results.push([hit.allowed ? 1 : 0, hit.remaining, hit.msBeforeReset]);
      }
      return { type: 'counted', id: req.id, results };
    },
  };
}
