// The generation numbers and the reload between two of them: the generation serving, the reload
// in progress (what it started from, to go back to), the one queued behind it, and what became of
// the latest reload asked for (the admin API's answer). Numbers are never reused, even after a
// failed reload rolled back, so a worker's generation always names one set of settings.

import type { LoadedSettings } from '../config/load.js';
import type { ReloadOutcome, RestartNeeded } from './admin/view.js';

export interface ReloadState {
  readonly previous: LoadedSettings;
  readonly previousGeneration: number;
  /**
   * The worker count steered to when the reload started: CORRAL_WORKERS as moved by TTIN/TTOU
   * since, which `previous` does not hold. A rolled-back reload goes back to it.
   */
  readonly previousWorkers: number;
  readonly startedAt: number;
  /** When the previous generation's first worker became ready: a rollback gives it back. */
  readonly previousReadyAt: number | undefined;
}

/** How a reload ended: `corral reload --wait` and the admin API's stats say it, systemd's STATUS= line when it did not apply. */
export interface ReloadEnd {
  /** Reloads ended since the master started, this one included: a reload asked for ends with a higher number. */
  readonly seq: number;
  readonly outcome: 'completed' | 'refused' | 'rolled_back' | 'incomplete';
  /** The generation serving once it ended. */
  readonly generation: number;
  /** The stable code of what failed; undefined when it completed. */
  readonly code: string | undefined;
  /** One line, as systemd's STATUS= line gives it. */
  readonly message: string;
  /** Wall clock, epoch ms. */
  readonly at: number;
  /**
   * The settings it read but left as they were until a restart (config.restart_needed), for a
   * reload that started (completed, incomplete, and rolled back too: those settings are the
   * master's own, which a rollback leaves as they were, so a restart would still apply them); for
   * one refused before it started, those of the reload before it, which still stand.
   */
  readonly restartNeeded: readonly string[];
}

export class Generations {
  private serving = 1;
  /** Generations are never reused, even after a failed reload rolled back. */
  private last = 1;
  private inProgress: ReloadState | undefined;
  /** A SIGHUP arrived during a reload: run one more as soon as this one ends (the .env may have changed again). */
  private pending = false;
  /** What became of the latest reload intent; undefined until the tick handles it. */
  private latest: ReloadOutcome | undefined;
  /** When the serving generation's first worker became ready (wall clock, epoch ms); undefined before. */
  private firstReadyAt: number | undefined;
  /** The latest reload that ended, whatever became of it; undefined before any. */
  private lastEnded: ReloadEnd | undefined;
  /** The settings the reload in progress leaves until a restart, for its end (ReloadEnd.restartNeeded). */
  private startedRestartNeeded: readonly string[] = [];
  /** A worker of the reload in progress settled (reloadSettled). */
  private settledAny = false;
  /** Outgoing workers that died unasked during the reload in progress (outgoingLost). */
  private lostOutgoing = 0;
  /** Reloads ended since the master started, by outcome (/metrics' corral_reloads_total). */
  private readonly endedBy: Record<ReloadEnd['outcome'], number> = { completed: 0, refused: 0, rolled_back: 0, incomplete: 0 };

  /** The generation the master steers towards: the reload's new one while it runs. */
  get current(): number {
    return this.serving;
  }

  get reload(): ReloadState | undefined {
    return this.inProgress;
  }

  get outcome(): ReloadOutcome | undefined {
    return this.latest;
  }

  /**
   * Why the latest reload that ended did not apply (refused, rolled back, incomplete); undefined
   * once one completes (the log keeps the failure). Kept, for systemd's STATUS= line, until then:
   * the status line is re-sent every few seconds, so a failure said only with the READY=1 that
   * ends the reload was gone from `systemctl status` at once (systemd has no notification for a
   * failed reload: the unit's `corral reload --wait` is what fails `systemctl reload`).
   */
  get lastFailure(): string | undefined {
    return this.lastEnded && this.lastEnded.outcome !== 'completed' ? this.lastEnded.message : undefined;
  }

  /** The latest reload that ended: what `corral reload --wait` reports once its own has. */
  get lastEnd(): ReloadEnd | undefined {
    return this.lastEnded;
  }

