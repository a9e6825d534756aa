// The one check of a host counter's limit and window, made where a count is asked for (the worker's
// counter client, the in-process counters) and again where it is answered (the master): a custom
// app that asks for a window of 1.5 s learns so at once, instead of every request waiting for a
// master that drops the message.

import { CorralError } from './errors.js';
import { DEFAULT_COUNTER_WINDOW_SECONDS, MAX_COUNTER_WINDOW_SECONDS, type CounterOptions } from './contract.js';

/** What is wrong with `limit` and `windowSeconds` (undefined: the default window), or undefined when nothing is. */
export function counterArgsProblem(limit: unknown, windowSeconds: unknown): string | undefined {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit <= 0) {
    return `limit ${String(limit)} is not allowed: a whole number of hits from 1 to ${Number.MAX_SAFE_INTEGER}`;
  }
  if (windowSeconds !== undefined && (typeof windowSeconds !== 'number' || !Number.isSafeInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > MAX_COUNTER_WINDOW_SECONDS)) {
    return `windowSeconds ${String(windowSeconds)} is not allowed: a whole number of seconds from 1 to ${MAX_COUNTER_WINDOW_SECONDS}`;
  }
  return undefined;
}

/**
 * Throws CORRAL_ERR_COUNTER_INVALID unless `key` is a string. A key of another type (an app's
 * numeric user id) was thrown synchronously by the shared table's addon (CORRAL_ERR_COUNTER_TABLE,
 * where the API promises a rejection), made the master drop the whole batch it came in (every
 * other key of that limit and window in the same turn waiting the counter timeout, then let
 * through), and was counted by the in-process counters: three behaviours for one mistake.
 */
export function checkedCounterKey(key: unknown): void {
  if (typeof key !== 'string') throw new CorralError('CORRAL_ERR_COUNTER_INVALID', `host counter: key ${key === null ? 'null' : typeof key} is not allowed: a string`);
}

/**
 * The counter's window in seconds (the default when `options` names none), once `limit` and the
 * window are checked; throws CORRAL_ERR_COUNTER_INVALID naming the bad value and the allowed range.
 */
export function checkedCounterWindow(limit: unknown, options: CounterOptions | undefined): number {
  const problem = counterArgsProblem(limit, options?.windowSeconds);
  if (problem) throw new CorralError('CORRAL_ERR_COUNTER_INVALID', `host counter: ${problem}`);
  return options?.windowSeconds ?? DEFAULT_COUNTER_WINDOW_SECONDS;
}
