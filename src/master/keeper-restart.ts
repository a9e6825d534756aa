// The keeper's restarts the workers are told of: a reload that changes a setting the keeper reads,
// or the build on disk, drains it for a new one, and a serving keeper that crashed is respawned.
// Meanwhile the workers wait for the new keeper rather than answer 503 ('keeper-restarting'), and
// are told once it is ready ('keeper-ready'). A reload first checks that the code on disk loads
// the keeper (keeper-load-check.ts), and drains the running one only once it does: otherwise the
// reload rolls back with it. The arbiter forks the keeper and steps the reload.

import type { Settings } from '../config/schema.js';
import type { MasterMessage } from '../ipc/messages.js';
import type { Logger } from '../log/logger.js';
import type { BootError } from './crash-ledger.js';
import type { KeeperCrashLedger } from './keeper-crash-ledger.js';
import { changedKeeperFiles, type KeeperFiles } from './keeper-files.js';
import type { KeeperLoadCheck, KeeperLoadChecker, KeeperLoadVerdict } from './keeper-load-check.js';
import { KEEPER_CRASH_BOOT_WAIT_MS, KEEPER_CRASH_NOTICE_MAX_DELAY_MS, KEEPER_RESTART_DRAIN_MS, KEEPER_RESTART_WAIT_MS } from './keeper-wait.js';
import type { ChildRecord } from './registry.js';
import { changedKeeperSettings } from './reload-plan.js';

export interface KeeperRestartDeps {
  readonly log: Logger;
  readonly now: () => number;
  readonly keeperCrashes: KeeperCrashLedger;
  /** The live keeper, if any. */
  readonly keeper: () => ChildRecord | undefined;
  /** Sends to every worker not being killed. */
  readonly tellWorkers: (msg: MasterMessage) => void;
  /** The arbiter's drain (drain.ts), with its stop-phase flag. */
  readonly drain: (c: ChildRecord, reason: string, gracefulMs: number) => void;
  /** Checks that the code on disk loads the keeper (keeper-load-check.ts); undefined: a reload restarts it unchecked. */
  readonly checkLoads?: KeeperLoadChecker | undefined;
  /** The check's verdict came: the tick acts on it. */
  readonly requestTick: () => void;
}

/** What holds a reload's restart of the keeper at the tick (loadCheckStep). */
export type LoadCheckStep = 'wait' | { readonly why: string; readonly error: BootError };

export class KeeperRestart {
  /** A reload changed the keeper's settings: new workers wait for the new keeper. */
  private restartingNow = false;
  /** Workers were told the keeper restarts ('keeper-restarting') and wait to hear it is ready. */
  private noticeOpen = false;
  /** Until when (d.now()) the workers told wait for the new keeper. */
  private noticeUntil = 0;
  /** The build the running keeper started from. */
  private keeperCode: string | undefined;
  /** The files the running keeper read at its start (keeper-files.ts). */
  private keeperFileDigests: KeeperFiles | undefined;
  /** What the reload's restart of the keeper changed, for its rollback's words (cannotBootWhy). */
  private lastCause: { readonly changed: readonly string[]; readonly filesChanged: readonly string[]; readonly code: { readonly from: string | undefined; readonly to: string } | undefined } | undefined;
  /** A reload's restart of the keeper waiting for the check that the code on disk loads it, and the verdict once it came. */
  private check: { readonly run: KeeperLoadCheck; readonly onDisk: string | undefined; readonly restart: () => void; verdict?: KeeperLoadVerdict } | undefined;
  /** The reload's check failed: the keeper it was to restart runs on, on the settings it ran with. */
  private keptByCheck = false;

  constructor(private readonly d: KeeperRestartDeps) {}

  /** A reload restarts the keeper: the new workers wait for it (keeperRestartStep says how long). */
  get restarting(): boolean {
    return this.restartingNow;
  }

  /** The workers go on: the new keeper is ready, or they stop waiting for it. */
  done(): void {
    this.restartingNow = false;
  }

  /** A keeper was forked from this build, to read these files. */
  forked(code: string | undefined, files?: KeeperFiles): void {
    this.keeperCode = code;
    this.keeperFileDigests = files;
  }

  /**
   * The notice for a worker that becomes ready while it is open, with the wait left: a worker still
   * loading its app when the keeper died missed it (its handlers were not yet listening), and once
   * serving answered 503 to the reads its own copies missed until the new keeper was ready.
   */
  noticeNow(): MasterMessage | undefined {
    const left = this.noticeUntil - this.d.now();
    return this.noticeOpen && left > 0 ? { type: 'keeper-restarting', waitMs: left } : undefined;
  }

