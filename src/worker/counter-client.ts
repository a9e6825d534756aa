// The worker's side of the host-wide counters kept by the master, for the keys the shared table
// (shared-counters.ts) has no room for. Every hit made in one turn of the event loop goes to the
// master in one 'count' message, and each hit settles from the master's 'counted' answer.
// One IPC round trip per request cost about half of the peak req/s of a cached read (the
// `ratelimit` bench); under load a turn carries several requests, and they now share one.
// Peeks (reads that count nothing) go in the same message as the hits of their limit and window,
// marked by their index, and settle with them, in the order asked: a login with the right code
// (a peek) and wrong ones (hits) sent together at a locked name are answered together, so the
// right code's 429 does not come apart from the others.

import { checkedCounterKey, checkedCounterWindow } from '../counter-args.js';
import { DEFAULT_COUNTER_WINDOW_SECONDS, type CounterHit, type CounterOptions, type HostCounters } from '../contract.js';
import type { ChildMessage, MasterMessage } from '../ipc/messages.js';

type Counted = Extract<MasterMessage, { type: 'counted' }>;

interface Waiter {
  resolve(hit: CounterHit): void;
  reject(err: Error): void;
}

interface Batch {
  readonly limit: number;
  readonly window: number;
  readonly keys: string[];
  /** Indices in `keys` of the peeks. */
  readonly peeks: number[];
  readonly waiters: Waiter[];
}

export interface CounterClient extends HostCounters {
  /** The master's answers, from the worker's channel. */
  onCounted(msg: Counted): void;
}

export interface CounterClientOptions {
  /** How long a batch waits for the master before its hits reject. */
  readonly timeoutMs: number;
}

export function createCounterClient(send: (msg: ChildMessage) => boolean, options: CounterClientOptions): CounterClient {
  // Hits and peeks of this turn, by limit and window (one per counter the app keeps; two per
  // counter while a reload changes its limit).
  let gathering = new Map<string, Batch>();
  let flushScheduled = false;
  const waitingForMaster = new Map<number, { readonly waiters: Waiter[]; readonly timer: NodeJS.Timeout }>();
  let nextId = 1;

  const rejectAll = (waiters: readonly Waiter[], message: string) => {
    const err = new Error(message);
    for (const w of waiters) w.reject(err);
  };

  // setImmediate runs after the poll phase: every request parsed from this turn's reads is in.
  const flush = () => {
    flushScheduled = false;
    const batches = gathering;
    gathering = new Map();
    for (const batch of batches.values()) {
      const id = nextId++;
      // The defaults stay out of the message: the per-IP limit's hits, most of them, stay small.
      const msg: ChildMessage = {
        type: 'count',
        id,
        limit: batch.limit,
        keys: batch.keys,
        ...(batch.window !== DEFAULT_COUNTER_WINDOW_SECONDS ? { window: batch.window } : {}),
        ...(batch.peeks.length > 0 ? { peeks: batch.peeks } : {}),
      };
      if (!send(msg)) {
        rejectAll(batch.waiters, 'the channel to the master is closed');
        continue;
      }
      const timer = setTimeout(() => {
        waitingForMaster.delete(id);
        rejectAll(batch.waiters, `the master did not answer within ${options.timeoutMs} ms`);
      }, options.timeoutMs);
      waitingForMaster.set(id, { waiters: batch.waiters, timer });
    }
  };

  const enqueue = (key: string, limit: number, options: CounterOptions | undefined, peek: boolean): Promise<CounterHit> =>
    new Promise<CounterHit>((resolve, reject) => {
      // Refused here, at once: the master would drop the message and the caller wait for the timeout.
      checkedCounterKey(key);
      const window = checkedCounterWindow(limit, options);
      const id = `${limit}/${window}`;
      let batch = gathering.get(id);
      if (!batch) {
        batch = { limit, window, keys: [], peeks: [], waiters: [] };
        gathering.set(id, batch);
      }
      if (peek) batch.peeks.push(batch.keys.length);
      batch.keys.push(key);
      batch.waiters.push({ resolve, reject });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });

  return {
    hit: (key, limit, options) => enqueue(key, limit, options, false),
    peek: (key, limit, options) => enqueue(key, limit, options, true),
    onCounted(msg) {
      const pending = waitingForMaster.get(msg.id);
      // Unknown id: an answer that came after its batch timed out; those hits already went through.
      if (!pending) return;
      waitingForMaster.delete(msg.id);
      clearTimeout(pending.timer);
      pending.waiters.forEach((w, i) => {
        const r = msg.results[i];
        if (r) w.resolve({ allowed: r[0] === 1, remaining: r[1], msBeforeReset: r[2] });
        else w.reject(new Error(`the master answered ${msg.results.length} of ${pending.waiters.length} hits`));
      });
    },
  };
}
