// The master's stop, as decisions of the clock and what is left: the workers drain first, then the
// keeper (it holds the write journal, so it goes last and gets time of its own), then the master
// exits; past the deadline the workers left are killed and the keeper is drained, and killed once
// its own time is up. The arbiter sends the drains and the kills.

import { EXIT_MARGIN_MS } from './drain.js';

/** The keeper, drained after the last worker, has at least this long, and this long past the deadline. */
export const KEEPER_STOP_MS = 5000;

/**
 * The deadline of a stop ordered at `now` with `gracefulMs` for requests in flight. A second stop
 * (SIGQUIT after SIGTERM) may bring the deadline forward, never push it back: repeated signals
 * would otherwise postpone the SIGKILL of a worker stuck in a loop forever.
 */
export function stopDeadline(now: number, gracefulMs: number, current: number | undefined): number {
  const deadline = now + gracefulMs + EXIT_MARGIN_MS;
  return current === undefined ? deadline : Math.min(current, deadline);
}

/**
 * How long a master stopping after an uncaught exception of its own waits for that stop before it
 * exits anyway (the bug may have broken what the stop relies on): the stop's own longest, the
 * drain's deadline and the keeper's time past it, with room for the exits to be read; within the
 * unit's TimeoutStopSec (systemd/timeouts.ts). `gracefulMs`: the graceful timeout in force, a
 * reload's included. Timed from the start's CORRAL_GRACEFUL_TIMEOUT + 5 s, the master exited while
 * the keeper was still in its drain, and after a reload that raised the timeout, while its workers
 * still drained their requests: they lost their channel and exited at once, those requests cut.
 */
export function forcedExitAfterMs(gracefulMs: number): number {
  return gracefulMs + EXIT_MARGIN_MS + KEEPER_STOP_MS + 3000;
}

export interface StopState {
  readonly now: number;
  readonly deadline: number;
  readonly workersLeft: number;
  readonly keeperLeft: boolean;
  /** When the keeper was told to drain; undefined before. */
  readonly keeperDrainAt: number | undefined;
}

export interface StopStep {
  /** Drain the keeper now, with this long for its work in flight. */
  readonly drainKeeperMs: number | undefined;
  /** Every child has exited: the master exits. */
  readonly done: boolean;
  /** The deadline passed with workers left: kill every worker not already being killed. */
  readonly killWorkers: boolean;
  /** The keeper's own time (KEEPER_STOP_MS from its drain, and past the deadline) is up: kill it. */
  readonly killKeeper: boolean;
}

/**
 * The keeper is drained once the last worker is gone, or once the deadline has passed (the workers
 * left are killed then: none of them sends it anything more), and has its own time from that
 * drain. Killed with the workers at the deadline, it went without a drain whenever one worker
 * overran its graceful timeout: its journal flush and its appends in flight were cut.
 */
export function stopStep(s: StopState): StopStep {
  const pastDeadline = s.now > s.deadline;
  const drainDue = s.keeperLeft && s.keeperDrainAt === undefined && (s.workersLeft === 0 || pastDeadline);
  const drainKeeperMs = drainDue ? Math.max(KEEPER_STOP_MS, s.deadline - s.now) : undefined;
  const done = s.workersLeft === 0 && !s.keeperLeft;
  const killKeeper = s.keeperLeft && s.keeperDrainAt !== undefined && s.now > Math.max(s.deadline, s.keeperDrainAt) + KEEPER_STOP_MS;
  return { drainKeeperMs, done, killWorkers: s.workersLeft > 0 && pastDeadline, killKeeper };
}
