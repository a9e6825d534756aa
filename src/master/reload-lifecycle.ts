// A reload from start to end: the new settings read (refused whole when invalid), the new
// generation started with the keeper's restart it needs, its end once it serves in full, the
// rollback to the settings and generation it started from when it cannot boot, and the reload
// queued behind it. What the settings mean is reload-plan.ts's, the generation numbers are
// generations.ts's; the arbiter forks and drains the workers and says when a step is due.

import type { InstallMove } from './code-identity.js';
import type { LoadedSettings } from '../config/load.js';
import { displayValue } from '../config/shown-value.js';
import type { Settings } from '../config/schema.js';
import type { HostPort } from '../config/spec.js';
import { MAX_WORKERS } from '../config/schema-daemon.js';
import { counted } from '../counted.js';
import { ConfigError, describeError, codeOf } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ArbiterOptions } from './arbiter-options.js';
import type { CrashLedger } from './crash-ledger.js';
import type { Generations } from './generations.js';
import type { KeeperFiles } from './keeper-files.js';
import type { KeeperRestart } from './keeper-restart.js';
import type { ChildRecord } from './registry.js';
import { startBoundMs, type ReloadBound } from './reload-bound.js';
import { logEnvOverrides, planReload } from './reload-plan.js';
import { previousServes } from './rollout.js';

/** What the master steers towards: a reload replaces both, a rollback puts them back. */
export interface Target {
  /** The settings in force. */
  loaded: LoadedSettings;
  /** The worker count steered to: CORRAL_WORKERS, moved by TTIN/TTOU. */
  expected: number;
}

export interface ReloadDeps {
  /** `loaded`: the settings the master started with, what only a restart applies is compared with. */
  readonly options: Pick<ArbiterOptions, 'loaded' | 'reloadSettings' | 'configureLogs' | 'settingsApplied' | 'notifier'>;
  readonly target: Target;
  readonly log: Logger;
  readonly now: () => number;
  /** The build on disk (code-identity.ts). */
  readonly code: () => string | undefined;
  /** The files the keeper would read at its start with these settings (keeper-files.ts). */
  readonly keeperFiles: (settings: Settings) => KeeperFiles;
  /** The install the path corral was started as leads to now, when moved (code-identity.ts). */
  readonly installMove: () => InstallMove | undefined;
  readonly gens: Generations;
  readonly crashes: CrashLedger;
  readonly keeperRestart: KeeperRestart;
  /** The reload's bound: RELOADING=1 starts it, the arbiter renews it at each step. */
  readonly bound: ReloadBound;
  readonly workers: () => ChildRecord[];
  /** Where the admin API listens (CORRAL_ADMIN_BIND's host at start, its port), once it does. */
  readonly adminListening?: () => HostPort | undefined;
  /** The master's first boot is not over: READY=1 is then the boot's own, and waits for the workers. */
  readonly booting: () => boolean;
  readonly statusLine: () => string;
  /** Records a reload intent: the one queued behind the reload that ended. */
  readonly recordReload: () => void;
  readonly requestTick: () => void;
}

export class ReloadLifecycle {
  /** The CORRAL_BIND a reload last kept the running address instead of (see overlappingBind). */
  private refusedBind: string | undefined;
  /** The file the master's own lines go to, as the reload answer names it (a reload may move them, see configureLogs). */
  private masterLogFile: string;
  /** The build the master runs: a reload cannot change it. */
  private readonly codeAtStart: string | undefined;
  /** The build on disk a reload last said needs a restart (said once per build). */
  private codeChangeSaid: string | undefined;
  /** The install a reload last said the launcher's path leads to (said once per install). */
  private installMoveSaid: string | undefined;
  /**
   * Worker count changes (TTIN, TTOU, the admin API's ±1) asked for while a reload is queued, which
   * that reload carries over its CORRAL_WORKERS; undefined while none is queued. A reload asked for
   * before them is handled first, as the README says, and they count from its workers: started
   * after them, it reset the count, the +1 answered `workers_expected 4` undone without a word.
   */
  private scaleSinceQueued: number | undefined;
  /**
   * Worker count changes applied while the reload in progress runs: a rollback carries them over
   * the count it goes back to. Dropped there, a TTIN answered `workers_expected 4` during a reload
   * that then rolled back went back to 3 without a word.
   */
  private scaleDuringReload = 0;

