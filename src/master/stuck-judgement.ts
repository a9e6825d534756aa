// Whether a child is stuck, and what its silence or its deadlines call for: functions of a child
// record, the clock and CORRAL_TIMEOUT (and, for a booting child that never beat, whether the
// cgroup refused a task since its fork, asked through a callback), so the rules can be checked
// without a process. The arbiter's murder step acts on these verdicts (child-killer.ts).

import { lateAfterMs } from '../heartbeat-interval.js';
import type { ChildRecord } from './registry.js';

/** A child that has not reported ready after this long is killed as a failed boot. */
export const BOOT_TIMEOUT_FLOOR_MS = 60_000;

/** How long a child has to report ready: the floor, or CORRAL_TIMEOUT (`timeoutMs`) when longer. */
export function bootTimeoutMs(timeoutMs: number): number {
  return Math.max(BOOT_TIMEOUT_FLOOR_MS, timeoutMs);
}

type Judged = Pick<ChildRecord, 'state' | 'lastBeatAt' | 'beaten' | 'beatIntervalMs' | 'drainedReported' | 'sigkillAt' | 'drainDeadline' | 'startedAt'> & Partial<Pick<ChildRecord, 'bootProgressAt'>>;

export type MurderVerdict =
  | { readonly kind: 'none' }
  /**
   * Silent past CORRAL_TIMEOUT: killed (and replaced unless it was on its way out). A booting child
   * that never beat, past the boot timeout, or past CORRAL_TIMEOUT when the task limit explains it.
   */
  | {
      readonly kind: 'stuck';
      readonly silentMs: number;
      /** It never beat since its fork, and was judged by the boot timeout or by the task limit refusing since. */
      readonly neverBeat?: 'boot-timeout' | 'task-limit';
    }
  /** Sent SIGTERM while booting, and its beats stopped: it cannot stop by itself (see cannotDrain). */
  | { readonly kind: 'not-beating' }
  /** Told to stop with SIGTERM and still alive at its SIGKILL time. */
  | { readonly kind: 'no-exit-after-sigterm' }
  | { readonly kind: 'drain-deadline' }
  /** Beating but never ready: createApp never resolved. */
  | { readonly kind: 'boot-timeout'; readonly bootMs: number };

const NONE: MurderVerdict = { kind: 'none' };

/**
 * `taskRefused`: whether the cgroup's process and thread limit refused a fork or a thread since
 * this child was forked (death-causes.ts); asked only of a booting child that never beat and is
 * silent past CORRAL_TIMEOUT, since it reads the cgroup's counters.
 */
export function judgeChild(c: Judged, now: number, timeoutMs: number, taskRefused: () => boolean = () => false): MurderVerdict {
  const silentMs = now - c.lastBeatAt;
  // A child started before a reload lowered CORRAL_TIMEOUT still beats at its old pace: it is
  // stuck only once it missed a beat of its own.
  const stuck = silentMs > Math.max(timeoutMs, 2 * c.beatIntervalMs);
  if (c.state === 'killing') {
    // A booting child told to stop with SIGTERM whose close hooks hang, or whose event loop is
    // blocked: without this it would hold a reload, or the master's exit, for good. One whose
    // beats stopped (its loop blocked at import or in createApp) cannot run its SIGTERM handler,
    // and serves nothing: it goes once it is not beating, as a child told to drain does, not
    // after CORRAL_TIMEOUT, which held a stop that long.
    if (c.sigkillAt !== undefined && !c.drainedReported && silentMs > lateAfterMs(c.beatIntervalMs)) return { kind: 'not-beating' };
    if (c.sigkillAt !== undefined && stuck && !c.drainedReported) return { kind: 'stuck', silentMs };
    if (c.sigkillAt !== undefined && now > c.sigkillAt) return { kind: 'no-exit-after-sigterm' };
    return NONE;
  }
  if (c.state === 'draining') {
    // A draining child beats until it reports 'drained'. One stuck before that (a busy loop
    // when a reload or stop told it to drain, a close hook that blocks its loop) is killed
    // after CORRAL_TIMEOUT like any other, not kept until the drain deadline: that held a
    // reload, or a stop, for the whole graceful timeout.
    if (stuck && !c.drainedReported) return { kind: 'stuck', silentMs };
    if (c.drainDeadline !== undefined && now > c.drainDeadline) return { kind: 'drain-deadline' };
    return NONE;
  }
  if (c.state === 'booting' && !c.beaten) {
    // Silent since its fork: node and corral's own modules are still starting (the first beat is
    // sent before the app is imported), which a host short of CPU stretches. Counted from the
    // fork against CORRAL_TIMEOUT, a worker of a reload on a busy host (CORRAL_TIMEOUT=2, beside
    // a build) was killed as stuck before it had run, and the reload rolled back. It has the boot
    // timeout, as a boot that never gets ready does; but a node that cannot start its threads
    // under the task limit hangs there for good, and is still killed at CORRAL_TIMEOUT when the
    // cgroup's counters say a fork or thread was refused since it was forked.
    if (!stuck) return NONE;
    if (silentMs > bootTimeoutMs(timeoutMs)) return { kind: 'stuck', silentMs, neverBeat: 'boot-timeout' };
    return taskRefused() ? { kind: 'stuck', silentMs, neverBeat: 'task-limit' } : NONE;
  }
  if (stuck) return { kind: 'stuck', silentMs };
  // A boot that reports progress (the keeper replaying a large journal, a chunk at a time) has its
  // deadline counted from its last advance: a replay that moves is not a boot that hangs. One
  // that stops advancing is killed that long after its last advance, as any other.
  const bootClock = Math.max(c.startedAt, c.bootProgressAt ?? -Infinity);
  if (c.state === 'booting' && now - bootClock > bootTimeoutMs(timeoutMs)) return { kind: 'boot-timeout', bootMs: now - c.startedAt };
  return NONE;
}

/**
 * A booting, ready or draining child whose beats stopped (LATE_AFTER_BEATS missed, as health
 * counts them) and that has not reported 'drained': its loop is blocked, so it cannot read a
 * drain, close its listener, finish a request or run its SIGTERM handler. Waiting for it held the
 * whole stop: with shared accept it still held the listening socket after every other worker had
 * closed theirs, so new connections sat in the kernel's queue unanswered (rather than refused)
 * until CORRAL_TIMEOUT or the graceful timeout killed it; a reload's end (READY=1) and the
 * keeper's drain waited just as long. One blocked while booting (at import, in createApp) held
 * the master's exit until CORRAL_TIMEOUT.
 */
export function cannotDrain(c: Pick<ChildRecord, 'state' | 'drainedReported' | 'lastBeatAt' | 'beatIntervalMs'>, now: number): boolean {
  if (c.state !== 'booting' && c.state !== 'ready' && c.state !== 'draining') return false;
  return !c.drainedReported && now - c.lastBeatAt > lateAfterMs(c.beatIntervalMs);
}

/**
 * Ready workers still beating: those that answer a new client, as health counts them
 * (admin/health.ts workersReadiness). One ready but silent has a blocked loop and serves nobody.
 */
export function servingWorkers(workers: readonly Pick<ChildRecord, 'state' | 'lastBeatAt' | 'beatIntervalMs'>[], now: number): number {
  return workers.filter((c) => c.state === 'ready' && now - c.lastBeatAt <= lateAfterMs(c.beatIntervalMs)).length;
}
