// `corral reload --wait`: follows the reload it signalled through the admin API's GET
// /api/admin/reload (no token needed) until it has ended, and says how. Without it a reload whose
// new workers cannot boot was "done" for every caller of `corral reload` and `systemctl reload`:
// the old workers serve on, and only the log said it was rolled back.

import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../master/pidfile.js';
import { getAdminJson } from './master-admin-api.js';

/** What GET /api/admin/reload answers (figures.ts, reloadOf). */
export interface ReloadStanding {
  readonly master_pid: number;
  readonly in_progress_generation: number | null;
  /**
   * Ms from the answer within which the reload in progress ends or takes a step that renews it
   * (the bound the master gives systemd); null with none in progress, absent from an older
   * corral's answer.
   */
  readonly in_progress_bound_ms?: number | null;
  readonly queued: boolean;
  readonly stopping: boolean;
  readonly last: {
    readonly seq: number;
    readonly outcome: 'completed' | 'refused' | 'rolled_back' | 'incomplete';
    readonly generation: number;
    readonly code: string | null;
    /** Settings it left until a restart (absent from an older corral's answer). */
    readonly restart_needed?: readonly string[];
  } | null;
}

/** How often the admin API is asked: a reload takes seconds (its workers boot, the old ones drain). */
const POLL_MS = 200;
/** One question's bound: a master busy forking its workers answers within it. */
const ASK_MS = 3000;

/** Where reloads stand, as the admin API at `base` says; throws when it does not answer, or not as a corral master does. */
export async function readReloadStanding(base: string): Promise<ReloadStanding> {
  const { status, body } = await getAdminJson(`${base}/api/admin/reload`, undefined, ASK_MS);
  const b = body as Partial<ReloadStanding> | null;
  if (status !== 200 || typeof b?.queued !== 'boolean' || b.last === undefined || typeof b.master_pid !== 'number') {
    // A corral from before GET /api/admin/reload answers 405 (POST only) here.
    throw new Error(`GET ${base}/api/admin/reload answered HTTP ${status} without where reloads stand (a master of an older corral, which cannot be followed: reload without --wait)`);
  }
  return b as ReloadStanding;
}

export type ReloadEnding =
  | { readonly kind: 'ended'; readonly last: NonNullable<ReloadStanding['last']> }
  | { readonly kind: 'stopping' }
  | { readonly kind: 'master-gone' }
  | { readonly kind: 'timeout'; readonly standing: ReloadStanding | undefined; readonly why: string | undefined; readonly waitedMs: number };

/**
 * The wait's deadline once the master answered `standing` at `answeredAt` (epoch ms): a reload in
 * progress within its bound moves it to where that bound ends, never earlier than it was (the
 * first bound holds until the reload has started, and for a master of an older corral, which
 * gives none). systemd keeps its timer the same way (reload-bound.ts).
 */
export function deadlineAfter(deadline: number, standing: Pick<ReloadStanding, 'in_progress_generation' | 'in_progress_bound_ms'>, answeredAt: number): number {
  const bound = standing.in_progress_bound_ms;
  if (standing.in_progress_generation === null || typeof bound !== 'number' || !Number.isFinite(bound)) return deadline;
  return Math.max(deadline, answeredAt + bound);
}

/**
 * Waits until a reload that ended after `before` was read is the latest, with none in progress or
 * queued behind it (a reload asked for during another is queued, and the master runs it next with
 * the settings as they are then: the wait covers it), a stop begins, the master exits, or the
 * bound passes without that: `firstBoundMs`, moved on by the master's answers while the reload
 * makes progress (deadlineAfter). The signal sent after `before` was read is one of those reloads.
 */
export async function waitForReloadEnd(base: string, masterPid: number, before: ReloadStanding, firstBoundMs: number): Promise<ReloadEnding> {
  const beforeSeq = before.last?.seq ?? 0;
  const startedAt = Date.now();
  let deadline = startedAt + firstBoundMs;
  let standing: ReloadStanding | undefined;
  let why: string | undefined;
  for (;;) {
    await sleep(POLL_MS);
    try {
      standing = await readReloadStanding(base);
      why = undefined;
      deadline = deadlineAfter(deadline, standing, Date.now());
      const last = standing.last;
      if (last && last.seq > beforeSeq && standing.in_progress_generation === null && !standing.queued) return { kind: 'ended', last };
      // A stop drops a reload not yet started and ends the one in progress with the workers.
      if (standing.stopping) return { kind: 'stopping' };
    } catch (err) {
      // No answer: the master exited (say so), or is too busy for a moment (ask again).
      if (!isAlive(masterPid)) return { kind: 'master-gone' };
      why = (err as Error).message;
    }
    const now = Date.now();
    if (now >= deadline) return { kind: 'timeout', standing, why, waitedMs: now - startedAt };
  }
}
