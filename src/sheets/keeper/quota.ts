// The host-wide quota bucket. Google counts requests per minute per project; a classic refilling
// token bucket (capacity N, N/60 tokens a second) lets 2N calls through in some 60 s windows, which
// is exactly how the old setup drew 429s. Here each token comes back 61 s after it was spent
// (a sliding-window log; QUOTA_WINDOW_MS says why the second), so no 60 s window ever holds more
// than N grants, whatever the callers do.
// Callers that find no token wait in a bounded queue; a full queue fails fast with
// CORRAL_ERR_QUEUE_FULL instead of piling up work that would time out anyway (waiters that go
// first have a queue's worth of room of their own, so at most twice maxQueue wait). The queue is FIFO
// but for one rule: a waiter that says it goes first (a read a client waits for, read-cause.ts)
// takes the next free token before those that do not (background refreshes, whose readers were
// answered already). Which waiters go first is asked each time a token frees, so one can be
// promoted while it waits. The others go whenever no such waiter is queued: delayed while clients
// wait, not refused. Only reads that clients wait for coming as fast as tokens free could hold
// them back for long, and each of those fills a range that is then served without Google for the
// TTL and the max staleness, so that lasts no longer than a cold cache does.
// The queue itself, who waits and who the next token goes to, is quota-queue.ts.

import { CorralError, RetryLaterError } from '../../errors.js';
import { sleepOn, systemClock, type Clock } from './clock.js';
import { QuotaQueue } from './quota-queue.js';

/**
 * How long a token is held: Google's minute, and a second more. Google counts a call when it
 * arrives, corral when it grants it: grants 60.0 s apart reached Google a few ms closer (a later
 * grant sent faster than an earlier one), and its minute then held one call over the limit, as
 * the emulator counted in an audit (11 of 10 in windows of 59,991 to 59,999 ms). The second covers
 * the spread of the time from grant to arrival; it costs under 2 % of the quota.
 */
export const QUOTA_WINDOW_MS = 61_000;
/** Google's minute, the one `perMinute` counts in: a pace, where QUOTA_WINDOW_MS is how long a token is held. */
export const QUOTA_MINUTE_MS = 60_000;

/** The two quotas Google counts apart, per minute: reads and writes. */
export type QuotaKind = 'read' | 'write';

export interface QuotaOptions {
  readonly name: string;
  readonly perMinute: number;
  /** Waiters beyond this are refused (CORRAL_ERR_QUEUE_FULL); those that go first, beyond this many of them. */
  readonly maxQueue: number;
  readonly clock?: Clock;
}

export class QuotaBucket {
  readonly name: string;
  readonly perMinute: number;
  readonly maxQueue: number;
  private readonly clock: Clock;
  /** Times of grants, oldest first; entries before `head` have left the window. */
  private grants: number[] = [];
  private head = 0;
  private readonly waiters = new QuotaQueue();
  private timer: unknown;
  private closed = false;
  private granted = 0;
  private refused = 0;
  /** Grants that went ahead of a waiter queued before them (goesFirst). */
  private ahead = 0;
  private onGrant: ((at: number, movedFrom?: number) => void) | undefined;
  /**
   * Google's 429 said its quota is lower than `perMinute` (quota-refusals.ts): no 60 s window
   * holds more grants than this, and none is made before `pausedUntil`.
   */
  private ceiling: number | undefined;
  private pausedUntil = 0;

  constructor(options: QuotaOptions) {
    this.name = options.name;
    this.perMinute = options.perMinute;
    this.maxQueue = options.maxQueue;
    this.clock = options.clock ?? systemClock;
  }

  private prune(now: number): void {
    while (this.head < this.grants.length && (this.grants[this.head] ?? 0) <= now - QUOTA_WINDOW_MS) this.head++;
    // Compact now and then instead of shift()ing: O(1) amortised even at 100k/min.
    if (this.head > 1024 && this.head * 2 > this.grants.length) {
      this.grants = this.grants.slice(this.head);
      this.head = 0;
    }
  }

