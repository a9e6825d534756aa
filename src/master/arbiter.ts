// The arbiter: forks and supervises the children. Signal handlers and child events only record
// intent; one reconcile tick does all the work, in order: intents → reap → murder → manage.
// (gunicorn's arbiter loop, without its sleep-on-a-pipe: Node's event loop is the loop.)
// It holds the children, the phase and the tick; the rules it applies live beside it: crash
// counting (crash-ledger, keeper-crash-ledger, child-exits), stuck children (stuck-judgement,
// child-killer), reloads (reload-plan, generations, keeper-wait), which workers to fork and drain
// (rollout, drain), the stop (stop-sequence), child messages and status (child-messages,
// status-report).

import { displayValue, type LoadedSettings } from '../config/load.js';
import type { ChildIdentity } from '../config/identity.js';
import type { Settings } from '../config/schema.js';
import { monotonicNow } from '../clock.js';
import { ConfigError, EXIT, describeError, codeOf } from '../errors.js';
import { heartbeatIntervalMs } from '../heartbeat-interval.js';
import type { ChildMessage, MasterMessage } from '../ipc/messages.js';
import type { Logger } from '../log/logger.js';
import { RepeatedFailure } from '../log/repeated-failure.js';
import type { AdminView, RespawnWait } from './admin/view.js';
import { computeCapacity, perWorkerCap, workerConnectionsWithin, type Capacity } from './capacity.js';
import { accountExit, addServed, type ChildExit, type ServedTotals } from './child-exits.js';
import { ExitTally } from './exit-reasons.js';
import { ChildKiller } from './child-killer.js';
import { codeIdentity } from './code-identity.js';
import { applyChildMessage } from './child-messages.js';
import { RequestLatency } from './request-latency.js';
import { CrashLedger } from './crash-ledger.js';
import { drainChild } from './drain.js';
import { Generations } from './generations.js';
import { KeeperCrashLedger } from './keeper-crash-ledger.js';
import { KEEPER_CRASH_BOOT_WAIT_MS, KEEPER_CRASH_NOTICE_MAX_DELAY_MS, KEEPER_RESTART_DRAIN_MS, KEEPER_RESTART_WAIT_MS, keeperRestartStep, waitForFirstKeeper } from './keeper-wait.js';
import type { Notifier } from './notify.js';
import { newChildRecord, snapshotOf, type ChildRecord, type RetireReason } from './registry.js';
import { changedKeeperSettings, logEnvOverrides, planReload } from './reload-plan.js';
import { drainsDue, forksDue, isActiveCurrent, nextRecycle, scaleDownExcess } from './rollout.js';
import type { Spawner } from './spawner.js';
import type { FatalReason } from './fatal-stderr.js';
import { respawnWaitOf, StatusReporter, statusLineOf } from './status-report.js';
import { stopDeadline, stopStep } from './stop-sequence.js';
import { servingWorkers } from './stuck-judgement.js';
import { timeoutStartSec, timeoutStopSec } from '../systemd/timeouts.js';

export type Intent = 'reload' | 'stop' | 'quit' | 'ttin' | 'ttou' | 'reopen-logs';

export interface ArbiterOptions {
  readonly loaded: LoadedSettings;
  /** Re-reads .env and the environment for a reload; throws ConfigError on bad values. */
  readonly reloadSettings: () => LoadedSettings;
  readonly spawner: Spawner;
  readonly withKeeper: boolean;
  readonly logger: Logger;
  readonly reopenLogs: () => void;
  /** Applies a reload's CORRAL_LOG_LEVEL and CORRAL_LOG_FILE to the master's own logger; false = needs a restart. */
  readonly configureLogs?: (settings: Settings) => boolean;
  /** A reload applied these settings, or a failed one went back to them (run.ts records them for the CLI). */
  readonly settingsApplied?: (settings: Settings) => void;
  readonly notifier: Notifier;
  /** Called once with the exit code when the master is done, and why when it gives up (boot.exhausted). */
  readonly onExit: (code: number, fatal?: FatalReason) => void;
  /**
   * Defaults to monotonicNow: with Date.now, a system clock stepped back an hour left a stuck
   * worker alive, and every drain and stop deadline pending, for that hour.
   */
  readonly now?: () => number;
  /** The build on disk (code-identity.ts); tests give their own. */
  readonly codeIdentity?: () => string | undefined;
  /**
   * The most connections a worker can hold under the open-files limit its children inherit
   * (fd-limit.ts connectionsWithin); CORRAL_WORKER_CONNECTIONS is held under it. Undefined: none known.
   */
  readonly fdCeiling?: number;
}

const TICK_MS = 250;
/**
 * Ticks further apart than this mean the master itself did not run (SIGSTOP, a paused VM).
 * Heartbeats sent meanwhile still wait in the pipes, so that time is not counted as the
 * children's silence. (A step of the system clock is none: the arbiter's clock is monotonic.)
 */
const MASTER_STALL_MS = 5000;

