// Push invalidation for the workers' L1 caches: each worker keeps one long-poll `GET /watch`
// open; the keeper answers it as soon as a tab changed (new upstream value, new journaled rows).
// Versions restart with the keeper, so each boot has its own `epoch`: a worker that sees a new
// epoch, or asks about versions older than the retained history, drops its whole L1.

import { randomUUID } from 'node:crypto';

export interface WatchAnswer {
  readonly epoch: string;
  readonly version: number;
  /** Tabs changed after the asked version; `all: true` = drop everything. */
  readonly sheets: readonly string[];
  readonly all: boolean;
}

interface Waiting {
  since: number;
  epoch: string | undefined;
  done: (a: WatchAnswer) => void;
  timer: NodeJS.Timeout;
  /** The caller's signal and what it was given: taken off once the waiter leaves. */
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

const HISTORY = 1024;

export class ChangeFeed {
  readonly epoch = randomUUID();
  private version = 0;
  /** Recent changes, oldest first: [version, sheet]. */
  private readonly history: Array<[number, string]> = [];
  private readonly waiting = new Set<Waiting>();

  current(): number {
    return this.version;
  }

  publish(sheet: string): void {
    this.version++;
    this.history.push([this.version, sheet]);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    for (const w of [...this.waiting]) this.answer(w);
  }

  private since(since: number, epoch: string | undefined): WatchAnswer {
    const base = { epoch: this.epoch, version: this.version };
    // First watch (no epoch yet) learns where the feed stands; an old epoch means the keeper
    // restarted and the worker cannot know what changed meanwhile.
    if (epoch !== this.epoch) return { ...base, sheets: [], all: epoch !== undefined };
    if (since >= this.version) return { ...base, sheets: [], all: false };
    const oldest = this.history[0]?.[0] ?? this.version + 1;
    if (since < oldest - 1) return { ...base, sheets: [], all: true };
    const sheets = new Set<string>();
    for (const [v, s] of this.history) if (v > since) sheets.add(s);
    return { ...base, sheets: [...sheets], all: false };
  }

  private answer(w: Waiting): void {
    const a = this.since(w.since, w.epoch);
    if (a.sheets.length === 0 && !a.all) return;
    this.leave(w, a);
  }

  /** Takes `w` off the list, its timer and its signal's listener with it, and answers it `a`. */
  private leave(w: Waiting, a: WatchAnswer): void {
    this.waiting.delete(w);
    clearTimeout(w.timer);
    w.signal?.removeEventListener('abort', w.onAbort);
    w.done(a);
  }

  private nothing(): WatchAnswer {
    return { epoch: this.epoch, version: this.version, sheets: [], all: false };
  }

  /** Long polls waiting for a change now. */
  waiters(): number {
    return this.waiting.size;
  }

  /**
   * Answers at once when something changed after `since` (or the epoch differs), else when the
   * next change comes or after `timeoutMs` with an empty list. `signal`: the asker is gone (its
   * connection closed): the waiter leaves at once, answered an empty list nobody reads. Else a
   * worker recycled or killed mid-poll left its waiter and timer for up to WATCH_TIMEOUT_MS, one
   * per recycle, each answered at its change or timeout to a closed socket.
   */
  wait(since: number, epoch: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<WatchAnswer> {
    return new Promise((resolve) => {
      const now = this.since(since, epoch);
      if (now.sheets.length > 0 || now.all || epoch !== this.epoch || signal?.aborted) {
        resolve(now);
        return;
      }
      const w: Waiting = {
        since,
        epoch,
        done: resolve,
        timer: setTimeout(() => this.leave(w, this.nothing()), timeoutMs),
        signal,
        onAbort: () => this.leave(w, this.nothing()),
      };
      signal?.addEventListener('abort', w.onAbort, { once: true });
      this.waiting.add(w);
    });
  }

  /** Answers every waiter now (drain); idempotent. */
  close(): void {
    for (const w of [...this.waiting]) this.leave(w, this.nothing());
  }
}