  constructor(private readonly d: ReloadDeps) {
    this.masterLogFile = displayValue('CORRAL_LOG_FILE', d.options.loaded.settings.CORRAL_LOG_FILE);
    this.codeAtStart = d.code();
  }

  /**
   * The reload intent: starts the next generation, or queues behind the reload in progress; or,
   * when that one has no worker ready and its boots failed while its old generation serves,
   * supersedes it (supersedable()).
   */
  begin(): void {
    const { gens, log, target } = this.d;
    // Superseding takes settings that load: an edit that does not is queued, and refused once the
    // reload in progress ended, as any HUP during a reload.
    const superseding = gens.reload && this.supersedable() ? this.loadingSettings() : undefined;
    if (gens.reload && !superseding) {
      const generation = gens.current;
      if (gens.queue()) log.info({ event: 'reload.queued', generation }, `a reload to generation ${generation} is in progress; another will start when it ends`);
      this.scaleSinceQueued ??= 0;
      return;
    }
    // The keeper's settings as the superseded reload left them: compared with the new ones, the
    // keeper restarts once at most (going back to the old ones first restarted it twice).
    const keeperFrom = superseding ? this.supersede() : undefined;
    const carried = this.scaleSinceQueued ?? 0;
    this.scaleSinceQueued = undefined;
    let next: LoadedSettings;
    try {
      // Settings the next start would refuse are refused now, not found out at the next reboot
      // (`corral reload` makes the same check before it signals): loadSettings judges them whole.
      next = superseding ?? this.d.options.reloadSettings();
    } catch (err) {
      const why = describeError(err);
      // The warnings first, as for an accepted reload: a did-you-mean may be what explains it.
      if (err instanceof ConfigError) for (const warning of err.warnings) log.warn({ event: 'config.warning' }, warning);
      gens.refused(why.code, why.message);
      const code = codeOf(why, 'CORRAL_ERR_CONFIG_INVALID');
      gens.ended('refused', code, `last reload refused (${code}), generation ${gens.current} serves: ${why.message}`, Date.now());
      log.error({ event: 'reload.failed', code, err: why }, `reload refused, old workers keep serving: ${why.message}`);
      // systemctl reload announced RELOADING=1 (ExecReload, NotifyAccess=exec): only READY=1 ends it.
      // Still booting, READY=1 is the end of the boot's own and must wait for the workers.
      if (!this.d.booting()) this.d.options.notifier.ready(this.d.statusLine());
      return;
    }
    for (const warning of next.warnings) log.warn({ event: 'config.warning' }, warning);
    logEnvOverrides(log, next);
    const listening = this.d.workers().find((c) => c.generation === gens.current && (c.state === 'ready' || c.state === 'draining') && c.port !== undefined);
    // The new workers run the code on disk: an upgraded corral's, after `npm ci`.
    const onDisk = this.d.code();
    const plan = planReload({
      started: this.d.options.loaded.settings,
      current: target.loaded,
      next,
      listeningPort: listening?.port,
      adminListening: this.d.adminListening?.(),
      refusedBind: this.refusedBind,
      masterLogFile: this.masterLogFile,
      configureLogs: this.d.options.configureLogs,
      code: { running: this.codeAtStart, onDisk, said: this.codeChangeSaid },
      installMove: { move: this.d.installMove(), said: this.installMoveSaid },
      log,
    });
    next = plan.next;
    this.codeChangeSaid = plan.codeChangeSaid;
    this.installMoveSaid = plan.installMoveSaid;
    this.refusedBind = plan.refusedBind;
    this.masterLogFile = plan.masterLogFile;
    const previous = target.loaded;
    gens.start(previous, target.expected, this.d.now(), plan.restartNeeded, next);
    this.scaleDuringReload = 0;
    target.loaded = next;
    const keeperFiles = this.d.keeperFiles(next.settings);
    const keeperRestarts = this.d.keeperRestart.wouldRestart(keeperFrom ?? previous.settings, next.settings, onDisk, keeperFiles);
    this.d.options.settingsApplied?.(next.settings, { keeperRestarts, rollBack: false });
    target.expected = next.settings.CORRAL_WORKERS;
    if (carried !== 0) {
      target.expected = Math.min(MAX_WORKERS, Math.max(1, next.settings.CORRAL_WORKERS + carried));
      log.info(
        { event: 'workers.scale', expected: target.expected, delta: carried, workers_setting: next.settings.CORRAL_WORKERS },
        `reload to generation ${gens.current}: ${target.expected} workers, CORRAL_WORKERS=${next.settings.CORRAL_WORKERS} ${carried > 0 ? '+' : ''}${carried} asked for after this reload was queued`,
      );
    }
    // Drained once the code on disk is seen to load a keeper: the new generation waits for that too.
    this.d.keeperRestart.ifChangedOnceLoads(keeperFrom ?? previous.settings, next.settings, onDisk, keeperFiles, next.childEnv);
    this.d.crashes.clearBootBackoff();
    this.d.bound.start(`reloading: starting generation ${gens.current}`, startBoundMs(next.settings));
    log.info({ event: 'reload.start', generation: gens.current, workers: target.expected }, `reload: starting generation ${gens.current}`);
  }

