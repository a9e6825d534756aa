// Telling one child to stop: drained if it listens, SIGTERM if it is still booting, killed at once
// if its loop is blocked and the host is stopping (or it is booting); a later, shorter order
// brings its deadline forward, never back. Used by stops, reloads, recycling and the keeper's restart alike.

import type { ChildKiller } from './child-killer.js';
import type { ChildRecord } from './registry.js';
import { cannotDrain } from './stuck-judgement.js';

/** Past the graceful timeout, the time a child told to stop has to exit before SIGKILL. */
export const EXIT_MARGIN_MS = 2000;

export interface DrainOrder {
  readonly reason: string;
  /** Time its requests in flight get to finish (0 = close them now). */
  readonly gracefulMs: number;
  /** The whole master is stopping (not a reload or a recycle): its health says it goes away. */
  readonly hostStopping: boolean;
}

export function drainChild(c: ChildRecord, order: DrainOrder, now: number, killer: Pick<ChildKiller, 'killNotBeating'>): void {
  const { reason, gracefulMs, hostStopping } = order;
  const deadline = now + gracefulMs + EXIT_MARGIN_MS;
  // A later, shorter stop (SIGQUIT after SIGTERM) brings the SIGKILL of a booting child, and of a
  // worker still draining, forward.
  if (c.state === 'killing' && c.sigkillAt !== undefined) c.sigkillAt = Math.min(c.sigkillAt, deadline);
  if (c.state === 'draining' && c.drainDeadline !== undefined) {
    const sooner = deadline < c.drainDeadline;
    if (sooner) c.drainDeadline = deadline;
    // The worker is told too, and closes what is left itself: it then exits on its own, its
    // lines flushed, instead of by SIGKILL at the deadline with its in-flight requests. Told
    // also when a stop finds it draining for a reload: its health must now say it goes away.
    if (sooner || (hostStopping && c.role === 'worker')) c.handle.send({ type: 'drain', reason, gracefulMs, hostStopping });
  }
  if (c.state === 'killing') return;
  // Not beating: killed at once when the whole host stops (its copy of the listening socket
  // would keep new connections queued unanswered, refused by nobody, until it exits), and while
  // booting (nothing in flight to finish). Replaced (a reload, a recycle, a scale-down), it drains
  // once its loop is free: the others accept meanwhile, and a request doing seconds of work on
  // a host that raised CORRAL_TIMEOUT for it is not cut; one stuck for good goes at
  // CORRAL_TIMEOUT (judgeChild's `stuck`), as a draining worker does.
  if (cannotDrain(c, now) && (hostStopping || c.state === 'booting')) {
    killer.killNotBeating(c, reason);
    return;
  }
  if (c.state === 'draining') return;
  c.stopReason = reason;
  if (c.state === 'booting') {
    // Not listening yet, so there is nothing to drain: SIGTERM runs its close hooks and exits.
    c.state = 'killing';
    c.sigkillAt = deadline;
    // A keeper may have become ready with its 'ready' still on its way here; a ready keeper
    // waits for its master's drain on SIGTERM (keeper-main.ts: a TERM sent to the whole group
    // must not take it away before the workers), so it is sent the drain too. A booting one
    // stops at whichever comes first.
    if (c.role === 'keeper') c.handle.send({ type: 'drain', reason, gracefulMs, hostStopping });
    c.handle.kill('SIGTERM');
    return;
  }
  c.state = 'draining';
  c.drainDeadline = deadline;
  if (!c.handle.send({ type: 'drain', reason, gracefulMs, hostStopping })) c.handle.kill('SIGTERM');
}
