// The link's probe (link.ts): while a failed command's outage lasts on an open connection, or
// Redis refuses writes, Redis is asked every REDIS_PROBE_MS whether it answers again, with a write
// of the keeper's (its presence, probeWith) or PING without one. A file of its own: one timer and
// one question, which the link answers through a narrow interface (whether to ask, and what an
// answer or a failure means), so the probe knows nothing of outages or refusals but one: a PING
// refused (refusalOf) is an answer all the same.

import type { LinkClock } from './link-options.js';
import { refusalOf } from './refusal.js';

/** What the probe asks of the link. */
export interface ProbedLink {
  /** Whether a probe is still wanted when its timer fires (a link that closes closes its probe). */
  wanted(): boolean;
  ping(): Promise<unknown>;
  /** Redis answered (or refused PING, which is an answer all the same). */
  answered(): void;
  failed(err: unknown): void;
}

export class LinkProbe {
  private timer: unknown;
  /** A write of the keeper's that asks whether Redis answers (and takes writes) again; else PING. */
  private script: (() => Promise<void>) | undefined;
  private closed = false;

  constructor(
    private readonly clock: LinkClock,
    private readonly ms: number,
    private readonly link: ProbedLink,
  ) {}

  /** What to ask with instead of PING (RedisLink.probeWith). */
  with(script: () => Promise<void>): void {
    this.script = script;
  }

  /** Asks Redis, in a while, whether it answers again (REDIS_PROBE_MS); one probe at a time. */
  soon(): void {
    if (this.timer || this.closed) return;
    this.timer = this.clock.setTimeout(() => void this.probe(), this.ms);
  }

  private async probe(): Promise<void> {
    this.timer = undefined;
    if (this.closed || !this.link.wanted()) return;
    const script = this.script;
    try {
      if (script) {
        await script();
      } else {
        await this.link.ping();
        this.link.answered();
      }
    } catch (err) {
      // PING refused (a user without it) is an answer all the same: Redis no longer hangs.
      if (!script && refusalOf(err)) this.link.answered();
      else this.link.failed(err);
    }
  }

  /** Stops the probe's timer; idempotent. */
  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
  }
}
