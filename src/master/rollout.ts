// Which workers the manage step forks, retires and drains, as functions of the workers and the
// counts: the current generation is brought to its size (probing one at a time after failures),
// and outgoing workers (an old generation, or retiring) are drained only while enough current
// ones are ready to take their place, so a reload or a recycle never drops capacity.

import type { ChildRecord } from './registry.js';

type Worker = Pick<ChildRecord, 'generation' | 'retire' | 'pendingRetire' | 'state'> & Partial<Pick<ChildRecord, 'readyAt' | 'bootError' | 'stopReason' | 'settled' | 'probation' | 'drainDeadline'>>;

/**
 * A worker of `generation` that counts towards its size: booting or ready, not retiring; or
 * killed as a failed boot (silent at import, or never ready) and not reaped yet. Uncounted from
 * its kill, its slot was forked again in the same tick, before its exit counted as a failure:
 * the boot backoff and the one-at-a-time probing after failures were skipped (two forked at once
 * after the first timeout, a fork 8 ms after the second).
 */
export function isActiveCurrent(c: Worker, generation: number): boolean {
  if (c.generation !== generation || c.retire !== undefined) return false;
  if (c.state === 'booting' || c.state === 'ready') return true;
  if (c.state !== 'killing') return false;
  // A reload's new worker killed as stuck before it settled is a failed boot too (settle.ts).
  if (c.probation === true && c.settled !== true && c.stopReason === 'timeout' && c.drainDeadline === undefined) return true;
  return c.readyAt === undefined && c.bootError !== undefined && c.stopReason === undefined;
}

/**
 * Still booting, as the probing after failed boots counts it: booting, or a reload's new worker
 * ready but not settled, whose death would still be a failed boot (one probe at a time).
 */
export function stillBooting(c: Worker): boolean {
  return c.state === 'booting' || (c.state === 'ready' && c.probation === true && c.settled !== true);
}

/** A worker of the generation a reload started from is ready: what the reload may go back to. */
export function previousServes(workers: readonly Pick<ChildRecord, 'generation' | 'state'>[], previousGeneration: number): boolean {
  return workers.some((c) => c.generation === previousGeneration && c.state === 'ready');
}

/**
 * Scale down: the workers of the current generation beyond `expected`, to retire. Those still
 * booting go first, the last forked first (they serve nothing yet, and are stopped at once), then
 * the oldest ready ones. Oldest first alone, a TTOU that followed a TTIN before its worker was
 * ready retired a worker that served, warm, and kept the one still booting: an autoscaler's +1
 * then -1 (POST /api/admin/workers) replaced a warm worker with a cold one, and during a reload
 * each such pair stopped the new worker closest to ready, for one forked a moment before.
 */
export function scaleDownExcess<W extends Worker>(workers: readonly W[], generation: number, expected: number): W[] {
  const current = workers.filter((c) => c.generation === generation && c.retire === undefined && c.state !== 'draining' && c.state !== 'killing');
  const booting = current.filter((c) => c.state === 'booting').reverse();
  const ready = current.filter((c) => c.state !== 'booting');
  return [...booting, ...ready].slice(0, Math.max(0, current.length - expected));
}

/** Recycling replaces one worker at a time: only one retiree may be waiting for its replacement. */
export function nextRecycle<W extends Worker>(workers: readonly W[]): W | undefined {
  // In progress until the retiree has exited, so capacity never dips by more than one worker.
  const inProgress = workers.some((c) => c.retire !== undefined && c.retire !== 'uncaught');
  if (inProgress) return undefined;
  return workers.find((c) => c.pendingRetire !== undefined && c.state === 'ready');
}

export interface ForkInput {
  /** Workers the current generation lacks. */
  readonly missing: number;
  readonly bootFailures: number;
  readonly quickCrashes: number;
  /** A worker of the current generation is still booting. */
  readonly anyBooting: boolean;
}

/** How many workers to fork now (the backoff allowing), and whether that is a retry after failures. */
export function forksDue(f: ForkInput): { readonly n: number; readonly failing: boolean } {
  // After failures, probe with one worker at a time rather than a burst of doomed forks. After
  // failed boots, the next once the last is ready or has failed (one forked every tick
  // meanwhile was a burst); after crashes (workers that did boot), one per tick.
  const failing = f.bootFailures > 0 || f.quickCrashes > 1;
  const probing = f.bootFailures > 0 && f.anyBooting;
  if (f.missing <= 0) return { n: 0, failing };
  return { n: failing ? (probing ? 0 : 1) : f.missing, failing };
}

/**
 * Outgoing workers (old generation, or asked to be recycled) to stop now: those still booting at
 * once (`superseded`), ready ones only while enough current ones are settled (ready for
 * CORRAL_RELOAD_SETTLE, settle.ts) to take their place: zero downtime, and a replacement that
 * dies soon after its ready has not cost its predecessor. Outgoing workers that have not proven
 * themselves go first: those retired after an uncaught exception, then a reload's new workers on
 * probation (retired by a scale-down, or of a superseded reload), so a healthy worker of the old
 * generation is never drained to keep one.
 */
export function drainsDue<W extends Worker>(
  workers: readonly W[],
  generation: number,
  expected: number,
  beating: (c: W) => boolean = () => true,
): { readonly c: W; readonly superseded: boolean }[] {
  // Settled once is not serving now: a current worker whose loop is blocked (its beats stopped, a
  // long synchronous step, stuck until CORRAL_TIMEOUT) takes nobody's place meanwhile. Counted, a
  // recycle or a reload drained the worker it replaces, and the host served one short (1/2 ready)
  // until the blocked one beat again or was killed and replaced.
  const readyCurrent = workers.filter((c) => isActiveCurrent(c, generation) && c.state === 'ready' && c.settled === true && beating(c)).length;
  const leaving = workers.filter((c) => (c.generation !== generation || c.retire !== undefined) && c.state !== 'draining' && c.state !== 'killing');
  // A reload's new workers that threw, or were retired or superseded before they settled, are
  // outgoing beside the old generation: in fork order the old ones were drained first (three that
  // threw 0.5 s after ready cost three old ones; a TTOU during the settle time drained the whole
  // old generation for one unsettled worker, and the reload was done with nothing to go back to).
  const rank = (c: W) => (c.retire === 'uncaught' ? 0 : c.probation === true && c.settled !== true ? 1 : 2);
  const outgoing = [...leaving].sort((a, b) => rank(a) - rank(b));
  let readyOutgoing = outgoing.filter((c) => c.state === 'ready').length;
  const due: { c: W; superseded: boolean }[] = [];
  for (const c of outgoing) {
    if (c.state === 'booting') {
      due.push({ c, superseded: true });
      continue;
    }
    if (readyCurrent + readyOutgoing - 1 >= expected) {
      due.push({ c, superseded: false });
      readyOutgoing--;
    }
  }
  return due;
}