  private tellRestarting(waitMs: number): void {
    this.d.tellWorkers({ type: 'keeper-restarting', waitMs });
    this.noticeOpen = true;
    this.noticeUntil = this.d.now() + waitMs;
  }

  /** The keeper is ready: workers told it restarts hear that it is back. */
  ready(): void {
    if (!this.noticeOpen) return;
    this.noticeOpen = false;
    this.d.tellWorkers({ type: 'keeper-ready' });
  }

  /**
   * Drains the keeper, to start a new one, when a setting it reads changed (see
   * changedKeeperSettings), or when the build on disk is not the one it started from: the new
   * workers run that build, and speak to the keeper over a protocol a build may change; or when a
   * file it read at its start by a setting's path (`files`: as they are now) was replaced since.
   */
  ifChanged(before: Settings, after: Settings, onDisk?: string, files?: KeeperFiles): void {
    const keeper = this.d.keeper();
    const cause = this.restartCause(before, after, onDisk, files);
    if (!keeper || cause === undefined) return;
    const { changed, filesChanged, codeChanged } = cause;
    this.lastCause = { changed, filesChanged, code: codeChanged && onDisk !== undefined ? { from: this.keeperCode, to: onDisk } : undefined };
    this.restartingNow = true;
    this.d.keeperCrashes.restarting();
    const why = [
      ...(changed.length > 0 ? [`keeper settings changed (${changed.join(', ')})`] : []),
      ...(filesChanged.length > 0 ? [`the file ${filesChanged.join(' and ')} names was replaced since the keeper read it at its start`] : []),
      ...(codeChanged ? [`corral's code on disk is another build (${this.keeperCode} to ${onDisk})`] : []),
    ].join(', and ');
    this.d.log.info({ event: 'keeper.restart', changed, files_changed: filesChanged, code: codeChanged ? { running: this.keeperCode, on_disk: onDisk } : null }, `${why}: restarting the keeper first`);
    // The workers first: a write the draining keeper refuses is then retried until the new one is
    // ready, not answered 503 (keeper-restart-window.ts).
    this.tellRestarting(KEEPER_RESTART_WAIT_MS);
    const reason = changed.length > 0 ? 'reload: keeper settings changed' : filesChanged.length > 0 ? 'reload: keeper files replaced' : 'reload: new build of corral';
    this.d.drain(keeper, reason, KEEPER_RESTART_DRAIN_MS);
  }

  /**
   * Why the keeper the reload restarted cannot boot, as its rollback says it. A new build of corral
   * (an upgrade in place) is no setting: blamed on "the new settings", the operator looked for an
   * edit that was never made. And the rollback cannot go back to the build the keeper ran, which
   * the upgrade replaced on disk: the keeper is started again from the one that fails, and every
   * Sheets read and write fails until the code on disk loads, while the log said that the old
   * generation "keeps serving".
   */
  cannotBootWhy(attempts: string): string {
    const c = this.lastCause;
    const code = c?.code;
    if (!code) return `the keeper cannot boot with the new settings (${attempts})`;
    const settings = c.changed.length > 0 ? ` and the new settings (${c.changed.join(', ')})` : '';
    return (
      `the keeper cannot boot from corral's new build on disk (${code.to})${settings} (${attempts}); the build it ran (${code.from ?? 'unknown'}) is no longer on disk to go back to, ` +
      `so the keeper is started again from ${code.to}${settings ? ' with the old settings' : ''}, and until it boots every Sheets read a worker holds no copy of, and every write, fails: ` +
      `fix or rebuild corral (npm ci), or put the previous build back, then restart corral`
    );
  }

  /**
   * A reload's ifChanged, once the code on disk is seen to load the keeper (keeper-load-check.ts):
   * meanwhile the tick forks and drains nothing (loadCheckStep). `env`: the new keeper's.
   */
  ifChangedOnceLoads(before: Settings, after: Settings, onDisk: string | undefined, files: KeeperFiles | undefined, env: Readonly<Record<string, string>>): void {
    this.keptByCheck = false;
    this.cancelLoadCheck();
    const checkLoads = this.d.checkLoads;
    if (!checkLoads || !this.wouldRestart(before, after, onDisk, files)) {
      this.ifChanged(before, after, onDisk, files);
      return;
    }
    const check: NonNullable<typeof this.check> = { run: checkLoads(env), onDisk, restart: () => this.ifChanged(before, after, onDisk, files) };
    this.check = check;
    this.d.log.info({ event: 'keeper.load_check', running: this.keeperCode ?? null, on_disk: onDisk ?? null }, "checking that corral's code on disk loads the keeper before draining the running one");
    void check.run.verdict.then((verdict) => {
      if (this.check !== check) return;
      check.verdict = verdict;
      this.d.requestTick();
    });
  }

