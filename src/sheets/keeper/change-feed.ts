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
    this.waiting.delete(w);
    clearTimeout(w.timer);
    w.done(a);
  }

  /**
   * Answers at once when something changed after `since` (or the epoch differs), else when the
   * next change comes or after `timeoutMs` with an empty list.
   */
  wait(since: number, epoch: string | undefined, timeoutMs: number): Promise<WatchAnswer> {
    return new Promise((resolve) => {
      const w: Waiting = {
        since,
        epoch,
        done: resolve,
        timer: setTimeout(() => {
          this.waiting.delete(w);
          resolve({ epoch: this.epoch, version: this.version, sheets: [], all: false });
        }, timeoutMs),
      };
      const now = this.since(since, epoch);
      if (now.sheets.length > 0 || now.all || epoch !== this.epoch) {
        clearTimeout(w.timer);
        resolve(now);
        return;
      }
      this.waiting.add(w);
    });
  }

  /** Answers every waiter now (drain); idempotent. */
  close(): void {
    for (const w of [...this.waiting]) {
      this.waiting.delete(w);
      clearTimeout(w.timer);
      w.done({ epoch: this.epoch, version: this.version, sheets: [], all: false });
    }
  }
}
