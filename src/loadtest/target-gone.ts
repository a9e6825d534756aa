// A target that stopped answering: every connection refused (nothing listens on its port: a
// master stopped or crashed) for TARGET_GONE_AFTER_MS, with no answer in between. The run then
// stops by itself: it went on loading the dead port to the end of its schedule (3 minutes with
// the default steps, up to 45 with a profile at --time-scale 1), each later step failed with "no
// answers".

import type { Sample } from './client.js';

/** How long every attempt must be refused: a restart (stop, then start) refuses for a second or so. */
export const TARGET_GONE_AFTER_MS = 5000;
/** And how many refusals at least, so that one user's retries do not decide it alone. */
const MIN_REFUSED = 5;

export class TargetGone extends Error {
  constructor(
    readonly sinceMs: number,
    readonly refused: number,
  ) {
    super(`the target refused every connection for ${Math.round(TARGET_GONE_AFTER_MS / 1000)} s (ECONNREFUSED ×${refused}, none answered): nothing listens there any more`);
    this.name = 'TargetGone';
  }
}

export class TargetGoneWatch {
  private refusedSince: number | undefined;
  private refused = 0;

  /** Each reply: an answer ends a streak of refusals; a timeout or a reset neither starts nor ends one. */
  reply(sample: Sample): void {
    if (sample.status > 0) {
      this.refusedSince = undefined;
      this.refused = 0;
    } else if (sample.error === 'ECONNREFUSED') {
      this.refusedSince ??= sample.startMs;
      this.refused++;
    }
  }

  /** The target is gone at `nowMs` (ms since the run started), or undefined. */
  gone(nowMs: number): TargetGone | undefined {
    if (this.refusedSince === undefined || this.refused < MIN_REFUSED || nowMs - this.refusedSince < TARGET_GONE_AFTER_MS) return undefined;
    return new TargetGone(this.refusedSince, this.refused);
  }
}