  /**
   * Whether the reload in progress may give way to a new one at once: none of its workers has
   * settled yet (none took an old one's place, settle.ts) and one of their boots failed (a boot
   * that timed out, or a worker that died before it settled, included), and
   * a worker of the generation it started from is ready (the new one starts from it). Queued
   * behind it, the fix of settings whose app never loads waited for the rollback:
   * CORRAL_BOOT_ATTEMPTS boots of up to a minute each, about five. A reload whose boots have not
   * failed is still queued behind, however long they take within their bound: a time limit cut
   * apps whose createApp legitimately takes longer, and HUPs sent faster than a boot would
   * restart it for good. (The crash ledger's count of failed boots starts again at each reload.)
   */
  private supersedable(): boolean {
    const { gens } = this.d;
    const r = gens.reload;
    if (!r || gens.reloadSettled || this.d.crashes.bootFailures === 0) return false;
    return previousServes(this.d.workers(), r.previousGeneration);
  }

  /** The settings a reload would read now, or undefined when they do not load (refused). */
  private loadingSettings(): LoadedSettings | undefined {
    try {
      return this.d.options.reloadSettings();
    } catch {
      return undefined;
    }
  }

  /**
   * Ends the reload in progress as rolled back, for the one starting now: its booting workers are
   * stopped. Returns the settings it had the keeper on: the new reload restarts the keeper from
   * them, if it must.
   */
  private supersede(): Settings | undefined {
    const { gens, target } = this.d;
    const r = gens.reload;
    if (!r) return undefined;
    const superseded = gens.current;
    const keeperOn = target.loaded.settings;
    this.rollBack(`superseded by a newer reload: none of its workers had settled, and their boots failed`, undefined, superseded);
    // The reload starting now reads the settings of any queued behind the superseded one.
    gens.takePending();
    return keeperOn;
  }

  /** A worker count change (+1 or -1) was applied: a reload queued before it carries it too. */
  scaled(delta: number): void {
    if (this.scaleSinceQueued !== undefined) this.scaleSinceQueued += delta;
    if (this.d.gens.reload) this.scaleDuringReload += delta;
  }

