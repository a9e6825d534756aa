// Whether the children serve, as health, the stats, the capacity and /metrics judge it: a
// child's heartbeat age and lateness, the workers ready and still beating, where the keeper
// stands, why the journal refuses events, and GET /api/admin/health's verdict. Apart from the
// stats document because it is a judgement the others read without the stats (the capacity in
// figures.ts, /metrics in metrics.ts, GET /api/admin/health in server.ts), which only show it.
// Read-only, as figures.ts: the caller settles the view first.

import { heartbeatIntervalMs, lateAfterMs } from '../../heartbeat-interval.js';
import type { AdminView, ChildSnapshot } from './view.js';

/**
 * Ready workers that still beat, and ready workers that stopped (a blocked loop, a stopped
 * process): those answer nobody until the master replaces them at CORRAL_TIMEOUT, so they are not
 * counted ready. With every worker stuck, health says unavailable rather than ok.
 */
export function workersReadiness(view: AdminView, now = view.now()): { ready: number; notBeating: number } {
  let ready = 0;
  let notBeating = 0;
  for (const c of view.children()) {
    if (c.role !== 'worker' || c.state !== 'ready') continue;
    if (heartbeatLate(c, now)) notBeating++;
    else ready++;
  }
  return { ready, notBeating };
}

/**
 * Where the keeper stands, as health and corral_keeper_ready read it; undefined when this master
 * runs none. Anything but `ready` means the host's reads that miss a worker's own copy fail and
 * no write can be journaled until it is back.
 */
export type KeeperStatus = 'ready' | 'not_running' | 'booting' | 'not_beating' | 'draining' | 'killing';

export function keeperStatus(view: AdminView, now = view.now()): KeeperStatus | undefined {
  const keeper = keeperOf(view);
  if (!keeper) return view.keeperExpected() ? 'not_running' : undefined;
  if (keeper.state !== 'ready') return keeper.state;
  return heartbeatLate(keeper, now) ? 'not_beating' : 'ready';
}

/**
 * Why the journal takes no event, as the ready keeper last reported: `sync_stuck` (a write of it
 * has not returned for 10 s or more: the data disk hangs), `not_writable` (an append it could not
 * write: a full disk, an I/O error) or `full` (SHEETS_JOURNAL_MAX_MB of rows not yet in the
 * sheet); undefined while it takes them, or with no keeper reporting. A keeper whose write hangs
 * reports itself not writable too, which a master from before `sync_stuck` says as `not_writable`.
 */
export type JournalRefusal = 'sync_stuck' | 'not_writable' | 'full';

export function journalRefusal(view: AdminView): JournalRefusal | undefined {
  const extra = keeperOf(view)?.figures?.extra;
  // Before not_writable: a disk that hangs is no full disk, and is fixed elsewhere (its mount, the drive).
  if (typeof extra?.journalSyncStuckSeconds === 'number' && extra.journalSyncStuckSeconds > 0) return 'sync_stuck';
  if (extra?.journalWritable === false) return 'not_writable';
  if (extra?.journalFull === true) return 'full';
  return undefined;
}

/**
 * GET /api/admin/health's verdict, which the stats carry too (the dashboard's header showed the
 * capacity status alone, a green LOW while a worker or the keeper had stopped beating):
 * `unavailable` with no worker ready and beating, `degraded` with fewer than expected, the keeper
 * not ready, or the journal refusing events, else `ok`.
 */
export interface HealthVerdict {
  readonly status: 'ok' | 'degraded' | 'unavailable';
  readonly ready: number;
  readonly expected: number;
  readonly notBeating: number;
  /** The keeper's state when it is not ready (absent when ready, or when this master runs none). */
  readonly keeper?: Exclude<KeeperStatus, 'ready'>;
  /** Why the journal refuses events, while the keeper is ready. */
  readonly journal?: JournalRefusal;
}

export function healthOf(view: AdminView, now = view.now()): HealthVerdict {
  const { ready, notBeating } = workersReadiness(view, now);
  const expected = view.expectedWorkers();
  // Without the keeper the workers still answer (cached reads from their own copies), but a
  // read their copies miss fails and no event can be saved: degraded, still 200, since
  // taking the host out of a load balancer would lose the reads that do work.
  const keeper = keeperStatus(view, now);
  const keeperDown = keeper !== undefined && keeper !== 'ready' ? keeper : undefined;
  // The same for a journal that refuses events (a full disk, the backlog cap): every write
  // answers 503 not_saved while reads go on, and health said ok.
  const journal = keeperDown ? undefined : journalRefusal(view);
  const status = ready === 0 ? 'unavailable' : ready < expected || keeperDown || journal ? 'degraded' : 'ok';
  return { status, ready, expected, notBeating, ...(keeperDown ? { keeper: keeperDown } : {}), ...(journal ? { journal } : {}) };
}

export function keeperOf(view: AdminView): ChildSnapshot | undefined {
  return view.children().find((c) => c.role === 'keeper');
}

/** Milliseconds since the child's last heartbeat, or since its fork before the first one. */
export function heartbeatAgeMs(c: ChildSnapshot, now: number): number {
  return Math.max(0, now - (c.lastBeatAt ?? c.startedAt));
}

/**
 * Three of its own beats missed: the loop is blocked (or the process stopped) and the figures of
 * its last beat are no longer its state; the master kills it once CORRAL_TIMEOUT passes. Judged
 * by the interval the child was started with, as the master's murder step judges it
 * (stuck-judgement.ts): against the settings now in force, a keeper kept across a reload to
 * CORRAL_TIMEOUT=1 (late after 750 ms) but still beating every second was "not beating" for a
 * quarter of each second. A booting child is not judged by it: its boot has a deadline of its own.
 */
export function heartbeatLate(c: ChildSnapshot, now: number): boolean {
  return heartbeatAgeMs(c, now) > lateAfterMs(c.beatIntervalMs);
}

/** Three beats of a child started with the settings now in force (`heartbeat_late_after_s`). */
export function heartbeatLateAfterMs(timeoutSeconds: number): number {
  return lateAfterMs(heartbeatIntervalMs(timeoutSeconds));
}