  /**
   * Where a reload's check stands, at the tick: 'wait' while it runs, the reason and error the
   * reload rolls back with when the code on disk does not load the keeper (the running one is
   * kept: it was not drained), or undefined when nothing holds the reload (the check passed: the
   * keeper's restart begins now, as ifChanged).
   */
  loadCheckStep(): LoadCheckStep | undefined {
    const check = this.check;
    if (!check) return undefined;
    const verdict = check.verdict;
    if (!verdict) return 'wait';
    this.check = undefined;
    if (verdict.loads) {
      check.restart();
      return undefined;
    }
    this.keptByCheck = true;
    const build = (code: string | undefined) => (code === undefined ? '' : ` (build ${code})`);
    const why =
      `corral's code on disk${build(check.onDisk)} does not load the keeper: ${verdict.error}; the running keeper${build(this.keeperCode)} is kept, with its cache, quota and write journal, and no worker of the new generation was started: ` +
      `fix or rebuild corral (npm ci, npm run build), or put the previous build back, then reload again`;
    return { why, error: { code: 'CORRAL_ERR_CODE_LOAD', message: verdict.error, ...(verdict.stderr ? { stack: verdict.stderr } : {}) } };
  }

  /** A check under way is ended, its process killed and its verdict ignored: a stop drains the keeper as it is. */
  cancelLoadCheck(): void {
    this.check?.run.cancel();
    this.check = undefined;
  }

  /** Whether ifChanged with these would restart a running keeper: what it says at its start is then said by it. */
  wouldRestart(before: Settings, after: Settings, onDisk?: string, files?: KeeperFiles): boolean {
    return this.d.keeper() !== undefined && this.restartCause(before, after, onDisk, files) !== undefined;
  }

  private restartCause(before: Settings, after: Settings, onDisk: string | undefined, files: KeeperFiles | undefined): { changed: string[]; filesChanged: string[]; codeChanged: boolean } | undefined {
    const changed = changedKeeperSettings(before, after);
    const codeChanged = onDisk !== undefined && this.keeperCode !== undefined && onDisk !== this.keeperCode;
    // A file whose path setting changed is in `changed` already.
    const filesChanged = changedKeeperFiles(this.keeperFileDigests, files).filter((name) => !changed.includes(name));
    return changed.length === 0 && !codeChanged && filesChanged.length === 0 ? undefined : { changed, filesChanged, codeChanged };
  }

  /**
   * A reload rolled back: the keeper goes back to the old settings too, whether it is still trying
   * the new ones or already runs them (the workers were what failed).
   */
  rollBack(failed: Settings, previous: Settings): void {
    this.restartingNow = false;
    // Never restarted by the reload (its check failed, or had not ended): it runs the settings it ran with.
    if (this.keptByCheck || this.check) {
      this.keptByCheck = false;
      this.cancelLoadCheck();
      return;
    }
    this.d.keeperCrashes.spawnNow();
    const keeper = this.d.keeper();
    if (keeper?.state === 'booting') this.d.drain(keeper, 'reload failed', 0);
    else this.ifChanged(failed, previous);
  }

  /**
   * A serving keeper died (kill -9, the OOM killer, a bug): its replacement starts after the crash
   * backoff (125 to 250 ms the first time) and boots in about a second. The workers are told, as
   * for a planned restart, so that a write finding no keeper waits for the new one rather than
   * answering 503 after the link's single retry (an audit's kill -9 under load: 45 writes refused).
   * Not when the backoff of a crash loop is long: a client is better served by a 503 and its
   * Retry-After than by a wait that ends the same way. `running`: the master's phase is.
   */
  crashed(running: boolean): void {
    if (!running || this.restartingNow) return;
    const respawnInMs = Math.max(0, this.d.keeperCrashes.nextSpawnAt - this.d.now());
    if (respawnInMs > KEEPER_CRASH_NOTICE_MAX_DELAY_MS) return;
    this.tellRestarting(respawnInMs + KEEPER_CRASH_BOOT_WAIT_MS);
  }
}