  /** The reload's generation serves in full (`ready` workers, on `port`), and no other is left: it is done. */
  done(ready: number, port: number | undefined, now: number): void {
    const { gens } = this.d;
    if (!gens.reload) return;
    this.d.log.info({ event: 'reload.done', generation: gens.current, workers: ready, port: port ?? null, ms: now - gens.reload.startedAt }, `reload done: generation ${gens.current} serving on port ${port}`);
    gens.end();
    gens.ended('completed', undefined, `last reload completed, generation ${gens.current} serves`, Date.now());
    if (!this.startPending()) this.d.options.notifier.ready(this.d.statusLine());
  }

  /**
   * The workers fail to boot, CORRAL_BOOT_ATTEMPTS times: a reload goes back to the generation it
   * started from while that one still serves, or else ends incomplete while some of its own serve.
   * With no worker of either left (the old ones died meanwhile: an OOM kill, a kill as stuck, which
   * a reload does not replace), it goes back too, and the settings that served are forked again:
   * left to boot.exhausted, the master exited 3 (78 for an app that cannot load, which systemd does
   * not restart) over a bad reload, where the old settings had served until their worker died.
   * Returns true when it rolled back: the tick then manages no further.
   */
  workersCannotBoot(): boolean {
    const { gens, target } = this.d;
    const err = this.d.crashes.lastBootError;
    const ready = this.d.workers().filter((c) => c.state === 'ready').length;
    if (gens.reload && (ready === 0 || previousServes(this.d.workers(), gens.reload.previousGeneration))) {
      this.rollBack(`the new generation cannot boot (${err?.message})`, err);
      return true;
    }
    if (gens.reload && ready > 0) {
      // Nothing to roll back to (the old generation drained or died meanwhile), and the new one
      // cannot reach its count: end the reload rather than stay in it for good (systemd would
      // wait in "reloading", and every later SIGHUP, the fix included, would queue behind it).
      // The workers that run keep serving; the missing ones are retried with backoff.
      this.d.log.error(
        { event: 'reload.failed', code: codeOf(err, 'CORRAL_ERR_WORKER_DIED'), generation: gens.current, workers: ready, expected: target.expected, boot_error: err ?? null },
        `reload to generation ${gens.current} cannot complete: its workers fail to boot (${err?.message}) and no worker of generation ${gens.reload.previousGeneration} is left to go back to; ${ready} of ${target.expected} serve, the others are retried`,
      );
      const code = codeOf(err, 'CORRAL_ERR_WORKER_DIED');
      gens.end();
      gens.ended('incomplete', code, `last reload incomplete (${code}), generation ${gens.current} has ${ready} of ${target.expected} workers: ${err?.message}`, Date.now());
      if (!this.startPending()) this.d.options.notifier.ready(this.d.statusLine());
    }
    return false;
  }

  /**
   * The old generation lost workers (a crash, the OOM killer, a kill as stuck), which a reload
   * does not replace, while the new one fails to boot and none of its workers has settled: the
   * reload goes back now, and the settings that served fork the missing ones. Left to
   * CORRAL_BOOT_ATTEMPTS, the host served short for as many boots (up to a minute each when they
   * hang), a reload that was failing being its only way back to full capacity. A reload is one
   * `corral reload` away once its cause is fixed. Returns true when it rolled back.
   */
  outgoingLostWhileFailing(): boolean {
    const { gens, crashes } = this.d;
    const r = gens.reload;
    if (!r || gens.outgoingLost === 0 || crashes.bootFailures === 0 || gens.reloadSettled) return false;
    const err = crashes.lastBootError;
    this.rollBack(`the new generation fails to boot (${err?.message}) while generation ${r.previousGeneration} lost ${counted(gens.outgoingLost, 'worker')} meanwhile (a reload does not replace them; going back does)`, err);
    return true;
  }

