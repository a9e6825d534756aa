// The errors a request handler throws, said the way an operator can read them during a bug: each
// distinct failure once with its stack, then at most once a minute with the count (RepeatedFailures).
//
// A failure is told apart by what failed, not by where the request went: its method, code, message
// and the frame it was thrown at. Keyed by the request's path, a route with an id in its path
// (`/api/items/123`), or a scanner's random paths, made every request a first occurrence: a line
// with its stack per request (65 000 lines in 5 s, 52 MB of log). The path stays a field of the
// line (the latest request's).
//
// A message that itself holds the path (`no item 123`) is still a new failure per request: past
// FIRST_LINES_PER_MINUTE first lines in a minute, the others are counted, not said, and one line
// says how many (at the first so held, and once the minute is over: at the next failure, or by a
// timer if none comes, so a storm's last minute is counted too).

import { monotonicNow } from '../clock.js';
import { RepeatedFailures } from './repeated-failure.js';

/** Distinct failures said one by one within a minute; the rest are counted in a line of their own. */
export const FIRST_LINES_PER_MINUTE = 10;
const MINUTE_MS = 60_000;

/** The frame an error was thrown at (its stack's first `at` line), or '' when it has none. */
export function thrownAt(stack: string | undefined): string {
  if (!stack) return '';
  for (const line of stack.split('\n')) {
    const t = line.trim();
    if (t.startsWith('at ')) return t;
  }
  return '';
}

export interface RequestFailure {
  readonly method: string | undefined;
  readonly code?: string | undefined;
  readonly message: string;
  readonly stack?: string | undefined;
}

export interface HeldFailures {
  /** Distinct failures not said one by one since the last such line. */
  readonly held: number;
  /** Whether this is the first held in the minute (else the count once the minute is over). */
  readonly first: boolean;
}

export class RequestErrorLog {
  private readonly failures: RepeatedFailures;
  private minuteStart = -Infinity;
  private firstLines = 0;
  private held = 0;

  constructor(
    private readonly sayHeld: (h: HeldFailures) => void,
    private readonly now: () => number = monotonicNow,
    private readonly schedule: (fn: () => void, ms: number) => void = (fn, ms) => void setTimeout(fn, ms).unref(),
  ) {
    this.failures = new RepeatedFailures(now);
  }

  /** Says the held count of a minute that is over, if no failure since has. */
  private sayHeldCount(): void {
    if (this.held === 0 || this.now() - this.minuteStart < MINUTE_MS) return;
    this.sayHeld({ held: this.held, first: false });
    this.held = 0;
  }

  /** Counts a failure; calls `say` when its line is due, with the requests it failed since the last. */
  failed(f: RequestFailure, say: (requests: number) => void): void {
    const now = this.now();
    if (now - this.minuteStart >= MINUTE_MS) {
      this.sayHeldCount();
      this.minuteStart = now;
      this.firstLines = 0;
      this.held = 0;
    }
    const key = `${f.method ?? ''} ${f.code ?? ''} ${f.message} ${thrownAt(f.stack)}`;
    // Held, a failure is not followed either: followed, it counted as said, and a new bug coming
    // after a scanner spent the minute's lines was silent for a minute more.
    if (!this.failures.has(key) && this.firstLines >= FIRST_LINES_PER_MINUTE) {
      this.held++;
      if (this.held === 1) {
        this.sayHeld({ held: 1, first: true });
        this.schedule(() => this.sayHeldCount(), this.minuteStart + MINUTE_MS - now);
      }
      return;
    }
    this.failures.failed(key, (requests, total) => {
      if (total === 1) this.firstLines++;
      say(requests);
    });
  }
}