export class Arbiter {
  private loaded: LoadedSettings;
  private readonly gens = new Generations();
  private expected: number;
  private phase: 'booting' | 'running' | 'stopping' = 'booting';
  private readonly children = new Map<number, ChildRecord>();
  private readonly intents: Intent[] = [];
  private readonly exits: ChildExit[] = [];
  private nextId = 1;
  private readonly crashes = new CrashLedger();
  private readonly keeperCrashes = new KeeperCrashLedger();
  private keeperGaveWay = false;
  /** A reload changed the keeper's settings: new workers wait for the new keeper. */
  private keeperRestarting = false;
  /** Workers were told the keeper restarts ('keeper-restarting') and wait to hear it is ready. */
  private keeperNoticeOpen = false;
  private readonly exitedServed: ServedTotals = { requests: 0, errors: 0, refused: 0, idleClosed: 0 };
  private readonly exitTally = new ExitTally();
  /** Every worker beat's request durations for the last minute (the history's and the stats' p99). */
  private readonly latency = new RequestLatency();
  private stopDeadline = 0;
  private keeperDrainSent = false;
  /** The CORRAL_BIND a reload last kept the running address instead of (see overlappingBind). */
  private refusedBind: string | undefined;
  private port: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private tickQueued = false;
  /** Set during a tick: the admin view, read from a tick's callee, must not start another. */
  private ticking = false;
  /** Ticks that threw: a bug that throws once throws at every tick, four times a second. */
  private readonly tickFailures: RepeatedFailure;
  /** CORRAL_ACCEPT as the listening socket was created: a reload does not change it. */
  private readonly acceptMode: Settings['CORRAL_ACCEPT'];
  /** The file the master's own lines go to, as the reload answer names it (a reload may move them, see configureLogs). */
  private masterLogFile: string;
  private finished = false;
  private lastTickAt: number | undefined;
  readonly startedAt: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly killer: ChildKiller;
  private readonly reporter: StatusReporter;

  /** The build on disk, read at start, at each reload and at each keeper start. */
  private readonly code: () => string | undefined;
  /** The build the master runs: a reload cannot change it. */
  private readonly codeAtStart: string | undefined;
  /** The build the running keeper started from. */
  private keeperCode: string | undefined;
  /** The build on disk a reload last said needs a restart (said once per build). */
  private codeChangeSaid: string | undefined;

  constructor(private readonly o: ArbiterOptions) {
    this.loaded = o.loaded;
    this.expected = o.loaded.settings.CORRAL_WORKERS;
    this.acceptMode = o.loaded.settings.CORRAL_ACCEPT;
    this.masterLogFile = displayValue('CORRAL_LOG_FILE', o.loaded.settings.CORRAL_LOG_FILE);
    this.now = o.now ?? monotonicNow;
    this.log = o.logger;
    this.startedAt = this.now();
    this.tickFailures = new RepeatedFailure(this.now);
    this.reporter = new StatusReporter(o.notifier);
    this.killer = new ChildKiller({ log: this.log, now: this.now, stuckStacks: () => this.settings.CORRAL_STUCK_STACKS });
    this.code = o.codeIdentity ?? (() => codeIdentity());
    this.codeAtStart = this.code();
  }

  get settings(): Settings {
    return this.loaded.settings;
  }

  /** Starts the loop. */
  start(): void {
    const s = this.settings;
    this.log.info(
      { event: 'master.start', workers: this.expected, bind: `${s.CORRAL_BIND.host}:${s.CORRAL_BIND.port}`, timeout_s: s.CORRAL_TIMEOUT, env_file: this.loaded.envFile ?? null },
      `corral master starting ${this.expected} workers`,
    );
    for (const warning of this.loaded.warnings) this.log.warn({ event: 'config.warning' }, warning);
    logEnvOverrides(this.log, this.loaded);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.requestTick();
  }

  /** Records an intent (from a signal or the admin API) and schedules a tick. Never does the work itself. */
  record(intent: Intent): void {
    if (intent === 'reload') this.gens.asked();
    this.intents.push(intent);
    this.requestTick();
  }

  private requestTick(): void {
    if (this.tickQueued) return;
    this.tickQueued = true;
    setImmediate(() => {
      this.tickQueued = false;
      this.tick();
    });
  }

  // ---------------------------------------------------------------- the tick

