// Hits per key in fixed windows (60 s unless asked otherwise), each window starting at its key's
// first hit. The master keeps one set for the whole host (master/host-counters.ts answers the
// workers with it, for the keys the shared table has no room for); the bundled app run outside a
// corral worker keeps its own.
//
// Bounded: a counter (one limit and window) holds at most `maxKeys` live windows. The keys come
// from clients (an address, an IPv6 /64), and the master gets every new one once the shared table
// is full: a scan from many IPv6 /64s, hundreds of thousands of new keys a minute, grew the master
// by some 540 bytes a key (rate-limiter-flexible's memory store, a timer per key), towards a
// gigabyte, until the master itself was killed. A full counter refuses the hit of a key it does
// not hold as over its limit, until its oldest window ends: counting it nowhere, or letting it
// through, would let anyone who fills the counters go unlimited. Keys it holds go on as before,
// and a peek needs no room (a key it does not hold has no hits).

import { checkedCounterKey, checkedCounterWindow } from './counter-args.js';
import type { CounterHit, HostCounters } from './contract.js';

/**
 * Live windows one counter holds at most: about 200 bytes each (a key of an IPv6 /64 and its
 * window), some 40 MiB when full. Far above what a host's own clients fill in a window once the
 * shared table (about 541,000 keys) has taken its share.
 */
export const MAX_KEYS_PER_COUNTER = 200_000;

/** Told when a counter is full and when it takes a new key again. */
export interface CounterRoomObserver {
  /** A hit of a key the counter does not hold was refused: it holds `maxKeys` live windows. */
  refused(limit: number, windowSeconds: number): void;
  /** The first new key the counter took after it refused one. */
  accepting(limit: number, windowSeconds: number): void;
}

export interface WindowCountersOptions {
  /** Live windows per counter (limit and window); MAX_KEYS_PER_COUNTER unless set. */
  readonly maxKeys?: number;
  readonly room?: CounterRoomObserver;
  /** Monotonic milliseconds (tests); performance.now() unless set. */
  readonly now?: () => number;
}

interface Window {
  hits: number;
  /** When it ends, on the `now` clock. */
  readonly end: number;
}

/**
 * One limit and window's counts. A key's window is set when it starts and deleted and set again
 * when it restarts, and every window of a counter is as long: the map's order is the order in
 * which its windows end, so the ended ones are always at its front.
 */
class Counter {
  private readonly windows = new Map<string, Window>();
  private refusing = false;

  constructor(
    private readonly limit: number,
    private readonly windowSeconds: number,
    private readonly maxKeys: number,
    private readonly room: CounterRoomObserver | undefined,
  ) {}

  get size(): number {
    return this.windows.size;
  }

  hit(key: string, now: number): CounterHit {
    let w = this.windows.get(key);
    if (w && w.end > now) {
      w.hits++;
      return this.answer(w, now, w.hits <= this.limit);
    }
    if (w) this.windows.delete(key);
    this.dropEnded(now);
    if (this.windows.size >= this.maxKeys) {
      this.refusing = true;
      this.room?.refused(this.limit, this.windowSeconds);
      // Over its limit until the oldest window ends, which makes room.
      const oldest = this.windows.values().next().value as Window;
      return { allowed: false, remaining: 0, msBeforeReset: Math.ceil(oldest.end - now) };
    }
    if (this.refusing) {
      this.refusing = false;
      this.room?.accepting(this.limit, this.windowSeconds);
    }
    w = { hits: 1, end: now + this.windowSeconds * 1000 };
    this.windows.set(key, w);
    return this.answer(w, now, 1 <= this.limit);
  }

  peek(key: string, now: number): CounterHit {
    const w = this.windows.get(key);
    // A window whose end has passed, though its key is not removed yet, is no window.
    if (!w || w.end <= now) return { allowed: true, remaining: this.limit, msBeforeReset: 0 };
    return this.answer(w, now, w.hits < this.limit);
  }

  private answer(w: Window, now: number, allowed: boolean): CounterHit {
    return { allowed, remaining: Math.max(0, this.limit - w.hits), msBeforeReset: Math.ceil(w.end - now) };
  }

  private dropEnded(now: number): void {
    for (const [key, w] of this.windows) {
      if (w.end > now) return;
      this.windows.delete(key);
    }
  }
}

export interface WindowCounters extends HostCounters {
  /** Live windows held, all counters together (ended ones not yet dropped included). */
  keys(): number;
}

export function createWindowCounters(options: WindowCountersOptions = {}): WindowCounters {
  const maxKeys = options.maxKeys ?? MAX_KEYS_PER_COUNTER;
  const now = options.now ?? (() => performance.now());
  // One counter per limit and window: a reload that changes CORRAL_RATE_LIMIT starts the new limit
  // from fresh windows instead of judging old counts by it. While a reload runs, workers of both
  // generations count side by side, each against its own limit.
  const counters = new Map<string, Counter>();
  const counterFor = (limit: number, windowSeconds: number): Counter => {
    const id = `${limit}/${windowSeconds}`;
    let counter = counters.get(id);
    if (!counter) {
      counter = new Counter(limit, windowSeconds, maxKeys, options.room);
      counters.set(id, counter);
    }
    return counter;
  };
  return {
    async hit(key, limit, options) {
      checkedCounterKey(key);
      return counterFor(limit, checkedCounterWindow(limit, options)).hit(key, now());
    },
    async peek(key, limit, options) {
      checkedCounterKey(key);
      return counterFor(limit, checkedCounterWindow(limit, options)).peek(key, now());
    },
    keys() {
      let n = 0;
      for (const c of counters.values()) n += c.size;
      return n;
    },
  };
}
