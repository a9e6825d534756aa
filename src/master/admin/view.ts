// What the admin API may read from and ask of the arbiter. The admin server never touches the
// registry or cluster directly: it reads snapshots and records intents, like a signal would.

import type { Settings } from '../../config/schema.js';
import type { ChildFigures } from '../../ipc/messages.js';
import type { EnvOverride } from '../../config/env-overrides.js';
import type { ExitedSheetsCounts } from '../child-exits.js';
import type { ExitCounts, SignalDeaths } from '../exit-reasons.js';
import type { RequestLatencyReader } from '../request-latency.js';
import type { ReloadEnd } from '../generations.js';

/**
 * `killing`: the master sent SIGKILL and waits for the exit (silent past CORRAL_TIMEOUT, a drain
 * past its deadline, a boot that never ended). Shown apart from `draining`, which finishes its
 * requests: a stuck keeper shown as draining read as "a reload restarting it".
 */
export type ChildState = 'booting' | 'ready' | 'draining' | 'killing';

export interface ChildSnapshot {
  /** Worker number (1..) or 0 for the keeper. */
  readonly id: number;
  /**
   * The lowest number not held by another live worker when this one was forked (0 for the
   * keeper): a replacement takes its predecessor's slot, so per-worker metric series stay bounded
   * (N, 2N during a reload) however many workers are recycled.
   */
  readonly slot: number;
  readonly role: 'worker' | 'keeper';
  readonly pid: number;
  readonly generation: number;
  readonly state: ChildState;
  /**
   * Why it is to be replaced (max-requests, uncaught, memory, scale-down), once marked: it serves
   * on until its successor is ready, then drains. Undefined while it is not.
   */
  readonly retire?: string | undefined;
  /** These three are on the arbiter's clock (AdminView.now()): subtract them from its readings, not Date.now(). */
  readonly startedAt: number;
  readonly readyAt: number | undefined;
  readonly lastBeatAt: number | undefined;
  /**
   * How often it beats: set from the CORRAL_TIMEOUT it was started with (heartbeatIntervalMs), so
   * it is judged late by its own pace, not by a timeout a later reload set.
   */
  readonly beatIntervalMs: number;
  /** Latest heartbeat figures, undefined before the first beat. */
  readonly figures: ChildFigures | undefined;
}

/**
 * What became of the latest reload asked for (by SIGHUP or the admin API), once the arbiter handled
 * it: started (`generation` is the one it boots), queued behind the reload in progress (`behind` is
 * that one's generation; `generation` is the one the queued reload boots when it ends, if the
 * settings it reads then are valid), or refused
 * because the settings it read are invalid (the old workers keep serving). A started one names the
 * settings it read that only a restart applies, so the client is not left to believe they run.
 */
export type ReloadOutcome =
  | { readonly outcome: 'started'; readonly generation: number; readonly restartNeeded: readonly RestartNeeded[]; readonly envOverrides: readonly EnvOverride[] }
  | { readonly outcome: 'queued'; readonly generation: number; readonly behind: number }
  | { readonly outcome: 'refused'; readonly code: string | undefined; readonly message: string };

/** Where reloads stand: GET /api/admin/reload (`corral reload --wait`), the stats' `reload`, corral_reloads_total. */
export interface ReloadStateView {
  readonly inProgress: number | undefined;
  /**
   * Ms from now within which the reload in progress ends or takes a step that renews it: the
   * bound systemd was last told (reload-bound.ts). Undefined with none in progress.
   */
  readonly boundMs: number | undefined;
  readonly queued: boolean;
  readonly last: ReloadEnd | undefined;
  /** Reloads ended since the master started, by outcome. */
  readonly ended: Readonly<Record<ReloadEnd['outcome'], number>>;
}

/** A setting the settings file changed that a reload cannot apply: it runs as `running` until a restart. */
export interface RestartNeeded {
  readonly setting: string;
  readonly running: string;
  readonly configured: string;
}

