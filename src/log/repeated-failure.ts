// A failure that repeats for as long as its cause lasts (every append on a full disk, every request
// while the keeper is down, every wrong admin token of a script in a loop), said the way an
// operator can read it during an outage: the first occurrence at once, with its cause; then at most
// once per interval with how many occurred since the line before; then one line when it stops. One
// line per occurrence would bury the log in the same line (and may fill the disk the log is on).
//
// This only counts and decides when a line is due: the caller writes the line, with its own event
// name and fields.
//
// A cause that comes back within seconds of each end (a Redis stalling every few seconds) would
// get one "failed" line, one "ended" line, and then silence for up to the interval while it goes
// on: the log said it was over while it was not. With `settleMs`, an end is said only once that
// long passed without a failure (flush(), which the caller's timer calls); a failure before then
// is the same one going on, counted in its lines. A failure after an end said so is a new one, and
// is said at once: the interval ran on across ends, and an outage of Redis starting within a
// minute of the previous one's first line (and ending within that minute) left no line at all,
// after a "recovered" that the log then never contradicted. Flapping faster than `settleMs` is
// one failure, so this is at most two lines per outage that lasted and ended.

import { monotonicNow } from '../clock.js';

/** While a failure lasts, it is said again at most this often. */
export const FAILURE_REPEAT_MS = 60_000;

export class RepeatedFailure {
  /** Occurrences since the failure began, and since the last line. */
  private total = 0;
  private unsaid = 0;
  private saidAt = -Infinity;
  /** Whether this failure got a line (else its end is not said either). */
  private said = false;
  /** An end not said yet (`settleMs`): said once it lasted that long, undone by a failure before. */
  private ending: { readonly at: number; readonly total: number; readonly said: boolean; readonly say: (total: number) => void } | undefined;

  constructor(
    private readonly now: () => number = monotonicNow,
    private readonly repeatMs: number = FAILURE_REPEAT_MS,
    private readonly settleMs = 0,
  ) {}

  /** Whether a failure is in progress (occurred, and has not ended since). */
  get failing(): boolean {
    return this.total > 0;
  }

  /**
   * Counts one occurrence; calls `say` when a line is due (the first, then at most once per
   * interval) with the occurrences since the last line, this one included, and since the start.
   */
  failed(say: (sinceLastLine: number, total: number) => void): void {
    this.flush();
    if (this.ending) {
      // Back before its end was said: the same failure, going on.
      this.total = this.ending.total;
      this.said = this.ending.said;
      this.ending = undefined;
    }
    this.total++;
    this.unsaid++;
    const now = this.now();
    if (now - this.saidAt < this.repeatMs) return;
    say(this.unsaid, this.total);
    this.unsaid = 0;
    this.saidAt = now;
    this.said = true;
  }

  /**
   * Milliseconds until the occurrences counted since the last line may be said (0: now), or
   * undefined when none wait. For a caller that says them on a timer (laterLines): without one,
   * a burst shorter than the interval stayed at its first line's count until the next occurrence,
   * which after a burst of guessed tokens may never come.
   */
  unsaidDueInMs(): number | undefined {
    if (this.total === 0 || this.unsaid === 0) return undefined;
    return Math.max(0, this.saidAt + this.repeatMs - this.now());
  }

  /** Says the occurrences counted since the last line once the interval has passed; false when none is due. */
  sayUnsaid(say: (sinceLastLine: number, total: number) => void): boolean {
    if (this.unsaidDueInMs() !== 0) return false;
    say(this.unsaid, this.total);
    this.unsaid = 0;
    this.saidAt = this.now();
    this.said = true;
    return true;
  }

  /**
   * Calls `say` now, whatever the interval, with the occurrences since the last line and since the
   * start: for a turn of the failure an operator must hear of at once (a cached copy no longer
   * served). The interval starts again from this line.
   */
  sayNow(say: (sinceLastLine: number, total: number) => void): void {
    this.flush();
    say(this.unsaid, this.total);
    this.unsaid = 0;
    this.saidAt = this.now();
    this.said = this.said || this.total > 0;
  }

  /**
   * The failure is over: calls `say` with how many occurred, once, if its failure was said. The
   * interval runs on: a cause that comes and goes (a nearly full disk, a flaky upstream) is still a
   * line a minute, not two per flip; a failure that got no line is counted in the next one.
   */
  ended(say: (total: number) => void): void {
    if (this.total === 0) {
      this.flush();
      return;
    }
    const total = this.total;
    const said = this.said;
    this.total = 0;
    this.said = false;
    if (this.settleMs > 0) {
      // Not failing any more (failing is false), but said only once it stays so (flush()).
      this.ending = { at: this.now(), total, said, say };
      return;
    }
    if (!said) return;
    this.unsaid = 0;
    say(total);
  }

  /**
   * Says an end that lasted `settleMs` without a failure (once, if its failure was said); the
   * caller calls it when that time has passed. Nothing before then, or without an end pending.
   */
  flush(): void {
    const e = this.ending;
    if (!e || this.now() - e.at < this.settleMs) return;
    this.ending = undefined;
    if (!e.said) return;
    this.unsaid = 0;
    this.saidAt = -Infinity;
    e.say(e.total);
  }
}

/**
 * One RepeatedFailure per key (a route and its error, say), so one failure repeating does not hide
 * another. At most `maxKeys` are followed: past that the oldest is dropped (its next occurrence is
 * said again as a first), so keys made of what clients send cannot grow it without bound.
 */
export class RepeatedFailures {
  private readonly byKey = new Map<string, RepeatedFailure>();

  constructor(
    private readonly now: () => number = monotonicNow,
    private readonly maxKeys = 100,
  ) {}

  /** Whether `key` is followed (it failed, and was not dropped past `maxKeys`). */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  failed(key: string, say: (sinceLastLine: number, total: number) => void): void {
    let failure = this.byKey.get(key);
    if (!failure) {
      if (this.byKey.size >= this.maxKeys) this.byKey.delete(this.byKey.keys().next().value as string);
      failure = new RepeatedFailure(this.now);
      this.byKey.set(key, failure);
    }
    failure.failed(say);
  }

  /**
   * The failure of `key` is over: said once, as RepeatedFailure.ended. The key is kept (up to
   * `maxKeys`), so a cause that comes and goes stays at a line a minute.
   */
  ended(key: string, say: (total: number) => void): void {
    this.byKey.get(key)?.ended(say);
  }
}

/**
 * Says on a timer what `failure` counted after its last line, once the interval has passed: call
 * `after()` after each failed(). For failures that may come in one burst and stop (refused admin
 * tokens), whose count would otherwise wait for an occurrence that never comes. The timer is
 * unref'd; close() drops it.
 */
export function laterLines(failure: RepeatedFailure, say: (sinceLastLine: number, total: number) => void): { after(): void; close(): void } {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const after = (): void => {
    const due = failure.unsaidDueInMs();
    if (closed || timer !== undefined || due === undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      failure.sayUnsaid(say);
      // Fired a little early (wall clock against timers), or more came meanwhile: again.
      after();
    }, due);
    timer.unref?.();
  };
  return {
    after,
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
