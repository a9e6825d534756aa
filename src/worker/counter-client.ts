// The worker's side of the host-wide counters. Every hit made in one turn of the event loop goes
// to the master in one 'count' message, and each hit settles from the master's 'counted' answer.
// One IPC round trip per request cost about half of the peak req/s of a cached read (the
// `ratelimit` bench); under load a turn carries several requests, and they now share one.

import type { CounterHit, HostCounters } from '../contract.js';
import type { ChildMessage, MasterMessage } from '../ipc/messages.js';

type Counted = Extract<MasterMessage, { type: 'counted' }>;

interface Waiter {
  resolve(hit: CounterHit): void;
  reject(err: Error): void;
}

interface Batch {
  readonly keys: string[];
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
  // Hits of this turn, by limit (one limit, unless a reload is changing it).
  let gathering = new Map<number, Batch>();
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
    for (const [limit, batch] of batches) {
      const id = nextId++;
      if (!send({ type: 'count', id, limit, keys: batch.keys })) {
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

  return {
    hit(key, perMinute) {
      return new Promise<CounterHit>((resolve, reject) => {
        let batch = gathering.get(perMinute);
        if (!batch) {
          batch = { keys: [], waiters: [] };
          gathering.set(perMinute, batch);
        }
        batch.keys.push(key);
        batch.waiters.push({ resolve, reject });
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      });
    },
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