  /**
   * Goes back to the settings and generation the reload started from; the old generation keeps
   * serving. `superseded`: the generation a newer reload replaces, starting at once (begin()).
   */
  rollBack(why: string, bootError: ChildRecord['bootError'], superseded?: number): void {
    const { gens, target } = this.d;
    const r = gens.reload;
    if (!r) return;
    const failed = target.loaded.settings;
    const code = superseded === undefined ? codeOf(bootError, 'CORRAL_ERR_WORKER_DIED') : undefined;
    // None of its workers left (they died during the reload): they are forked again.
    const serving = previousServes(this.d.workers(), r.previousGeneration);
    const then = serving ? 'keeps serving' : 'is started again with the settings it ran with (none of its workers was left)';
    if (superseded === undefined) {
      this.d.log.error({ event: 'reload.failed', code, generation: gens.current, boot_error: bootError ?? null }, `reload failed: ${why}; generation ${r.previousGeneration} ${then}`);
    } else {
      this.d.log.warn(
        { event: 'reload.superseded', generation: superseded, serving: r.previousGeneration },
        `reload to generation ${superseded} superseded: a newer reload came while none of its workers had settled and their boots failed; its booting workers are stopped (its ready ones drain), generation ${r.previousGeneration} serves until the new one is ready`,
      );
    }
    // The new generation's workers are now outgoing: manage() stops those still booting and
    // drains the ready ones gracefully, each only once a worker of the old generation is ready to
    // take its place (cutting them at once dropped their requests and the capacity).
    target.loaded = r.previous;
    this.d.options.settingsApplied?.(r.previous.settings, { keeperRestarts: false, rollBack: true });
    // Back to the previous file, when the reload had moved the master's lines (the logger says
    // whether it could): a later reload's restart_needed names the file it writes to.
    if (this.d.options.configureLogs?.(r.previous.settings) ?? true) this.masterLogFile = displayValue('CORRAL_LOG_FILE', r.previous.settings.CORRAL_LOG_FILE);
    gens.rollBack();
    gens.ended('rolled_back', code, superseded === undefined ? `last reload rolled back (${code}), generation ${r.previousGeneration} ${serving ? 'serves' : 'is started again'}: ${why}` : `reload to generation ${superseded} ${why}; generation ${r.previousGeneration} serves meanwhile`, Date.now());
    // The count that served before the reload, TTIN/TTOU included: the new settings' count had
    // already drained the excess of a larger one, which is now forked again. The changes asked for
    // during the reload are carried over it, as a queued reload carries them over CORRAL_WORKERS.
    const carried = this.scaleDuringReload;
    this.scaleDuringReload = 0;
    target.expected = Math.min(MAX_WORKERS, Math.max(1, r.previousWorkers + carried));
    if (carried !== 0 && superseded === undefined) {
      this.d.log.info(
        { event: 'workers.scale', expected: target.expected, delta: carried, workers_before_reload: r.previousWorkers },
        `reload rolled back: ${target.expected} workers, the ${r.previousWorkers} before it ${carried > 0 ? '+' : ''}${carried} asked for during it`,
      );
    }
    // The backoff was the failing generation's: the old one's replacements start at once.
    this.d.crashes.clearBootBackoff();
    // Superseded, the newer reload starts at once (systemd is told RELOADING=1 for it), and takes
    // the keeper from the settings this one left it on.
    if (superseded !== undefined) {
      this.d.requestTick();
      return;
    }
    this.d.keeperRestart.rollBack(failed, r.previous.settings);
    // Still booting, READY=1 is the end of the boot's own and waits for the workers.
    if (!this.startPending() && !this.d.booting()) this.d.options.notifier.ready(this.d.statusLine());
    // This tick's lists of current and outgoing workers are stale now: manage again next tick.
    this.d.requestTick();
  }

  /**
   * Starts the reload queued during the one that just ended. READY=1 then waits for that one: a
   * `systemctl reload` whose SIGHUP was queued returns only once its own settings serve.
   */
  private startPending(): boolean {
    if (!this.d.gens.takePending()) return false;
    this.d.recordReload();
    return true;
  }
}
