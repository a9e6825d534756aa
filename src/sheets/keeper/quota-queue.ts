// The quota bucket's queue (quota.ts): the callers waiting for a token, FIFO but for those that
// go first, who the next free token goes to, and the room left for one more. A file of its own:
// when a token frees is the bucket's to decide (its window, its ceiling, its pauses); this is only
// who waits and in what order, each waiter leaving the queue when its signal aborts.

export interface Waiter {
  /** Whether it goes before the waiters that do not (asked when a token frees); undefined: never. */
  goesFirst: (() => boolean) | undefined;
  /** What it waits for (a read's cause), so that its turn can be asked (QuotaBucket.msUntilTurn); undefined: none. */
  owner: object | undefined;
  /** With the grant's time. */
  resolve: (at: number) => void;
  reject: (err: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class QuotaQueue {
  private readonly waiters: Waiter[] = [];
  /** Waiters with a goesFirst: while none is queued, the head goes without a look at the others. */
  private ranked = 0;

  get length(): number {
    return this.waiters.length;
  }

  /** Waiters that go first now (each asked), for a turn's wait (QuotaBucket.msUntilTurn). */
  goingFirst(): number {
    return this.waiters.filter((w) => w.goesFirst?.() === true).length;
  }

  /**
   * The waiters that go first now queued before the one of `owner` (it goes first too, or will
   * once a client joins it: FIFO among those), or undefined when none of `owner` is queued.
   */
  goingFirstBefore(owner: object): number | undefined {
    const i = this.waiters.findIndex((w) => w.owner === owner);
    if (i < 0) return undefined;
    let ahead = 0;
    for (let j = 0; j < i; j++) if (this.waiters[j]?.goesFirst?.() === true) ahead++;
    return ahead;
  }

  /** Queues `waiter` last; its signal, if any, takes it out of the queue and rejects it. */
  add(waiter: Waiter): void {
    const { signal, reject } = waiter;
    if (signal) {
      waiter.onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.dequeue(i);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    this.waiters.push(waiter);
    if (waiter.goesFirst) this.ranked++;
  }

  /**
   * Whether a waiter that goes first may queue past maxQueue: up to maxQueue of them wait, whatever
   * the others. Background reads filling the queue (a keeper restarted with the minute spent, many
   * ranges gone stale) refused a client's read at once, which would have had the next token.
   */
  roomGoingFirst(goesFirst: (() => boolean) | undefined, maxQueue: number): boolean {
    if (goesFirst?.() !== true) return false;
    let first = 0;
    for (const w of this.waiters) if (w.goesFirst?.() === true) first++;
    return first < maxQueue;
  }

  /** The index of the waiter the next token goes to: the first that goes first, else the head. */
  nextWaiter(): number {
    if (this.ranked === 0) return 0;
    const i = this.waiters.findIndex((w) => w.goesFirst?.() === true);
    return i < 0 ? 0 : i;
  }

  dequeue(i: number): Waiter {
    const [w] = this.waiters.splice(i, 1) as [Waiter];
    if (w.goesFirst) this.ranked--;
    return w;
  }

  /** Every waiter, oldest first, taken out of the queue (the bucket's close refuses them). */
  takeAll(): Waiter[] {
    this.ranked = 0;
    return this.waiters.splice(0);
  }
}
