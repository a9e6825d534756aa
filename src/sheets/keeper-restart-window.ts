// The time in which a worker knows the keeper is away and coming back: the master drains it to
// start a new one (a reload changed its settings, or corral's build), or starts one in place of a
// keeper that crashed while serving (within a second: not in a crash loop), and says so over IPC. The old keeper
// refuses appends while it drains, and its socket is gone until the new one listens: drain (up to
// 5 s) plus boot (0.3 to 1.2 s measured). The link's ordinary single retry after 500 ms was
// shorter than that, so writes made during such a reload were answered 503 (audit: 50 of 447).
// Calls that cannot reach the keeper inside the window wait for the new one instead, up to the
// window's end, and go as soon as the master says it is ready.

import { monotonicNow } from '../clock.js';

export class KeeperRestartWindow {
  /** When the window closes by itself (the master's deadline); 0 = closed. */
  private until = 0;
  private readonly sleepers = new Set<() => void>();

  // Monotonic: the master's wait is a duration. On Date.now a step of the system clock back during
  // the window lengthened it by the step (an hour back: every append waited an hour for a keeper
  // that never came, as the master says ready only when one is).
  constructor(private readonly now: () => number = monotonicNow) {}

  /** The master drains the keeper to start a new one: wait for it up to `waitMs` from now. */
  open(waitMs: number): void {
    this.until = this.now() + Math.max(0, waitMs);
  }

  /** A keeper is ready (or the master gave up on it): calls waiting for it go at once. */
  close(): void {
    this.until = 0;
    for (const wake of [...this.sleepers]) wake();
  }

  /** Milliseconds left to wait for the new keeper; 0 when no restart is under way. */
  remainingMs(): number {
    const left = this.until - this.now();
    if (left > 0) return left;
    this.until = 0;
    return 0;
  }

  /** Resolves after `ms`, or at once when the window closes (the new keeper is ready). */
  pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}