  /** Reloads ended since the master started, by outcome. */
  get endedByOutcome(): Readonly<Record<ReloadEnd['outcome'], number>> {
    return { ...this.endedBy };
  }

  /** A reload asked for during the one in progress waits to start when it ends. */
  get queued(): boolean {
    return this.pending;
  }

  /** A reload ended (`generation` serves now), applied in full or not; `message` is one line. */
  ended(outcome: ReloadEnd['outcome'], code: string | undefined, message: string, wallNow: number): void {
    const restartNeeded = outcome === 'refused' ? (this.lastEnded?.restartNeeded ?? []) : this.startedRestartNeeded;
    this.startedRestartNeeded = [];
    this.lastEnded = { seq: (this.lastEnded?.seq ?? 0) + 1, outcome, generation: this.serving, code, message, at: wallNow, restartNeeded };
    this.endedBy[outcome]++;
  }

  /**
   * When the first worker of the generation steered to became ready (epoch ms), or undefined while
   * none has: workers forked after it join a generation whose shared choices (the session secret)
   * are made, and are told so (ChildIdentity.generationReadyAt).
   */
  get readyAt(): number | undefined {
    return this.firstReadyAt;
  }

  /**
   * A worker of the reload in progress has settled (ready for CORRAL_RELOAD_SETTLE, settle.ts):
   * it took, or may take, an old worker's place. False while no reload runs.
   */
  get reloadSettled(): boolean {
    return this.inProgress !== undefined && this.settledAny;
  }

  /**
   * Workers of an older generation that died unasked (a crash, the OOM killer, a kill as stuck)
   * during the reload in progress: nothing replaces them while it runs, its own generation
   * being their successor. 0 while no reload runs.
   */
  get outgoingLost(): number {
    return this.inProgress === undefined ? 0 : this.lostOutgoing;
  }

  /** A worker of an older generation died unasked during the reload in progress. */
  outgoingWorkerLost(): void {
    if (this.inProgress !== undefined) this.lostOutgoing++;
  }

  /** A worker of the current generation settled. */
  workerSettled(): void {
    this.settledAny = true;
  }

  /** A worker of the current generation is ready: the first one sets readyAt. */
  workerReady(wallNow: number): void {
    this.firstReadyAt ??= wallNow;
  }

  /** A reload was asked for. Until the tick handles it there is no outcome: an earlier one's would pass for its. */
  asked(): void {
    this.latest = undefined;
  }

  /** A reload asked for during another waits for it to end; returns true for the first one queued. */
  queue(): boolean {
    const first = !this.pending;
    this.pending = true;
    // Several reloads asked for meanwhile are one; it boots the next generation number, whether
    // the one in progress completes or is rolled back.
    this.latest = { outcome: 'queued', generation: this.last + 1, behind: this.serving };
    return first;
  }

  refused(code: string | undefined, message: string): void {
    this.latest = { outcome: 'refused', code, message };
  }

  /** Starts a reload from the settings `previous` and `previousWorkers` workers; returns the new generation. */
  start(previous: LoadedSettings, previousWorkers: number, now: number, restartNeeded: readonly RestartNeeded[], next: LoadedSettings): number {
    this.inProgress = { previous, previousGeneration: this.serving, previousWorkers, startedAt: now, previousReadyAt: this.firstReadyAt };
    this.serving = ++this.last;
    this.firstReadyAt = undefined;
    this.settledAny = false;
    this.lostOutgoing = 0;
    this.latest = { outcome: 'started', generation: this.serving, restartNeeded, envOverrides: next.envOverrides };
    this.startedRestartNeeded = restartNeeded.map((r) => r.setting);
    return this.serving;
  }

  /** The reload completed, or ended incomplete: its generation serves. */
  end(): void {
    this.inProgress = undefined;
  }

  /** Goes back to the generation the reload started from; returns what it started from. */
  rollBack(): ReloadState | undefined {
    const r = this.inProgress;
    if (!r) return undefined;
    this.serving = r.previousGeneration;
    this.firstReadyAt = r.previousReadyAt;
    this.inProgress = undefined;
    return r;
  }

  /** Whether a reload was queued behind the one that ended; it is then no longer queued. */
  takePending(): boolean {
    if (!this.pending) return false;
    this.pending = false;
    return true;
  }
}