  tick(): void {
    if (this.finished || this.ticking) return;
    this.ticking = true;
    try {
      this.discountStall();
      this.handleIntents();
      this.reap();
      this.murder();
      this.manage();
      this.report();
      this.tickFailures.ended((failed) => this.log.info({ event: 'master.tick_recovered', failed }, `reconcile ticks complete again after ${failed} failed`));
    } catch (err) {
      this.tickFailures.failed((failed, total) =>
        this.log.error({ event: 'master.tick_failed', code: 'CORRAL_ERR_MASTER_STEP', err: describeError(err), failed, failed_total: total }, total === 1 ? 'reconcile tick failed' : `reconcile tick failed (${failed} ticks since the last such line)`),
      );
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Runs now the tick that intents recorded this turn wait for (AdminView.settle), so the admin API
   * answers with what the master steers towards once they are handled. Counting them over the
   * current state is not enough: a reload re-reads CORRAL_WORKERS (a TTIN before it is undone; the
   * settings may be refused), and a reload during another is queued. Twice at most: a tick that
   * ends a reload records the one queued behind it.
   */
  private settleIntents(): void {
    for (let i = 0; i < 2 && this.intents.length > 0; i++) this.tick();
  }

  private discountStall(): void {
    const now = this.now();
    const gap = now - (this.lastTickAt ?? now);
    this.lastTickAt = now;
    if (gap <= MASTER_STALL_MS) return;
    // Never past now: beats read since the master resumed are already counted as of now.
    for (const c of this.children.values()) c.lastBeatAt = Math.min(now, c.lastBeatAt + gap);
    this.log.warn({ event: 'master.stalled', ms: gap }, `the master did not run for ${Math.round(gap / 100) / 10} s; that time does not count as its children's silence`);
  }

  private handleIntents(): void {
    for (let intent = this.intents.shift(); intent; intent = this.intents.shift()) {
      if (this.phase === 'stopping' && intent !== 'quit' && intent !== 'reopen-logs') {
        // Said, not dropped without a word: an operator whose HUP (or TTIN, TTOU, second TERM)
        // came during a graceful stop otherwise found nothing in the log about it.
        this.log.info({ event: 'shutdown.ignored', intent }, `${intent} ignored: the master is stopping`);
        continue;
      }
      switch (intent) {
        case 'stop':
        case 'quit':
          this.beginStop(intent === 'quit');
          break;
        case 'reload':
          this.beginReload();
          break;
        case 'ttin':
          this.expected++;
          this.log.info({ event: 'workers.scale', expected: this.expected, delta: 1 }, `scaling to ${this.expected} workers`);
          break;
        case 'ttou':
          // At one worker a TTOU changes nothing; saying "scaling to 1 workers" with delta -1
          // read as if a worker had been taken away.
          if (this.expected <= 1) {
            this.log.warn({ event: 'workers.scale', expected: this.expected, delta: 0 }, `TTOU ignored: already at the minimum of ${this.expected} worker`);
            break;
          }
          this.expected--;
          this.log.info({ event: 'workers.scale', expected: this.expected, delta: -1 }, `scaling to ${this.expected} workers`);
          break;
        case 'reopen-logs':
          this.o.reopenLogs();
          for (const c of this.children.values()) c.handle.send({ type: 'reopen-logs' });
          this.log.info({ event: 'logs.reopen' }, 'log files reopened');
          break;
      }
    }
  }

  private beginStop(fast: boolean): void {
    const gracefulMs = fast ? 0 : this.settings.CORRAL_GRACEFUL_TIMEOUT * 1000;
    if (this.phase !== 'stopping') {
      this.log.info({ event: 'shutdown.start', fast, graceful_s: gracefulMs / 1000 }, fast ? 'fast shutdown' : 'graceful shutdown');
      this.o.notifier.stopping('stopping', timeoutStopSec(gracefulMs / 1000) * 1000);
    } else if (fast) {
      // A QUIT during a graceful stop cuts it short: said, or the log showed requests cut before
      // the graceful timeout with nothing to say why.
      this.log.info({ event: 'shutdown.hastened', fast }, 'fast shutdown: QUIT during the graceful stop cuts it short; requests in flight are cut now');
    }
    this.stopDeadline = stopDeadline(this.now(), gracefulMs, this.phase === 'stopping' ? this.stopDeadline : undefined);
    this.phase = 'stopping';
    for (const c of this.workers()) this.drain(c, fast ? 'quit' : 'shutdown', gracefulMs);
    if (fast) this.drainKeeper(0);
  }

  private beginReload(): void {
    if (this.gens.reload) {
      const generation = this.gens.current;
      if (this.gens.queue()) this.log.info({ event: 'reload.queued', generation }, `a reload to generation ${generation} is in progress; another will start when it ends`);
      return;
    }
    let next: LoadedSettings;
    try {
      // Settings the next start would refuse are refused now, not found out at the next reboot
      // (`corral reload` makes the same check before it signals): loadSettings judges them whole.
      next = this.o.reloadSettings();
    } catch (err) {
      const why = describeError(err);
      // The warnings first, as for an accepted reload: a did-you-mean may be what explains it.
      if (err instanceof ConfigError) for (const warning of err.warnings) this.log.warn({ event: 'config.warning' }, warning);
      this.gens.refused(why.code, why.message);
      this.log.error({ event: 'reload.failed', code: codeOf(why, 'CORRAL_ERR_CONFIG_INVALID'), err: why }, `reload refused, old workers keep serving: ${why.message}`);
      // systemctl reload announced RELOADING=1 (ExecReload, NotifyAccess=exec): only READY=1 ends it.
      // Still booting, READY=1 is the end of the boot's own and must wait for the workers.
      if (this.phase !== 'booting') this.o.notifier.ready(`reload refused (invalid settings); ${this.statusLine()}`);
      return;
    }
    for (const warning of next.warnings) this.log.warn({ event: 'config.warning' }, warning);
    logEnvOverrides(this.log, next);
    const listening = this.workers().find((c) => c.generation === this.gens.current && (c.state === 'ready' || c.state === 'draining') && c.port !== undefined);
    // The new workers run the code on disk: an upgraded corral's, after `npm ci`.
    const onDisk = this.code();
    const plan = planReload({
      started: this.o.loaded.settings,
      current: this.loaded,
      next,
      listeningPort: listening?.port,
      refusedBind: this.refusedBind,
      masterLogFile: this.masterLogFile,
      configureLogs: this.o.configureLogs,
      code: { running: this.codeAtStart, onDisk, said: this.codeChangeSaid },
      log: this.log,
    });
    next = plan.next;
    this.codeChangeSaid = plan.codeChangeSaid;
    this.refusedBind = plan.refusedBind;
    this.masterLogFile = plan.masterLogFile;
    const previous = this.loaded;
    this.gens.start(previous, this.expected, this.now(), plan.restartNeeded, next);
    this.loaded = next;
    this.o.settingsApplied?.(next.settings);
    this.expected = next.settings.CORRAL_WORKERS;
    this.restartKeeperIfChanged(previous.settings, next.settings, onDisk);
    this.crashes.clearBootBackoff();
    this.o.notifier.reloading(`reloading: starting generation ${this.gens.current}`, timeoutStartSec(next.settings.CORRAL_GRACEFUL_TIMEOUT) * 1000);
    this.log.info({ event: 'reload.start', generation: this.gens.current, workers: this.expected }, `reload: starting generation ${this.gens.current}`);
  }

  /**
   * Drains the keeper, to start a new one, when a setting it reads changed (see
   * changedKeeperSettings), or when the build on disk is not the one it started from: the new
   * workers run that build, and speak to the keeper over a protocol a build may change.
   */
  private restartKeeperIfChanged(before: Settings, after: Settings, onDisk?: string): void {
    const keeper = this.keeper();
    if (!keeper) return;
    const changed = changedKeeperSettings(before, after);
    const codeChanged = onDisk !== undefined && this.keeperCode !== undefined && onDisk !== this.keeperCode;
    if (changed.length === 0 && !codeChanged) return;
    this.keeperRestarting = true;
    this.keeperCrashes.restarting();
    const why = [...(changed.length > 0 ? [`keeper settings changed (${changed.join(', ')})`] : []), ...(codeChanged ? [`corral's code on disk is another build (${this.keeperCode} to ${onDisk})`] : [])].join(', and ');
    this.log.info({ event: 'keeper.restart', changed, code: codeChanged ? { running: this.keeperCode, on_disk: onDisk } : null }, `${why}: restarting the keeper first`);
    // The workers first: a write the draining keeper refuses is then retried until the new one is
    // ready, not answered 503 (keeper-restart-window.ts).
    this.tellWorkers({ type: 'keeper-restarting', waitMs: KEEPER_RESTART_WAIT_MS });
    this.keeperNoticeOpen = true;
    this.drain(keeper, codeChanged && changed.length === 0 ? 'reload: new build of corral' : 'reload: keeper settings changed', KEEPER_RESTART_DRAIN_MS);
  }

  private reap(): void {
    for (let e = this.exits.shift(); e; e = this.exits.shift()) {
      this.children.delete(e.record.id);
      this.killer.forget(e.record.id);
      addServed(this.exitedServed, e.record);
      this.exitTally.count(e.record);
      accountExit(e, this.now(), { crashes: this.crashes, keeperCrashes: this.keeperCrashes, log: this.log });
      if (e.record.role === 'keeper' && e.record.stopReason === undefined && e.record.readyAt !== undefined) this.noticeKeeperCrash();
    }
    this.crashes.settle(this.now());
  }

  /**
   * A serving keeper died (kill -9, the OOM killer, a bug): its replacement starts after the crash
   * backoff (125 to 250 ms the first time) and boots in about a second. The workers are told, as
   * for a planned restart, so that a write finding no keeper waits for the new one rather than
   * answering 503 after the link's single retry (an audit's kill -9 under load: 45 writes refused).
   * Not when the backoff of a crash loop is long: a client is better served by a 503 and its
   * Retry-After than by a wait that ends the same way.
   */
  private noticeKeeperCrash(): void {
    if (this.phase !== 'running' || this.keeperRestarting) return;
    const respawnInMs = Math.max(0, this.keeperCrashes.nextSpawnAt - this.now());
    if (respawnInMs > KEEPER_CRASH_NOTICE_MAX_DELAY_MS) return;
    this.tellWorkers({ type: 'keeper-restarting', waitMs: respawnInMs + KEEPER_CRASH_BOOT_WAIT_MS });
    this.keeperNoticeOpen = true;
  }

  /**
   * A worker reported an uncaught exception. It is a crash like an exit, and is counted now: the
   * worker is then drained on purpose, and an expected exit is never counted (without this, a
   * worker throwing soon after boot was replaced about three times a second, for good). The
   * replacement waits for the backoff; meanwhile the crashed worker keeps serving, so the
   * capacity does not drop.
   */
  private retireCrashed(c: ChildRecord): void {
    // Every further throw reports again: one crash per worker.
    if (c.crashCounted) return;
    // Already told to stop (a reload, a recycle, a shutdown): its replacement is on its way or not
    // wanted, and how long it lived says nothing of the code that will run next.
    if (c.stopReason !== undefined) return;
    c.crashCounted = true;
    const { uptime, delay, sharedWith } = this.crashes.crashed(c, this.now());
    this.markRetire(c, 'uncaught', { uptime_ms: uptime, crash_loop: this.crashes.quickCrashes, respawn_in_ms: delay }, sharedWith === undefined);
  }

  private murder(): void {
    this.killer.murder(this.children.values(), this.settings.CORRAL_TIMEOUT * 1000);
  }

  private manage(): void {
    const now = this.now();
    if (this.phase === 'stopping') {
      this.manageStop(now);
      return;
    }
    if (this.o.withKeeper && !this.keeper() && now >= this.keeperCrashes.nextSpawnAt) this.spawn('keeper');
    // Workers wait for the keeper at first boot so the first requests find it, but not forever.
    const keeper = this.keeper();
    if (this.o.withKeeper && this.phase === 'booting' && keeper?.state !== 'ready' && !this.keeperGaveWay) {
      if (waitForFirstKeeper({ failures: this.keeperCrashes.failures, bootAttempts: this.settings.CORRAL_BOOT_ATTEMPTS, sinceStartMs: now - this.startedAt })) return;
      this.keeperGaveWay = true;
      this.log.error({ event: 'keeper.unavailable', code: 'CORRAL_ERR_KEEPER_UNAVAILABLE' }, 'the keeper is not ready; starting workers without it (Sheets reads will fail until it is)');
    }

    if (this.keeperRestarting) {
      const failures = this.keeperCrashes.failures;
      const step = keeperRestartStep({ keeperReady: keeper?.state === 'ready', reloading: this.gens.reload !== undefined, failures, bootAttempts: this.settings.CORRAL_BOOT_ATTEMPTS });
      if (step === 'roll-back') {
        this.rollBackReload(`the keeper cannot boot with the new settings (${failures} attempts)`, this.keeperCrashes.lastKeeperError);
        return;
      }
      if (step === 'wait') return;
      this.keeperRestarting = false;
    }

    for (const oldest of scaleDownExcess(this.workers(), this.gens.current, this.expected)) this.markRetire(oldest, 'scale-down');
    const recycled = nextRecycle(this.workers());
    if (recycled) {
      this.markRetire(recycled, recycled.pendingRetire as RetireReason);
      recycled.pendingRetire = undefined;
    }

    const activeCurrent = this.workers().filter((c) => isActiveCurrent(c, this.gens.current));
    if (this.crashes.bootFailures >= this.settings.CORRAL_BOOT_ATTEMPTS) {
      if (this.giveUpOnBoot()) return;
    }
    const missing = this.expected - activeCurrent.length;
    if (missing > 0 && now >= this.crashes.nextSpawnAt) {
      const anyBooting = activeCurrent.some((c) => c.state === 'booting');
      const { n, failing } = forksDue({ missing, bootFailures: this.crashes.bootFailures, quickCrashes: this.crashes.quickCrashes, anyBooting });
      if (n > 0) this.crashes.newForkBatch();
      for (let i = 0; i < n; i++) this.spawn('worker');
      if (n > 0 && failing) {
        this.log.info({ event: 'worker.respawn', failures: this.crashes.bootFailures, crash_loop: this.crashes.quickCrashes }, 'respawning after backoff');
      }
    }

    for (const { c, superseded } of drainsDue(this.workers(), this.gens.current, this.expected)) {
      if (superseded) this.drain(c, 'superseded', 0);
      else this.drain(c, c.retire ?? `reload to generation ${this.gens.current}`, this.settings.CORRAL_GRACEFUL_TIMEOUT * 1000);
    }
    const readyCurrent = activeCurrent.filter((c) => c.state === 'ready').length;

    if (this.phase === 'booting' && readyCurrent >= this.expected) {
      this.phase = 'running';
      const admin = this.adminPort;
      this.log.info(
        { event: 'master.ready', workers: readyCurrent, port: this.port ?? null, admin_port: admin ?? null, generation: this.gens.current },
        `corral ready: ${readyCurrent} workers on port ${this.port}`,
      );
      this.o.notifier.ready(this.statusLine());
    }
    if (this.gens.reload && readyCurrent >= this.expected && !this.workers().some((c) => c.generation !== this.gens.current)) {
      this.log.info({ event: 'reload.done', generation: this.gens.current, workers: readyCurrent, port: this.port ?? null, ms: now - this.gens.reload.startedAt }, `reload done: generation ${this.gens.current} serving on port ${this.port}`);
      this.gens.end();
      if (!this.startPendingReload()) this.o.notifier.ready(this.statusLine());
    }
  }

  /**
   * Starts the reload queued during the one that just ended. READY=1 then waits for that one: a
   * `systemctl reload` whose SIGHUP was queued returns only once its own settings serve.
   */
  private startPendingReload(): boolean {
    if (!this.gens.takePending()) return false;
    this.record('reload');
    return true;
  }

  /** Returns true when this tick must manage no further: the master is exiting, or a reload was rolled back. */
  private giveUpOnBoot(): boolean {
    const err = this.crashes.lastBootError;
    if (this.gens.reload && this.workers().some((c) => c.generation === this.gens.reload?.previousGeneration && c.state === 'ready')) {
      this.rollBackReload(`the new generation cannot boot (${err?.message})`, err);
      return true;
    }
    const ready = this.workers().filter((c) => c.state === 'ready').length;
    if (this.gens.reload && ready > 0) {
      // Nothing to roll back to (the old generation drained or died meanwhile), and the new one
      // cannot reach its count: end the reload rather than stay in it for good (systemd would
      // wait in "reloading", and every later SIGHUP, the fix included, would queue behind it).
      // The workers that run keep serving; the missing ones are retried with backoff.
      this.log.error(
        { event: 'reload.failed', code: codeOf(err, 'CORRAL_ERR_WORKER_DIED'), generation: this.gens.current, workers: ready, expected: this.expected, boot_error: err ?? null },
        `reload to generation ${this.gens.current} cannot complete: its workers fail to boot (${err?.message}) and no worker of generation ${this.gens.reload.previousGeneration} is left to go back to; ${ready} of ${this.expected} serve, the others are retried`,
      );
      this.gens.end();
      if (!this.startPendingReload()) this.o.notifier.ready(`reload incomplete; ${this.statusLine()}`);
      return false;
    }
    if (ready > 0) return false;
    const fatal = { code: 'CORRAL_ERR_BOOT_EXHAUSTED', message: `no worker could boot after ${this.crashes.bootFailures} attempts: ${err?.message}` } as const;
    this.log.fatal({ event: 'boot.exhausted', code: fatal.code, attempts: this.crashes.bootFailures, boot_error: err ?? null }, fatal.message);
    this.finish(EXIT.BOOT_EXHAUSTED, fatal);
    return true;
  }

  /** Goes back to the settings and generation the reload started from; the old generation keeps serving. */
  private rollBackReload(why: string, bootError: ChildRecord['bootError']): void {
    const r = this.gens.reload;
    if (!r) return;
    const failed = this.loaded.settings;
    this.log.error({ event: 'reload.failed', code: codeOf(bootError, 'CORRAL_ERR_WORKER_DIED'), generation: this.gens.current, boot_error: bootError ?? null }, `reload failed: ${why}; generation ${r.previousGeneration} keeps serving`);
    // The new generation's workers are now outgoing: manage() stops those still booting and
    // drains the ready ones gracefully, each only once a worker of the old generation is ready to
    // take its place (cutting them at once dropped their requests and the capacity).
    this.loaded = r.previous;
    this.o.settingsApplied?.(r.previous.settings);
    // Back to the previous file, when the reload had moved the master's lines (the logger says
    // whether it could): a later reload's restart_needed names the file it writes to.
    if (this.o.configureLogs?.(r.previous.settings) ?? true) this.masterLogFile = displayValue('CORRAL_LOG_FILE', r.previous.settings.CORRAL_LOG_FILE);
    this.gens.rollBack();
    // The count that served before the reload, TTIN/TTOU included: the new settings' count had
    // already drained the excess of a larger one, which is now forked again.
    this.expected = r.previousWorkers;
    // The backoff was the failing generation's: the old one's replacements start at once.
    this.crashes.clearBootBackoff();
    // The keeper goes back to the old settings too, whether it is still trying the new ones or
    // already runs them (the workers were what failed).
    this.keeperRestarting = false;
    this.keeperCrashes.spawnNow();
    const keeper = this.keeper();
    if (keeper?.state === 'booting') this.drain(keeper, 'reload failed', 0);
    else this.restartKeeperIfChanged(failed, r.previous.settings);
    // Still booting, READY=1 is the end of the boot's own and waits for the workers.
    if (!this.startPendingReload() && this.phase !== 'booting') this.o.notifier.ready(this.statusLine());
    // This tick's lists of current and outgoing workers are stale now: manage again next tick.
    this.requestTick();
  }

  private markRetire(c: ChildRecord, reason: RetireReason, extra: Record<string, number> = {}, crashCounted?: boolean): void {
    if (c.retire) return;
    c.retire = reason;
    this.log.info({ event: 'worker.recycle', worker_id: c.id, worker_pid: c.handle.pid, reason, ...extra, ...(crashCounted === undefined ? {} : { crash_counted: crashCounted }) }, `recycling worker ${c.id} (${reason})`);
  }

  private manageStop(now: number): void {
    const step = stopStep({ now, deadline: this.stopDeadline, workersLeft: this.workers().length, keeperLeft: this.keeper() !== undefined, keeperDrainSent: this.keeperDrainSent });
    if (step.drainKeeperMs !== undefined) this.drainKeeper(step.drainKeeperMs);
    if (step.done) {
      this.log.info({ event: 'shutdown.done' }, 'all children stopped');
      this.finish(EXIT.OK);
      return;
    }
    if (step.killAll) this.killer.killAtGracefulTimeout(this.children.values());
  }

  private drainKeeper(gracefulMs: number): void {
    const keeper = this.keeper();
    if (!keeper) return;
    this.keeperDrainSent = true;
    this.drain(keeper, 'shutdown', gracefulMs);
  }

  private drain(c: ChildRecord, reason: string, gracefulMs: number): void {
    drainChild(c, { reason, gracefulMs, hostStopping: this.phase === 'stopping' }, this.now(), this.killer);
  }

  /** The lowest slot (1..) no live worker holds. */
  private freeSlot(): number {
    const taken = new Set(this.workers().map((c) => c.slot));
    let slot = 1;
    while (taken.has(slot)) slot++;
    return slot;
  }

  private spawn(role: 'worker' | 'keeper'): void {
    const id = role === 'keeper' ? 0 : this.nextId++;
    const slot = role === 'keeper' ? 0 : this.freeSlot();
    // A worker forked once its generation has a ready worker joins it: it is told when, and the
    // app then only reads what that generation's first boot made (app/secret.ts).
    const readyAt = role === 'worker' ? this.gens.readyAt : undefined;
    const identity: ChildIdentity = {
      role,
      workerId: id,
      generation: this.gens.current,
      ...(role === 'worker' ? { workers: this.expected } : {}),
      ...(readyAt === undefined ? {} : { generationReadyAt: readyAt }),
    };
    const now = this.now();
    let record: ChildRecord | undefined;
    const spawned = this.o.spawner.spawn(identity, this.loaded.childEnv, {
      onMessage: (msg) => {
        // A message read after its child was reaped is not acted on: a late 'ready' would reset
        // the boot-failure count, a late 'retire' count a crash twice.
        if (record && this.children.get(record.id) === record) this.onMessage(record, msg);
      },
      onExit: (code, signal) => {
        if (!record) return;
        this.exits.push({ record, code, signal });
        this.requestTick();
      },
    });
    record = newChildRecord({
      id,
      slot,
      role,
      generation: this.gens.current,
      handle: spawned.handle,
      startedAt: now,
      forkBatch: this.crashes.forkBatch,
      beatIntervalMs: heartbeatIntervalMs(this.settings.CORRAL_TIMEOUT),
    });
    this.children.set(id, record);
    this.killer.track(id, spawned.stackProbe);
    if (role === 'keeper') this.keeperCode = this.code();
    this.log.info({ event: `${role}.boot`, worker_id: id, worker_pid: spawned.handle.pid, generation: this.gens.current }, `booting ${role} ${id} (pid ${spawned.handle.pid})`);
  }

  private onMessage(c: ChildRecord, msg: ChildMessage): void {
    const now = this.now();
    const limitMb = this.settings.CORRAL_MAX_WORKER_MEMORY_MB;
    if (msg.type === 'heartbeat' && c.role === 'worker') this.latency.add(c.handle.pid, msg.figures.latencyBuckets, now);
    const effect = applyChildMessage(c, msg, now, limitMb);
    switch (effect.kind) {
      case 'none':
        return;
      case 'over-memory':
        this.log.warn({ event: 'worker.memory_limit', worker_id: c.id, worker_pid: c.handle.pid, rss_mb: Math.round(effect.rssMb), limit_mb: limitMb }, `worker ${c.id} RSS ${Math.round(effect.rssMb)} MiB over the limit`);
        return;
      case 'ready':
        if (effect.port !== undefined) this.port = effect.port;
        if (c.role === 'keeper') {
          this.keeperCrashes.ready();
          if (this.keeperNoticeOpen) {
            this.keeperNoticeOpen = false;
            this.tellWorkers({ type: 'keeper-ready' });
          }
        } else {
          this.crashes.workerReady();
          // The wall clock, not this.now(): the worker compares it with a file's mtime.
          if (c.generation === this.gens.current) this.gens.workerReady(Date.now());
        }
        this.log.info({ event: `${c.role}.ready`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, port: effect.port ?? null, boot_ms: now - c.startedAt }, `${c.role} ${c.id} ready`);
        break;
      case 'crashed':
        this.retireCrashed(c);
        break;
      case 'tick':
        break;
    }
    this.requestTick();
  }

  // ---------------------------------------------------------------- reporting

  private report(): void {
    // A worker's share of CORRAL_MAX_CONNECTIONS follows the worker count, which TTIN/TTOU change.
    // The host's cap follows it too, and is the cap itself of a worker accepting on its own.
    const workerCap = perWorkerCap(this.expected, this.workerConnections(), this.settings.CORRAL_MAX_CONNECTIONS, this.acceptMode);
    this.reporter.report({
      now: this.now(),
      workers: this.workers(),
      capacity: this.capacity(),
      workerCap,
      waiting: this.respawnWait() !== undefined,
      statusLine: () => this.statusLine(),
      timeoutMs: this.settings.CORRAL_TIMEOUT * 1000,
    });
  }

  statusLine(): string {
    // Counted as health counts them: a ready worker whose loop is blocked serves nobody.
    const ready = servingWorkers(this.workers(), this.now());
    return statusLineOf({ ready, expected: this.expected, generation: this.gens.current, capacity: this.capacity(), wait: this.respawnWait() });
  }

  /** See respawnWaitOf. */
  private respawnWait(): RespawnWait | undefined {
    return respawnWaitOf({
      now: this.now(),
      stopping: this.phase === 'stopping' || this.finished,
      nextSpawnAt: this.crashes.nextSpawnAt,
      active: this.workers().filter((c) => isActiveCurrent(c, this.gens.current)).length,
      expected: this.expected,
      quickCrashes: this.crashes.quickCrashes,
      bootFailures: this.crashes.bootFailures,
    });
  }

  capacity(): Capacity {
    return computeCapacity({
      activeConnections: this.workers().map((c) => c.figures?.activeConnections ?? 0),
      idleConnections: this.workers().map((c) => c.figures?.idleConnections ?? 0),
      peakBusyConnections: this.workers().map((c) => c.figures?.peakBusyConnections ?? 0),
      refusedInInterval: this.workers().map((c) => c.figures?.connectionsRefusedInInterval ?? 0),
      idleClosedInInterval: this.workers().map((c) => c.figures?.idleClosedInInterval ?? 0),
      workers: this.expected,
      workerConnections: this.workerConnections(),
      maxConnections: this.settings.CORRAL_MAX_CONNECTIONS,
      serving: this.phase !== 'stopping' && !this.finished && servingWorkers(this.workers(), this.now()) > 0,
    });
  }

  /** CORRAL_WORKER_CONNECTIONS as the open-files limit lets a worker hold them (fd_limit.low said so at start). */
  private workerConnections(): number {
    return workerConnectionsWithin(this.settings.CORRAL_WORKER_CONNECTIONS, this.o.fdCeiling);
  }

  adminPort: number | undefined;

  private workers(): ChildRecord[] {
    return [...this.children.values()].filter((c) => c.role === 'worker');
  }

  private tellWorkers(msg: MasterMessage): void {
    for (const c of this.workers()) if (c.state !== 'killing') c.handle.send(msg);
  }

  private keeper(): ChildRecord | undefined {
    return this.children.get(0);
  }

  private finish(code: number, fatal?: FatalReason): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearInterval(this.timer);
    for (const c of this.children.values()) c.handle.kill('SIGKILL');
    this.o.onExit(code, fatal);
  }

  /** The admin API's window on the arbiter. */
  view(): AdminView {
    return {
      startedAt: this.startedAt,
      now: () => this.now(),
      // Intents not yet handled (they wait for the next tick) are handled first, as the tick will:
      // three TTOUs sent at once from 3 workers leave 1, and the third is refused, not answered
      // 202 'workers_expected 1' and then dropped; a TTIN followed by a reload answers the reload's
      // CORRAL_WORKERS, not one more.
      settle: () => this.settleIntents(),
      settings: () => this.settings,
      children: () => [...this.children.values()].map(snapshotOf),
      servedByExited: () => ({ ...this.exitedServed }),
      childExits: () => this.exitTally.snapshot(),
      latency: () => this.latency,
      keeperExpected: () => this.o.withKeeper,
      expectedWorkers: () => this.expected,
      workerConnections: () => this.workerConnections(),
      respawnWait: () => this.respawnWait(),
      keeperRespawnWait: () => {
        const inMs = this.keeperCrashes.nextSpawnAt - this.now();
        if (!this.o.withKeeper || this.keeper() || inMs <= 0) return undefined;
        return { inMs: Math.round(inMs), crashLoop: this.keeperCrashes.quickCrashes, failures: this.keeperCrashes.failures };
      },
      generation: () => this.gens.current,
      reloadOutcome: () => this.gens.outcome,
      // A stop recorded but not yet handled by the tick counts: the tick drops what comes after it.
      stopping: () => this.phase === 'stopping' || this.intents.some((i) => i === 'stop' || i === 'quit'),
      requestReload: () => this.record('reload'),
      requestWorkerDelta: (delta) => this.record(delta > 0 ? 'ttin' : 'ttou'),
    };
  }
}
