// When the flusher tries again after a failed call: per batch of entries (their attempts) and per
// target range (its failures in a row, range-holds.ts), Google's truncated exponential backoff,
// never before Google's Retry-After, and for an append that may have been applied never before
// SHEETS_UNSURE_DELAY. And whether a failed append may have been applied.

import { backoffMs } from './backoff.js';
import type { Clock } from './clock.js';
import type { JournalEntry } from './journal.js';
import { RangeHolds } from './range-holds.js';

/** Google's Retry-After of a failed call, in ms (0 when it gave none). */
function askedWaitMs(err: unknown): number {
  const asked = (err as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  return typeof asked === 'number' && Number.isFinite(asked) && asked > 0 ? asked : 0;
}

export function appliedOf(err: unknown): 'no' | 'maybe' {
  const e = err as { applied?: unknown; code?: unknown } | null;
  // A full or closed quota queue refuses before anything is sent.
  if (e?.code === 'CORRAL_ERR_QUEUE_FULL') return 'no';
  return e?.applied === 'no' ? 'no' : 'maybe';
}

/**
 * The most attempts any of `entries` has had, at least 1. A loop, not Math.max(...entries): a
 * backlog of more entries than V8 takes arguments (about 120k, a long outage) would throw.
 */
function mostAttempts(entries: readonly JournalEntry[]): number {
  let most = 1;
  for (const e of entries) if (e.attempts > most) most = e.attempts;
  return most;
}

export class FlushRetries {
  /** Ranges left alone after a failed call until their backoff has passed. */
  private readonly holds = new RangeHolds();

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly unsureDelayMs: number,
  ) {}

  /** Whether `range` is still waiting out a failure now. */
  isHeld(range: string): boolean {
    return this.holds.isHeld(range, this.clock.now());
  }

  /** When `range` may be tried again (0: at once). */
  heldUntil(range: string): number {
    return this.holds.until(range);
  }

  /** An append to `range` succeeded: its next failure starts from the first backoff again. */
  succeed(range: string): void {
    this.holds.succeed(range);
  }

  /**
   * When entries of `range` that just failed with `err` are tried again: the backoff of their own
   * attempts, or of the range's failures in a row when that is more (rows journaled during an
   * outage have had one attempt, the range many), and never before Google's Retry-After.
   */
  retryAt(range: string, entries: readonly JournalEntry[], applied: 'no' | 'maybe', err?: unknown, random: () => number = this.random): number {
    const attempts = Math.max(mostAttempts(entries), this.holds.failures(range) + 1);
    const wait = Math.max(backoffMs(attempts, random), askedWaitMs(err));
    return this.clock.now() + (applied === 'maybe' ? Math.max(wait, this.unsureDelayMs) : wait);
  }

  /**
   * A call for `range` carrying `entries` failed with `err`: the range is held (hold()), and the
   * time the entries are tried again is returned (retryAt()), both of one draw of the jitter. Two
   * draws left the entries due up to a second after the range's hold ended, and the rows journaled
   * meanwhile, due at once, went out first: after a refusal Google certainly did not apply (a 429,
   * connection refused, a 403 while the sheet was unshared), rows acknowledged later landed above
   * those refused, a whole backlog above its oldest batch. Entries tried more often than the range
   * failed in a row (one Google refuses alone, sent again with newer rows) still wait longer.
   */
  failed(range: string, entries: readonly JournalEntry[], applied: 'no' | 'maybe', err?: unknown): number {
    const jitter = this.random();
    const once = (): number => jitter;
    const retryAt = this.retryAt(range, entries, applied, err, once);
    this.hold(range, err, once);
    return retryAt;
  }

  /**
   * A call for `range` failed: no call for it, old rows or new, until its backoff has passed, nor
   * before Google's Retry-After (the client ends a call whose Retry-After passes 32 s; retrying sooner
   * than asked only spends quota on refusals).
   */
  hold(range: string, err?: unknown, random: () => number = this.random): void {
    const wait = Math.max(backoffMs(this.holds.failures(range) + 1, random), askedWaitMs(err));
    this.holds.fail(range, this.clock.now() + wait);
  }
}
