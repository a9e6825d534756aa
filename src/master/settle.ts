// The settle window of a replacement (CORRAL_RELOAD_SETTLE): a worker that takes an outgoing one's
// place (a reload's new generation, a recycle's replacement) lets it drain only once it has been
// ready, and beating, for the settle time. During a reload, a new worker that dies within that
// window is a failed boot of the new generation, not a crash of a serving one: an app that listens
// and then fails (an async init, a database refused 0.5 s later) drained the old generation on its
// ready, reported the reload done, and then crash-looped with nothing left to go back to.

import { lateAfterMs } from '../heartbeat-interval.js';
import type { Logger } from '../log/logger.js';
import type { BootError, CrashLedger } from './crash-ledger.js';
import type { ChildRecord } from './registry.js';
import { secondsText } from '../seconds-text.js';

type Settling = Pick<ChildRecord, 'state' | 'readyAt' | 'lastBeatAt' | 'beatIntervalMs' | 'settled'>;

/**
 * Whether a ready worker settles now: ready for `settleMs`, and beating (a loop blocked at the
 * end of its window is not taking anyone's place; it settles once it beats again).
 */
export function settlesNow(c: Settling, now: number, settleMs: number): boolean {
  if (c.settled || c.state !== 'ready' || c.readyAt === undefined) return false;
  return now - c.readyAt >= settleMs && now - c.lastBeatAt <= lateAfterMs(c.beatIntervalMs);
}

/**
 * How a worker on probation ended: its exit (code, signal), its uncaught exception (`error`: the
 * first line the worker reported), or a kill as stuck.
 */
export type ProbationEnd =
  | { readonly kind: 'exit'; readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly kind: 'uncaught'; readonly error?: string }
  | { readonly kind: 'stuck' };

/**
 * The boot error of a reload's new worker that ended before it settled, or undefined when its end
 * is no failed boot: it was not on probation (no reload, no settle time, nothing to drain when it
 * was ready), it settled first, or its generation is no longer the one the reload boots (`reloadingTo`).
 * `at`: when it ended (for a kill as stuck, when it last beat: the window in which it went silent).
 */
export function probationFailure(
  c: Pick<ChildRecord, 'generation' | 'readyAt' | 'probation' | 'settled'>,
  end: ProbationEnd,
  at: number,
  reloadingTo: number | undefined,
): BootError | undefined {
  if (!c.probation || c.settled || c.readyAt === undefined || c.generation !== reloadingTo) return undefined;
  const after = `${secondsText(Math.max(0, at - c.readyAt))} after it was ready, before it settled (CORRAL_RELOAD_SETTLE)`;
  switch (end.kind) {
    case 'uncaught':
      return {
        code: 'CORRAL_ERR_UNCAUGHT',
        message: `worker threw an uncaught exception ${after}: ${end.error ?? 'its worker.uncaught line has the error'}`,
      };
    case 'stuck':
      return { code: 'CORRAL_ERR_WORKER_TIMEOUT', message: `worker stopped beating ${after}, and was killed as stuck at CORRAL_TIMEOUT` };
    case 'exit':
      return end.signal !== null
        ? { code: 'CORRAL_ERR_WORKER_DIED', message: `worker was killed by signal ${end.signal} ${after}` }
        : { code: 'CORRAL_ERR_WORKER_DIED', message: `worker exited with code ${end.code} ${after}` };
  }
}

/**
 * Counts a reload's new worker that ended on probation as one failed boot of its generation (not
 * as a crash: counted once) and says so; `exitFields`: its exit's, when it exited.
 */
export function failedOnProbation(
  c: Pick<ChildRecord, 'id' | 'handle' | 'generation' | 'forkBatch'>,
  bootError: BootError,
  now: number,
  crashes: Pick<CrashLedger, 'bootFailed' | 'bootFailures'>,
  log: Logger,
  exitFields: Record<string, unknown> = {},
): void {
  crashes.bootFailed(c.forkBatch, bootError, now);
  log.error(
    { ...exitFields, event: 'worker.boot_failed', worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, code: bootError.code, failures: crashes.bootFailures, boot_error: bootError },
    `worker ${c.id} failed to boot: ${bootError.message}`,
  );
}