  /** Grants inside the current window. */
  private inWindow(): number {
    return this.grants.length - this.head;
  }

  /** Grants a window may hold now: perMinute, or less while Google refuses more (limitTo). */
  limit(): number {
    return Math.min(this.perMinute, this.ceiling ?? this.perMinute);
  }

  /** Tokens available right now. */
  tokensLeft(): number {
    const now = this.clock.now();
    this.prune(now);
    return now < this.pausedUntil ? 0 : Math.max(0, this.limit() - this.inWindow());
  }

  /** Grants in the last window (the ones still counted). */
  grantsInWindow(): number {
    this.prune(this.clock.now());
    return this.inWindow();
  }

  /**
   * Holds the window to `limit` grants (undefined: perMinute again); the waiters go as it allows.
   * Google's 429 said its quota is lower than this bucket's setting.
   */
  limitTo(limit: number | undefined): void {
    this.ceiling = limit === undefined ? undefined : Math.max(1, Math.floor(limit));
    this.reschedule();
  }

  /** No grant before `until` (a time of the bucket's clock): Google asked to wait (Retry-After), or its 429s back off. */
  pauseUntil(until: number): void {
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.reschedule();
  }

  private reschedule(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.closed) this.schedule();
  }

  queued(): number {
    return this.waiters.length;
  }

  /** Grants handed out since start, and those of them that went ahead of earlier waiters (for figures and tests). */
  stats(): { granted: number; refused: number; queued: number; tokensLeft: number; ahead: number } {
    return { granted: this.granted, refused: this.refused, queued: this.waiters.length, tokensLeft: this.tokensLeft(), ahead: this.ahead };
  }

  private take(now: number): void {
    this.grants.push(now);
    this.granted++;
    // Before the caller's request leaves: a grant the ledger has not seen must not reach Google.
    this.onGrant?.(now);
  }

  /**
   * Called synchronously after every grant, with its time (the keeper's quota ledger records it),
   * and when a grant is dated again (`movedFrom`: its former time; see sentAt).
   */
  setGrantListener(listener: ((at: number, movedFrom?: number) => void) | undefined): void {
    this.onGrant = listener;
  }

  /**
   * Dates the grant made at `grantedAt` now, as the call it paid for leaves only now: with
   * REDIS_URL a call waits in the hosts' shared window after its host's grant, for seconds when
   * the shared minute is spent. Dated at the grant, the token came back that much early, and a
   * keeper restarted meanwhile restored it so from the ledger: a call or two over in Google's
   * minute, after a keeper crash with Redis's data lost. The same for a call that waited for a
   * connection of the HTTP pool (pacing.ts), when it left `minLateMs` or more after it. Returns
   * the grant's date now.
   */
  sentAt(grantedAt: number, minLateMs = 0): number {
    const now = this.clock.now();
    if (now <= grantedAt || now - grantedAt < minLateMs) return grantedAt;
    this.prune(now);
    // A grant that left the window while its call waited (over QUOTA_WINDOW_MS in the shared
    // window) is counted again from now all the same: the call leaves now, and returning early
    // left it uncounted by this bucket and by the ledger a restarted keeper reads.
    const i = this.grants.lastIndexOf(grantedAt);
    if (i >= this.head) this.grants.splice(i, 1);
    // Every grant so far was made by now: the log stays in order.
    this.grants.push(now);
    this.onGrant?.(now, grantedAt);
    return now;
  }

  /** Grant times still inside the window, oldest first (what a ledger keeps). */
  recentGrants(): number[] {
    this.prune(this.clock.now());
    return this.grants.slice(this.head);
  }

  /**
   * Counts grants a previous keeper made (from the ledger) in this bucket's window, so a restart
   * does not hand out a fresh minute of tokens. Times older than the window are dropped; times
   * ahead of the clock (the wall clock stepped back) count as now, which holds their token a
   * full window rather than longer.
   */
  restore(times: readonly number[]): void {
    const now = this.clock.now();
    const kept = times.filter((t) => Number.isFinite(t) && t > now - QUOTA_WINDOW_MS).map((t) => Math.min(t, now));
    this.grants = [...kept, ...this.grants.slice(this.head)].sort((a, b) => a - b);
    this.head = 0;
  }

  /** Milliseconds until a token is free (0: one is free now and nobody is queued ahead). */
  msUntilFree(): number {
    const now = this.clock.now();
    this.prune(now);
    if (this.waiters.length > 0) return Math.max(1, this.nextReleaseMs(now));
    return this.nextReleaseMs(now);
  }

  /**
   * Milliseconds until a caller asking now would be granted a token: behind the waiters it would
   * queue after (those that go first, for one that goes first; every waiter, for one that does
   * not), each taking a token before it. msUntilFree() is the head's wait: with ten client reads
   * queued and the first token back 0.3 s away, a read of another range asked it, was told 0.3 s,
   * went on, and waited behind the ten for the next minute (held to the worker's 15 s bound). A
   * turn past the tokens the window's grants give back is a window away at least (the waiters'
   * own grants must leave it first): QUOTA_WINDOW_MS, a lower bound.
   *
   * `joined`: the owner (acquire()) of a waiter already queued that the caller joins, made to go
   * first: its turn is behind the waiters going first queued before it, not the head's. With the
   * minute spent and ten client reads queued, a second reader of the tenth range was told the
   * head's 0.3 s, let through, and held behind the nine (the worker's bound, then 503 all the
   * same). One not queued (its fetch not yet asking, or granted): a new read's turn.
   */
  msUntilTurn(goesFirst: boolean, joined?: object): number {
    const now = this.clock.now();
    this.prune(now);
    const before = joined === undefined ? undefined : this.waiters.goingFirstBefore(joined);
    const ahead = before ?? (goesFirst ? this.waiters.goingFirst() : this.waiters.length);
    const paused = Math.max(0, this.pausedUntil - now);
    const limit = this.limit();
    if (ahead < limit - this.inWindow()) return paused;
    // The grant whose leaving frees this caller's token (never before `head`: `ahead` is at least
    // the tokens free); past the log, one of the waiters' own grants, a window away at least.
    const leaving = this.grants[this.grants.length - limit + ahead];
    if (leaving === undefined) return Math.max(paused, QUOTA_WINDOW_MS);
    return Math.max(paused, leaving + QUOTA_WINDOW_MS - now, ahead > 0 ? 1 : 0);
  }

  /**
   * Milliseconds until a token is free and the last grant is a pace old: QUOTA_WINDOW_MS /
   * limit(), about a second at 60 a minute (three at a ceiling of 20 Google's 429s taught). For a
   * taker that calls all the time (the flusher's timed passes): taken as soon as free, the
   * minute's tokens went in a burst (60 appends in 30 s at a pass every 500 ms), then none came
   * back for the rest of the window, and every row acknowledged meanwhile waited up to 55 s for
   * the sheet (and a stop then had no token to send them with). Paced, a token comes back every
   * pace, and a call after a quiet spell still goes at once. The window's length and not Google's
   * minute: a grant a window ago leaves as the next is due, where at QUOTA_MINUTE_MS / limit()
   * the 61st waited a second more for it, once a window. The window's bound is unchanged: the
   * pace only delays.
   */
  msUntilPaced(): number {
    const free = this.msUntilFree();
    // msUntilFree pruned the log: its last grant, if any, is inside the window.
    const last = this.grants.length > this.head ? this.grants[this.grants.length - 1] : undefined;
    if (last === undefined) return free;
    return Math.max(free, last + QUOTA_WINDOW_MS / this.limit() - this.clock.now());
  }

  /**
   * Resolves once a token is free, without taking it. For a caller that must do something durable
   * before it spends the token (the flusher journals a send) and is the bucket's only taker, so
   * the token is still free when it asks for it.
   */
  whenFree(signal?: AbortSignal): Promise<void> {
    return this.waitFor(() => this.msUntilFree(), signal);
  }

  /** whenFree, and a pace after the last grant (msUntilPaced). */
  whenPaced(signal?: AbortSignal): Promise<void> {
    return this.waitFor(() => this.msUntilPaced(), signal);
  }

  private async waitFor(msUntil: () => number, signal?: AbortSignal): Promise<void> {
    for (let wait = msUntil(); wait > 0; wait = msUntil()) {
      if (this.closed) throw new CorralError('CORRAL_ERR_QUEUE_FULL', `${this.name} quota bucket is closed`);
      await sleepOn(this.clock, wait, signal);
    }
  }

  /** When the grant `limit()` places back leaves the window (0 when under the limit), and no pause holds. */
  private nextReleaseMs(now: number): number {
    const limit = this.limit();
    const blocking = this.grants[this.grants.length - limit];
    const slot = this.inWindow() < limit || blocking === undefined ? 0 : Math.max(0, blocking + QUOTA_WINDOW_MS - now);
    return Math.max(slot, this.pausedUntil - now);
  }

  /** Takes a token if one is free now, without queueing; never ahead of a waiter, whatever its rank. */
  tryAcquire(): boolean {
    return this.tryTake() !== undefined;
  }

  /** tryAcquire, with the grant's time as the log holds it (undefined: no token now). */
  private tryTake(): number | undefined {
    if (this.closed || this.waiters.length > 0) return undefined;
    const now = this.clock.now();
    this.prune(now);
    if (now < this.pausedUntil || this.inWindow() >= this.limit()) return undefined;
    this.take(now);
    return now;
  }

  /**
   * Resolves when a token is granted; queues (bounded) while none is free. A waiter whose
   * `goesFirst` says true when a token frees takes it before those queued without, FIFO within
   * each kind; it is asked then, not now, so it may turn true while the waiter waits. `owner`
   * names the waiter for msUntilTurn(joined).
   */
  acquire(signal?: AbortSignal, goesFirst?: () => boolean, owner?: object): Promise<number> {
    if (this.closed) return Promise.reject(new CorralError('CORRAL_ERR_QUEUE_FULL', `${this.name} quota bucket is closed`));
    if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    // The time the grant was logged at, not a second reading of the clock: the keeper's clock has
    // fractions of a millisecond, so a second reading differs, and sentAt() found no grant of
    // that time and left the grant dated before its wait in the hosts' shared window.
    const grantedAt = this.tryTake();
    if (grantedAt !== undefined) return Promise.resolve(grantedAt);
    if (this.waiters.length >= this.maxQueue && !this.waiters.roomGoingFirst(goesFirst, this.maxQueue)) {
      this.refused++;
      // With the wait for the next token: the app's 503 says it in Retry-After (it said 2 s while
      // the next token was 50 s away, and every retry met the same full queue).
      return Promise.reject(new RetryLaterError('CORRAL_ERR_QUEUE_FULL', `${this.name} queue is full (${this.maxQueue} waiting for the ${this.perMinute}/min quota)`, this.msUntilFree()));
    }
    return new Promise<number>((resolve, reject) => {
      this.waiters.add({ goesFirst, owner, resolve, reject, signal, onAbort: undefined });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer !== undefined || this.waiters.length === 0) return;
    const now = this.clock.now();
    this.prune(now);
    // The waiter at the head can go when the grant limit() places back leaves the window (and no pause holds).
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.release();
    }, this.nextReleaseMs(now));
  }

  private release(): void {
    const now = this.clock.now();
    this.prune(now);
    while (this.waiters.length > 0 && now >= this.pausedUntil && this.inWindow() < this.limit()) {
      const next = this.waiters.nextWaiter();
      if (next > 0) this.ahead++;
      const w = this.waiters.dequeue(next);
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      this.take(now);
      w.resolve(now);
    }
    this.schedule();
  }

  /** Refuses everything still waiting; used on drain. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiters.takeAll()) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.reject(new CorralError('CORRAL_ERR_QUEUE_FULL', `${this.name} quota bucket closed while waiting`));
    }
  }
}
