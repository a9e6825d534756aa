// The master's stop, as decisions of the clock and what is left: the workers drain first, then the
// keeper (it holds the write journal, so it goes last and gets time of its own), then the master
// exits; past the deadline what is left is killed. The arbiter sends the drains and the kills.

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

export interface StopState {
  readonly now: number;
  readonly deadline: number;
  readonly workersLeft: number;
  readonly keeperLeft: boolean;
  readonly keeperDrainSent: boolean;
}

export interface StopStep {
  /** Drain the keeper now, with this long for its work in flight. */
  readonly drainKeeperMs: number | undefined;
  /** Every child has exited: the master exits. */
  readonly done: boolean;
  /** The deadline passed: kill every child not already being killed. */
  readonly killAll: boolean;
}

export function stopStep(s: StopState): StopStep {
  const onlyKeeper = s.keeperLeft && s.workersLeft === 0;
  const drainKeeperMs = onlyKeeper && !s.keeperDrainSent ? Math.max(KEEPER_STOP_MS, s.deadline - s.now) : undefined;
  const done = s.workersLeft === 0 && !s.keeperLeft;
  return { drainKeeperMs, done, killAll: !done && s.now > s.deadline + (onlyKeeper ? KEEPER_STOP_MS : 0) };
}