/** Workers are missing and the next one waits for the backoff: what an operator sees meanwhile. */
export interface RespawnWait {
  /** Milliseconds until the master forks again. */
  readonly inMs: number;
  /** Quick crashes counted in a row (the log's `crash_loop`). */
  readonly crashLoop: number;
  /** Failed boot attempts in a row (the log's `failures`). */
  readonly bootFailures: number;
}

/**
 * Readers return the arbiter's state as it is: intents recorded but not yet handled (they wait for
 * the next tick) are not counted until settle() handles them. Whoever answers from this view
 * settles once, then reads, so one answer never mixes the state before and after an intent.
 */
export interface AdminView {
  readonly startedAt: number;
  /** The arbiter's clock (monotonicNow in the master; a test's own clock in tests): children's times are on it. */
  now(): number;
  /**
   * Handles now the intents recorded so far (signals, admin requests), as the next tick would:
   * afterwards the readers answer with what the master steers towards. A reload among them sets
   * the worker count from the settings it reads, undoing a TTIN/TTOU before it.
   */
  settle(): void;
  settings(): Settings;
  /** Live children (workers and the keeper), newest state. */
  children(): readonly ChildSnapshot[];
  /**
   * Requests (and 5xx answers) served by workers that have exited, and the Sheets cache counts of
   * exited workers and keepers, as of their last report: with the live ones' figures, totals that
   * never go back when children are replaced.
   */
  servedByExited(): { readonly requests: number; readonly errors: number; readonly refused: number; readonly idleClosed: number; readonly sheets: Readonly<ExitedSheetsCounts> };
  /** Children that exited since the master started, by role and reason (exit-reasons.ts). */
  childExits(): ExitCounts;
  /** Of those, the ones a signal nobody in corral sent ended, by role and signal (exit-reasons.ts). */
  childSignalDeaths(): SignalDeaths;
  /**
   * The request durations every worker reported with its beats in the last minute, on the arbiter's
   * clock (now()): the p99 of an interval counts every request answered in it.
   */
  latency(): RequestLatencyReader;
  /** Whether this master runs a keeper (false when it was started without one). */
  keeperExpected(): boolean;
  /** The worker count the arbiter is steering towards (CORRAL_WORKERS ± TTIN/TTOU). */
  expectedWorkers(): number;
  /**
   * CORRAL_WORKER_CONNECTIONS as the open-files limit lets a worker hold them (capacity.ts
   * workerConnectionsWithin); absent, the setting as it is.
   */
  workerConnections?(): number;
  /** Set while workers are missing and the next fork waits for the crash-loop or boot backoff. */
  respawnWait(): RespawnWait | undefined;
  /**
   * Set while no keeper runs and its next start waits for its crash backoff: when it comes back
   * (`inMs`), and its quick crashes after ready and failures in a row that set that wait.
   */
  keeperRespawnWait(): { readonly inMs: number; readonly crashLoop: number; readonly failures: number } | undefined;
  /** The current (newest) generation number. */
  generation(): number;
  /**
   * What became of the latest reload asked for; undefined while it waits for the tick, when a
   * shutdown dropped it, and before any.
   */
  reloadOutcome(): ReloadOutcome | undefined;
  /** The reload in progress (its generation), whether another is queued behind it, and how the latest one ended. */
  reloadState(): ReloadStateView;
  /** True once a shutdown has begun: the arbiter then drops reload and worker-count intents. */
  stopping(): boolean;
  /**
   * True until the master has been ready once (every worker of its first generation ready, or it
   * started degraded): its health is unavailable meanwhile, which is no outage.
   */
  starting(): boolean;
  /** Records a reload intent, exactly as SIGHUP does. */
  requestReload(): void;
  /** Records a worker-count change, exactly as SIGTTIN (+1) / SIGTTOU (-1) do. */
  requestWorkerDelta(delta: 1 | -1): void;
}
