// Why children exited, counted since the master started, for the admin API's `exits` and
// /metrics' corral_child_exits_total. Workers killed as stuck, dead of an OOM kill or crashing
// on an exception were visible only in the log: the figures showed "2/2 ready" whatever had
// happened, and a worker dying every few minutes went unnoticed until someone read the log.
// The reasons are a fixed set, not the free-text drain reasons the log carries, so the metric
// has a bounded number of series.

import type { ChildRecord } from './registry.js';

export const EXIT_REASONS = ['reload', 'shutdown', 'max_requests', 'memory', 'scale_down', 'uncaught', 'timeout', 'boot_failed', 'died', 'other'] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

/** The reason label of a child's exit: what the master asked for, or what happened to it. */
export function exitReasonOf(c: Pick<ChildRecord, 'role' | 'stopReason' | 'readyAt' | 'crashCounted'>): ExitReason {
  const asked = c.stopReason;
  if (asked === undefined) {
    if (c.readyAt === undefined) return 'boot_failed';
    return c.role === 'worker' && c.crashCounted ? 'uncaught' : 'died';
  }
  switch (asked) {
    case 'timeout':
      return 'timeout';
    case 'uncaught':
      return 'uncaught';
    case 'memory':
      return 'memory';
    case 'max-requests':
      return 'max_requests';
    case 'scale-down':
      return 'scale_down';
    case 'shutdown':
    case 'quit':
    case 'stop':
      return 'shutdown';
    default:
      return asked.startsWith('reload') || asked === 'superseded' ? 'reload' : 'other';
  }
}

/**
 * Signals a child on its way out gets from corral or with its process group: SIGTERM (drain.ts,
 * when its drain order cannot be sent; a stop sent to the group), SIGINT and SIGHUP (the group's
 * Ctrl-C or hangup).
 */
const STOP_SIGNALS: ReadonlySet<string> = new Set(['SIGTERM', 'SIGINT', 'SIGHUP']);

/**
 * A worker told to drain that a signal nobody in corral sent ended before it reported drained: a
 * kill -9, the OOM killer (a worker recycled for memory is its likeliest victim), a crash of Node.
 * The requests it still held were cut; said and counted as its stop's reason ("exited (memory)",
 * info, and an exit asked for), the death went unseen in the log, the stats and /metrics. The
 * master's own SIGKILLs (the drain's deadline, a stuck worker, a stop's end) come in 'killing'.
 */
export function diedDraining(c: Pick<ChildRecord, 'role' | 'stopReason'> & Partial<Pick<ChildRecord, 'state' | 'drainedReported'>>, signal: NodeJS.Signals | null): boolean {
  return c.role === 'worker' && c.stopReason !== undefined && c.state === 'draining' && c.drainedReported !== true && signal !== null && !STOP_SIGNALS.has(signal);
}

export type ExitCounts = Record<'worker' | 'keeper', Partial<Record<ExitReason, number>>>;

/**
 * Exits by a signal nobody in corral sent (the reasons `died` and `boot_failed`), by role and
 * signal name. `died` alone counts an OOM kill and a crash alike: SIGKILL is the kernel's OOM
 * killer or a `kill -9`, SIGSEGV, SIGBUS or SIGABRT a crash of Node or of a native addon.
 */
export type SignalDeaths = Record<'worker' | 'keeper', Partial<Record<string, number>>>;

/** The signals whose series /metrics shows from its first scrape, at 0: those a child dies of unasked. */
export const USUAL_DEATH_SIGNALS = ['SIGKILL', 'SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGTERM'] as const;

/** Exits by role and reason since the master started, and those by a signal by role and signal; only grow. */
export class ExitTally {
  private readonly counts: ExitCounts = { worker: {}, keeper: {} };
  private readonly signals: SignalDeaths = { worker: {}, keeper: {} };

  count(c: Pick<ChildRecord, 'role' | 'stopReason' | 'readyAt' | 'crashCounted'> & Partial<Pick<ChildRecord, 'state' | 'drainedReported'>>, signal: NodeJS.Signals | null = null): void {
    const reason = diedDraining(c, signal) ? 'died' : exitReasonOf(c);
    const byReason = this.counts[c.role];
    byReason[reason] = (byReason[reason] ?? 0) + 1;
    // A child the master itself sent SIGKILL without a stop reason (a boot past its timeout, one
    // silent while booting: child-killer.ts) is a boot_failed, but that SIGKILL is corral's own:
    // counted here it read as the OOM killer or a kill -9, and sent the operator to dmesg.
    const ownKill = c.state === 'killing' && signal === 'SIGKILL';
    if (signal !== null && !ownKill && (reason === 'died' || reason === 'boot_failed')) {
      const bySignal = this.signals[c.role];
      bySignal[signal] = (bySignal[signal] ?? 0) + 1;
    }
  }

  /** A copy: `{ worker: { died: 2, timeout: 1 }, keeper: {} }`. */
  snapshot(): ExitCounts {
    return { worker: { ...this.counts.worker }, keeper: { ...this.counts.keeper } };
  }

  /** A copy: `{ worker: { SIGKILL: 1 }, keeper: {} }`. */
  signalDeaths(): SignalDeaths {
    return { worker: { ...this.signals.worker }, keeper: { ...this.signals.keeper } };
  }
}
