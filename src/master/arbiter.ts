// The arbiter: forks and supervises the children. Signal handlers and child events only record
// intent; one reconcile tick does all the work, in order: intents → reap → murder → manage.
// (gunicorn's arbiter loop, without its sleep-on-a-pipe: Node's event loop is the loop.)
// It holds the children, the phase, the tick and the intents; what it is handed is in
// arbiter-options, and the rules it applies live beside it: crash counting (crash-ledger,
// keeper-crash-ledger, child-exits), stuck children (stuck-judgement, child-killer), a reload from
// start to end or rollback (reload-lifecycle, with reload-plan and generations), the keeper's
// restarts the workers wait through (keeper-restart, keeper-wait), which workers to fork and drain
// (rollout, drain), the stop (shutdown, stop-sequence), a child's messages (child-messages, then
// child-message-handler), and what its state reads as: the capacity, the respawn waits, the status
// line, the tick's report and the admin API's view (arbiter-readings, capacity, status-report).

import type { ChildIdentity } from '../config/identity.js';
import { MAX_WORKERS } from '../config/schema-daemon.js';
import type { Settings } from '../config/schema.js';
import { monotonicNow } from '../clock.js';
import { EXIT, describeError } from '../errors.js';
import { heartbeatIntervalMs, lateAfterMs } from '../heartbeat-interval.js';
import type { MasterMessage } from '../ipc/messages.js';
import type { Logger } from '../log/logger.js';
import { RepeatedFailure } from '../log/repeated-failure.js';
import { secondsText } from '../seconds-text.js';
import type { AdminView } from './admin/view.js';
import type { ArbiterOptions, Intent, SettingsApplied } from './arbiter-options.js';
import { ArbiterReadings } from './arbiter-readings.js';
import type { Capacity } from './capacity.js';
import { accountExit, addServed, countStuckCrash, noneServed, servingWorkerLost, workerKilledStuck, type ChildExit, type ServedTotals } from './child-exits.js';
import { DeathCauses } from './death-causes.js';
import { diedDraining, ExitTally } from './exit-reasons.js';
import { tasksNeeded } from '../task-limit.js';
import { LoopBlocks } from './loop-blocks.js';
import { ChildKiller } from './child-killer.js';
import { codeIdentity, installMoveWatch } from './code-identity.js';
import { ChildMessageHandler } from './child-message-handler.js';
import { counted } from '../counted.js';
import { RequestLatency } from './request-latency.js';
import { CrashLedger } from './crash-ledger.js';
import { drainChild } from './drain.js';
import { Generations } from './generations.js';
import { KeeperCrashLedger } from './keeper-crash-ledger.js';
import { keeperFiles, type KeeperFiles } from './keeper-files.js';
import { KeeperRestart } from './keeper-restart.js';
import { keeperRestartStep, waitForFirstKeeper } from './keeper-wait.js';
import { keeperOf, newChildRecord, workersOf, type ChildRecord, type RetireReason } from './registry.js';
import { attemptBoundMs, drainBoundMs, probationBoundMs, ReloadBound, startBoundMs, STEP_MARGIN_MS } from './reload-bound.js';
import { ReloadLifecycle, type Target } from './reload-lifecycle.js';
import { logEnvOverrides } from './reload-plan.js';
import { drainsDue, forksDue, isActiveCurrent, nextRecycle, scaleDownExcess, stillBooting } from './rollout.js';
import { probationFailure, settlesNow } from './settle.js';
import type { FatalReason } from './fatal-stderr.js';
import { Shutdown } from './shutdown.js';
import { ForkPace } from './fork-pace.js';

export type { ArbiterOptions, Intent } from './arbiter-options.js';

const TICK_MS = 250;
/** A tick this long after the last (four times its period): the master itself did not run meanwhile. */
const MASTER_PAUSE_MS = 1000;

/**
 * The gap between two ticks read as the master's own pause under CORRAL_TIMEOUT=`timeoutS`:
 * MASTER_PAUSE_MS, or less where a child's silence past the timeout comes sooner. A child beats
 * every heartbeatIntervalMs and a gap's beats wait unread, so its silence at the tick after a gap
 * is up to the gap plus a beat: at CORRAL_TIMEOUT=1 (beats every 250 ms), a 0.8 s pause of the
 * master, under MASTER_PAUSE_MS, killed every healthy worker as stuck. A tick's period short of
 * the silence that kills, at least two ticks' (a gap of one tick's period is no pause).
 */
export function masterPauseMs(timeoutS: number): number {
  const timeoutMs = timeoutS * 1000;
  return Math.max(2 * TICK_MS, Math.min(MASTER_PAUSE_MS, timeoutMs - heartbeatIntervalMs(timeoutS) - TICK_MS));
}
/**
 * A gap past which a child beating on time reads as silent past CORRAL_TIMEOUT=`timeoutS` (its
 * silence at such a tick is up to the gap plus a beat): discounted even on the tick right after a
 * discounted one. Two stalls of the master back to back (a host swapping, a VM paused twice, the
 * beats read once between them) killed every healthy child as stuck at the second; a master merely
 * slow on every tick (gaps past masterPauseMs but short of this) still has every other gap counted.
 */
export function masterStallKillsMs(timeoutS: number): number {
  return timeoutS * 1000 - heartbeatIntervalMs(timeoutS) - TICK_MS;
}
/** A pause of the master this long is said (`master.stalled`); a shorter one only discounted. */
const MASTER_STALL_MS = 5000;


export class Arbiter {
  /** The settings in force and the worker count steered to (a reload replaces both). */
  private readonly target: Target;
  private readonly gens = new Generations();
  private phase: 'booting' | 'running' | 'stopping' = 'booting';
  private readonly children = new Map<number, ChildRecord>();
  private readonly intents: Intent[] = [];
  private readonly exits: ChildExit[] = [];
  private nextId = 1;
  private readonly crashes = new CrashLedger();
  private readonly forkPace: ForkPace;
  private readonly keeperCrashes = new KeeperCrashLedger();
  private keeperGaveWay = false;
  private readonly exitedServed: ServedTotals = noneServed();
  private readonly exitTally = new ExitTally();
  /** The cgroup's OOM-kill and pids counters, read at start and at every child's exit. */
  private readonly deathCauses: DeathCauses;
  /** Every worker beat's request durations for the last minute (the history's and the stats' p99). */
  private readonly latency = new RequestLatency();
  private port: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private tickQueued = false;
  /** Set during a tick: the admin view, read from a tick's callee, must not start another. */
  private ticking = false;
  /** Ticks that threw: a bug that throws once throws at every tick, four times a second. */
  private readonly tickFailures: RepeatedFailure;
  private readonly loopBlocks: LoopBlocks;
  private finished = false;
  /** Why the master gave up (boot.exhausted): the stop that follows exits with it, not 0. */
  private gaveUp: FatalReason | undefined;
  /** The exit code of that stop: 3, or 78 for a boot no restart gets past (boot-lasting.ts). */
  private gaveUpExit: number = EXIT.BOOT_EXHAUSTED;
  private lastTickAt: number | undefined;
  /** The last tick discounted a pause of the master's from the children's silence (discountPause). */
  private pauseDiscounted = false;
  /**
   * The failed boots already counted when the master, having served, last had no ready worker
   * (undefined while one is ready): giveUpOnBoot counts only the attempts since (noneReadySince).
   */
  private failuresBeforeNoneReady: number | undefined;
  readonly startedAt: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly killer: ChildKiller;
  private readonly keeperRestart: KeeperRestart;
  private readonly reloads: ReloadLifecycle;
  private readonly reloadBound: ReloadBound;
  private readonly readings: ArbiterReadings;
  private readonly messages: ChildMessageHandler;
  private readonly shutdown: Shutdown;
  /** The build on disk, read at start, at each reload and at each keeper start. */
  private readonly code: () => string | undefined;
  /** The files the keeper reads at its start, as they are now (keeper-files.ts). */
  private readonly keeperFiles: (settings: Settings) => KeeperFiles;

  constructor(private readonly o: ArbiterOptions) {
    this.target = { loaded: o.loaded, expected: o.loaded.settings.CORRAL_WORKERS };
    this.now = o.now ?? monotonicNow;
    this.forkPace = new ForkPace(o.forkClock ?? (() => performance.now()));
    this.deathCauses = o.deathCauses ?? new DeathCauses(this.now);
    this.log = o.logger;
    this.startedAt = this.now();
    this.tickFailures = new RepeatedFailure(this.now);
    this.loopBlocks = new LoopBlocks(this.log, this.now, () => this.settings.CORRAL_TIMEOUT);
    this.killer = new ChildKiller({
      log: this.log,
      now: this.now,
      stuckStacks: () => this.settings.CORRAL_STUCK_STACKS,
      taskRefusals: () => this.deathCauses.taskRefusals(),
      reloadingTo: () => (this.gens.reload ? this.gens.current : undefined),
    });
    this.code = o.codeIdentity ?? (() => codeIdentity());
    this.keeperFiles = o.keeperFiles ?? keeperFiles;
    // The collaborators read and change the state above through what each is handed here.
    const { children, target, gens, crashes, keeperCrashes, latency, log, now, code } = this;
    const workers = () => this.workers();
    const keeper = () => this.keeper();
    const drain = (c: ChildRecord, reason: string, gracefulMs: number) => this.drain(c, reason, gracefulMs);
    const requestTick = () => this.requestTick();
    const keeperRestart = new KeeperRestart({ log, now, keeperCrashes, keeper, drain, tellWorkers: (msg) => this.tellWorkers(msg), checkLoads: o.keeperLoadCheck, requestTick });
    this.keeperRestart = keeperRestart;
    this.readings = new ArbiterReadings({ options: o, now, startedAt: this.startedAt, children, target, gens, crashes, keeperCrashes, latency, exitedServed: this.exitedServed, exitTally: this.exitTally, stopping: () => this.phase === 'stopping', starting: () => this.phase === 'booting', finished: () => this.finished, reloadBoundMs: () => (gens.reload ? this.reloadBound.remainingMs() : undefined) });
    const installMove = o.installMove ?? installMoveWatch();
    const bound = new ReloadBound(o.notifier, now);
    this.reloadBound = bound;
    // The settings a reload applies (or a rollback restores): the keeper, kept across it unless a
    // setting of its own changed, is told the graceful timeout the master now stops by.
    const settingsApplied = (next: Settings, how: SettingsApplied): void => {
      o.settingsApplied?.(next, how);
      this.keeper()?.handle.send({ type: 'graceful-timeout', ms: next.CORRAL_GRACEFUL_TIMEOUT * 1000 });
    };
    this.reloads = new ReloadLifecycle({ options: { ...o, settingsApplied }, target, gens, crashes, keeperRestart, bound, log, now, code, keeperFiles: this.keeperFiles, installMove, workers, adminListening: () => (this.adminPort === undefined ? undefined : { host: this.adminAddress ?? o.loaded.settings.CORRAL_ADMIN_BIND.host, port: this.adminPort }), requestTick, booting: () => this.phase === 'booting', statusLine: () => this.statusLine(), recordReload: () => this.record('reload') });
    const markRetire = (c: ChildRecord, reason: RetireReason, extra: Record<string, number>, crashCounted: boolean) => this.markRetire(c, reason, extra, crashCounted);
    const listening = (port: number) => {
      this.port = port;
    };
    this.messages = new ChildMessageHandler({ log, now, gens, crashes, keeperCrashes, keeperRestart, latency, requestTick, settings: () => this.settings, listening, workers, markRetire });
    this.shutdown = new Shutdown({ log, notifier: o.notifier, now, settings: () => this.settings, children, workers, keeper, killer: this.killer, drain, finish: (code) => this.finish(this.gaveUp ? this.gaveUpExit : code, this.gaveUp), reloading: () => (gens.reload ? { generation: gens.current, queued: gens.queued } : undefined) });
  }

  get settings(): Settings {
    return this.target.loaded.settings;
  }

  /** Starts the loop; nothing once the master has finished (a stop came first). */
  start(): void {
    if (this.finished) return;
    const s = this.settings;
    this.log.info(
      { event: 'master.start', workers: this.target.expected, bind: `${s.CORRAL_BIND.host}:${s.CORRAL_BIND.port}`, timeout_s: s.CORRAL_TIMEOUT, env_file: this.target.loaded.envFile ?? null },
      `corral master starting ${counted(this.target.expected, 'worker')}`,
    );
    for (const warning of this.target.loaded.warnings) this.log.warn({ event: 'config.warning' }, warning);
    logEnvOverrides(this.log, this.target.loaded);
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
      this.observeBeats(this.discountPause());
      this.handleIntents();
      this.reap();
      this.murder();
      this.manage();
      this.readings.report();
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

  /**
   * Discounts a pause of the master's own (SIGSTOP, a paused VM, a host too busy to run it) from
   * its children's silence; returns how long since the last tick. Heartbeats sent meanwhile wait
   * unread in the pipes (this tick's timer runs before the loop reads them), so that time is not
   * their silence: with CORRAL_TIMEOUT=2 a pause of 3 s killed every worker and the keeper as
   * stuck. What the master did not see is the gap past a tick's period. Never on two ticks in a
   * row: a master slow on every tick (its loop busy, beats read between ticks) discounting every
   * gap would count a stuck child's silence at a quarter of its pace and kill it that much later;
   * unless the gap alone would have a healthy child killed (masterStallKillsMs).
   * (A step of the system clock is no pause: the arbiter's clock is monotonic.)
   */
  private discountPause(): number {
    const now = this.now();
    const gap = now - (this.lastTickAt ?? now);
    this.lastTickAt = now;
    const timeoutS = this.settings.CORRAL_TIMEOUT;
    const discounted = gap > masterPauseMs(timeoutS) && (!this.pauseDiscounted || gap > masterStallKillsMs(timeoutS));
    this.pauseDiscounted = discounted;
    if (!discounted) return gap;
    // Never past now: beats read since the master resumed are already counted as of now.
    for (const c of this.children.values()) {
      c.lastBeatAt = Math.min(now, c.lastBeatAt + gap - TICK_MS);
      // Nor as a booting child's time to get ready: its 'ready' may wait unread in the pipe too.
      // Counted, a stall past the boot timeout (a paused VM) killed every worker that booted
      // meanwhile as "not ready after 61 s (createApp never resolved?)", a failed boot, in the
      // tick that said the master's stall did not count.
      if (c.state === 'booting') c.bootProgressAt = Math.min(now, Math.max(c.startedAt, c.bootProgressAt ?? c.startedAt) + gap - TICK_MS);
    }
    if (gap > MASTER_STALL_MS) this.log.warn({ event: 'master.stalled', ms: gap }, `the master did not run for ${secondsText(gap)}; that time does not count as its children's silence`);
    return gap;
  }

  /**
   * Children's heartbeat silences (loop-blocks.ts), but not on a tick after the master itself did
   * not run for a while: the beats sent meanwhile wait unread in the pipes (the tick's timer runs
   * before the loop reads them), and every child read as blocked (a SIGSTOP of 3.5 s said all of
   * them). What was marked before is forgotten then too; the next tick reads afresh.
   */
  private observeBeats(sinceLastTickMs: number): void {
    if (sinceLastTickMs > masterPauseMs(this.settings.CORRAL_TIMEOUT)) this.loopBlocks.forget();
    else this.loopBlocks.observe(this.children.values());
  }

  private handleIntents(): void {
    for (let intent = this.intents.shift(); intent; intent = this.intents.shift()) {
      if (this.phase === 'stopping' && (intent !== 'quit' || this.shutdown.isFast) && intent !== 'reopen-logs' && intent !== 'log-file-changed') {
        // Said, not dropped without a word: an operator whose HUP (or TTIN, TTOU, second TERM)
        // came during a graceful stop otherwise found nothing in the log about it.
        this.log.info({ event: 'shutdown.ignored', intent }, this.ignoredWhileStopping(intent));
        continue;
      }
      switch (intent) {
        case 'stop':
        case 'quit':
          this.beginStop(intent === 'quit');
          break;
        case 'reload':
          this.reloads.begin();
          break;
        case 'ttin':
          // The settings' bound holds for a scale-up too: a script sending TTIN in a loop forked
          // past it, beyond what the open-files sizing at start allowed for.
          if (this.target.expected >= MAX_WORKERS) {
            this.log.warn({ event: 'workers.scale', expected: this.target.expected, delta: 0 }, `TTIN ignored: already at the most of ${MAX_WORKERS} workers (the bound of CORRAL_WORKERS)`);
            break;
          }
          this.target.expected++;
          this.reloads.scaled(1);
          this.log.info({ event: 'workers.scale', expected: this.target.expected, delta: 1 }, `scaling to ${counted(this.target.expected, 'worker')}`);
          break;
        case 'ttou':
          // At one worker a TTOU changes nothing; saying "scaling to 1 workers" with delta -1
          // read as if a worker had been taken away.
          if (this.target.expected <= 1) {
            this.log.warn({ event: 'workers.scale', expected: this.target.expected, delta: 0 }, `TTOU ignored: already at the minimum of ${this.target.expected} worker`);
            break;
          }
          this.target.expected--;
          this.reloads.scaled(-1);
          this.log.info({ event: 'workers.scale', expected: this.target.expected, delta: -1 }, `scaling to ${counted(this.target.expected, 'worker')}`);
          break;
        case 'usr2':
          this.log.warn(
            { event: 'signal.ignored', signal: 'SIGUSR2' },
            'SIGUSR2 ignored: corral has no binary upgrade (gunicorn\'s USR2); to run a new build of the app, reload (HUP, `corral reload`); after upgrading corral itself, restart it (`systemctl restart corral`)',
          );
          break;
        case 'reopen-logs':
        case 'log-file-changed': {
          // Asked, not done: each process reopens on its own, and says log.reopen_failed if it cannot.
          // Said with what asked for it: a reopen the file watch made is no USR1 (logrotate's); and
          // after the watch's own line (log.file_replaced, said once the master's reopen is done),
          // which it refers to.
          const trigger = intent === 'reopen-logs' ? 'USR1' : 'file_watch';
          const why = intent === 'reopen-logs' ? 'USR1' : 'the log file was removed or replaced: log.file_removed, log.file_replaced';
          this.o.reopenLogs(() => this.log.info({ event: 'logs.reopen', trigger }, `reopening the log file in every process (${why}); one that cannot says log.reopen_failed`));
          for (const c of this.children.values()) c.handle.send({ type: 'reopen-logs' });
          break;
        }
      }
    }
  }

  /**
   * Why a signal during a stop changes nothing. A second TERM or INT (Ctrl-C twice) is told what
   * does cut a graceful stop short: "stop ignored: the master is stopping" left the operator at a
   * terminal pressing Ctrl-C again. A QUIT during a fast stop has nothing left to cut short: it was
   * said as "QUIT during the graceful stop cuts it short" again, of a stop that was not graceful.
   */
  private ignoredWhileStopping(intent: Intent): string {
    if (this.shutdown.isFast && (intent === 'stop' || intent === 'quit')) return `${intent} ignored: the master is already stopping fast`;
    if (intent === 'stop') {
      return `stop ignored: the master is already stopping gracefully (requests in flight finish, up to CORRAL_GRACEFUL_TIMEOUT=${this.settings.CORRAL_GRACEFUL_TIMEOUT} s); QUIT cuts it short (corral stop --fast, or Ctrl-\\ in a terminal)`;
    }
    return `${intent} ignored: the master is stopping`;
  }

  /** `giveUp`: the master stops itself (no worker could boot): see Shutdown.begin. */
  private beginStop(fast: boolean, giveUp?: { readonly why: string }): void {
    const again = this.phase === 'stopping';
    // First: the drains the stop sends tell the children the whole master goes away.
    this.phase = 'stopping';
    // A reload's check that the code on disk loads the keeper is ended: the stop neither waits for
    // it nor, whatever it finds, restarts the keeper, which it drains as it is.
    this.keeperRestart.cancelLoadCheck();
    this.shutdown.begin(fast, again, giveUp);
  }

  private reap(): void {
    for (let e = this.exits.shift(); e; e = this.exits.shift()) {
      this.children.delete(e.record.id);
      this.killer.forget(e.record.id);
      addServed(this.exitedServed, e.record);
      this.exitTally.count(e.record, e.signal);
      // Read at every exit (the baseline kept current), said only of a child that died unasked:
      // not stopped, drained or killed by the master (a stuck one, a boot past its timeout: those
      // are 'killing' with no stopReason).
      // So is one killed from outside while it drained (diedDraining: the OOM killer, a kill -9).
      const unasked = (e.record.stopReason === undefined && e.record.state !== 'killing') || diedDraining(e.record, e.signal);
      // Killed silent before it was ready: a node that could not create a thread hangs so.
      const hungAtBoot = e.record.readyAt === undefined && e.record.bootError?.code === 'CORRAL_ERR_WORKER_TIMEOUT';
      const counted = this.deathCauses.exited(e.signal, e.code, unasked, tasksNeeded(Math.max(this.target.expected, this.settings.CORRAL_WORKERS), this.settings.CORRAL_EXPORT_THREADS), { id: e.record.id, hungAtBoot, neverBeat: !e.record.beaten });
      // A fork refused for descriptors or memory (EMFILE, ENOMEM) is not the task limit, whatever
      // the pids counters did since the last exit (an export thread refused an hour ago).
      const cause = e.forkError && (e.forkError as NodeJS.ErrnoException).code !== 'EAGAIN' ? undefined : counted;
      accountExit(e, this.now(), { crashes: this.crashes, keeperCrashes: this.keeperCrashes, log: this.log, stopping: this.phase === 'stopping', ...(this.gens.reload ? { reloadingTo: this.gens.current } : {}), ...(cause ? { cause } : {}) });
      // Capacity a reload does not give back until its own workers serve (reload-lifecycle.ts).
      if (this.gens.reload && e.record.generation !== this.gens.current && servingWorkerLost(e.record)) this.gens.outgoingWorkerLost();
      // A serving keeper that died, or that the master killed as stuck (CORRAL_TIMEOUT): either way a
      // new one follows that the workers should wait for (a write meanwhile was answered 503).
      const died = e.record.stopReason === undefined || e.record.stopReason === 'timeout';
      if (e.record.role === 'keeper' && died && e.record.readyAt !== undefined) this.keeperRestart.crashed(this.phase === 'running');
    }
    this.crashes.settle(this.now());
  }

  private murder(): void {
    this.killer.murder(this.children.values(), this.settings.CORRAL_TIMEOUT * 1000);
    if (this.phase === 'stopping') return;
    // A serving worker just killed as stuck is a crash of the loop's backoff, counted now rather
    // than at its exit: its replacement, forked in this tick's manage step, then waits for it, as
    // one of a worker that crashed does (a reload's new worker on probation is a failed boot).
    const now = this.now();
    const reloadingTo = this.gens.reload ? this.gens.current : undefined;
    for (const c of this.workers()) {
      if (c.state !== 'killing' || c.stuckCrash !== undefined || !workerKilledStuck(c)) continue;
      if (probationFailure(c, { kind: 'stuck' }, c.lastBeatAt, reloadingTo)) continue;
      countStuckCrash(c, this.crashes, now);
    }
  }

  private manage(): void {
    const now = this.now();
    if (this.phase === 'stopping') {
      // A stop that came while a reload restarted the keeper: the new keeper is still started for
      // the draining workers' writes, and drained after them as the keeper always is.
      if (this.o.withKeeper && !this.keeper() && this.keeperRestart.restarting && this.shutdown.wantsKeeper(now) && now >= this.keeperCrashes.nextSpawnAt) this.spawn('keeper');
      this.shutdown.step(now);
      return;
    }
    this.settleWorkers(now);
    if (this.o.withKeeper && !this.keeper()) {
      if (now >= this.keeperCrashes.nextSpawnAt) this.spawn('keeper');
      else this.reloadStep(attemptBoundMs(this.settings, this.keeperCrashes.nextSpawnAt - now));
    }
    this.renewForBootProgress(now);
    // Workers wait for the keeper at first boot so the first requests find it, but not forever.
    const keeper = this.keeper();
    if (this.o.withKeeper && this.phase === 'booting' && keeper?.state !== 'ready' && !this.keeperGaveWay) {
      if (waitForFirstKeeper({ failures: this.keeperCrashes.failures, bootAttempts: this.settings.CORRAL_BOOT_ATTEMPTS, sinceStartMs: now - this.startedAt })) return;
      this.keeperGaveWay = true;
      this.log.error({ event: 'keeper.unavailable', code: 'CORRAL_ERR_KEEPER_UNAVAILABLE' }, 'the keeper is not ready; starting workers without it (Sheets reads will fail until it is)');
    }

    // A reload that restarts the keeper first sees the code on disk load it: meanwhile nothing is
    // forked or drained, and when it does not load, the reload goes back with the keeper kept.
    const loadCheck = this.keeperRestart.loadCheckStep();
    if (loadCheck === 'wait') return;
    if (loadCheck) {
      this.reloads.rollBack(loadCheck.why, loadCheck.error);
      return;
    }

    if (this.keeperRestart.restarting) {
      const failures = this.keeperCrashes.failures;
      const step = keeperRestartStep({ keeperReady: keeper?.state === 'ready', reloading: this.gens.reload !== undefined, failures, bootAttempts: this.settings.CORRAL_BOOT_ATTEMPTS });
      if (step === 'roll-back') {
        this.reloads.rollBack(this.keeperRestart.cannotBootWhy(counted(failures, 'attempt')), this.keeperCrashes.lastKeeperError);
        return;
      }
      if (step === 'wait') return;
      this.keeperRestart.done();
    }

    if (this.reloads.outgoingLostWhileFailing()) return;

    for (const excess of scaleDownExcess(this.workers(), this.gens.current, this.target.expected)) this.markRetire(excess, 'scale-down');
    const recycled = nextRecycle(this.workers());
    if (recycled) {
      this.markRetire(recycled, recycled.pendingRetire as RetireReason);
      recycled.pendingRetire = undefined;
    }

    const activeCurrent = this.workers().filter((c) => isActiveCurrent(c, this.gens.current));
    this.noneReadySince();
    if (this.crashes.bootFailures >= this.settings.CORRAL_BOOT_ATTEMPTS) {
      if (this.giveUpOnBoot()) return;
    }
    const missing = this.target.expected - activeCurrent.length;
    // A failed boot's backoff: the reload's next attempt begins once it has passed.
    if (missing > 0 && now < this.crashes.nextSpawnAt) this.reloadStep(attemptBoundMs(this.settings, this.crashes.nextSpawnAt - now));
    if (missing > 0 && now >= this.crashes.nextSpawnAt) {
      const anyBooting = activeCurrent.some(stillBooting);
      const { n, failing } = forksDue({ missing, bootFailures: this.crashes.bootFailures, quickCrashes: this.crashes.quickCrashes, anyBooting });
      // Within a time budget (fork-pace.ts): the rest are forked at the next tick, once the loop
      // has answered what came meanwhile.
      const forked = this.forkPace.run(n, this.gens.current, failing || this.crashes.forkBatchSpent, () => this.crashes.newForkBatch(), () => this.spawn('worker'));
      if (forked < n) this.requestTick();
      if (n > 0 && failing) {
        this.log.info({ event: 'worker.respawn', failures: this.crashes.bootFailures, crash_loop: this.crashes.quickCrashes }, 'respawning after backoff');
      }
    }

    for (const { c, superseded } of drainsDue(this.workers(), this.gens.current, this.target.expected, (c) => now - c.lastBeatAt <= lateAfterMs(c.beatIntervalMs))) {
      // A booting worker marked for a scale-down keeps that reason: its exit said `superseded`
      // (counted as a reload's) after a `worker.recycle` line that said scale-down.
      if (superseded) this.drain(c, c.retire ?? 'superseded', 0);
      else {
        this.drain(c, c.retire ?? `reload to generation ${this.gens.current}`, this.settings.CORRAL_GRACEFUL_TIMEOUT * 1000);
        this.reloadStep(drainBoundMs(this.settings));
      }
    }
    const readyCurrent = activeCurrent.filter((c) => c.state === 'ready').length;

    if (this.phase === 'booting' && (readyCurrent >= this.target.expected || this.startsDegraded(readyCurrent, now))) {
      this.phase = 'running';
      const admin = this.adminPort;
      const fields = { event: 'master.ready', workers: readyCurrent, port: this.port ?? null, admin_port: admin ?? null, generation: this.gens.current };
      if (readyCurrent >= this.target.expected) this.log.info(fields, `corral ready: ${counted(readyCurrent, 'worker')} on port ${this.port}`);
      else {
        const err = this.crashes.lastBootError;
        const failures = this.crashes.bootFailuresEver;
        const why =
          failures >= this.settings.CORRAL_BOOT_ATTEMPTS
            ? `the others failed to boot ${counted(failures, 'time')} (last: ${err?.message ?? 'no reason given'})`
            : `the others are not ready after ${secondsText(now - this.startedAt)}, near the start's bound (TimeoutStartSec=${Math.round(startBoundMs(this.settings) / 1000)} in the unit corral writes)${failures > 0 ? `, ${counted(failures, 'failed boot')} (last: ${err?.message ?? 'no reason given'})` : ''}`;
        this.log.warn(
          { ...fields, degraded: true, expected: this.target.expected, boot_failures: failures, boot_error: err ?? null },
          `corral ready with ${readyCurrent} of ${counted(this.target.expected, 'worker')} on port ${this.port}: ${why}; they are tried again with backoff, and the status line says how many serve`,
        );
      }
      this.o.notifier.ready(this.statusLine());
    }
    // Done once the new generation has proven itself: a worker on probation that dies is still a
    // failed boot, which the reload must be in progress to roll back (old workers that died on
    // their own had left none to wait for).
    const provenCurrent = activeCurrent.filter((c) => c.state === 'ready' && (c.settled || !c.probation)).length;
    if (this.gens.reload && provenCurrent >= this.target.expected && !this.workers().some((c) => c.generation !== this.gens.current)) {
      this.reloads.done(provenCurrent, this.port, now);
    }
  }

  /**
   * Marks the workers ready for CORRAL_RELOAD_SETTLE (settle.ts): each may now take an outgoing
   * worker's place (drainsDue), this same tick. The tick runs every TICK_MS, so a predecessor
   * drains within a quarter second of its replacement's settle time. A reload's new worker on
   * probation has now booted for good: the count of failed boots starts again.
   */
  private settleWorkers(now: number): void {
    const settleMs = this.settings.CORRAL_RELOAD_SETTLE * 1000;
    for (const c of this.workers()) {
      if (!settlesNow(c, now, settleMs)) {
        if (c.probation && !c.settled && c.readyAt !== undefined) this.reloadStep(probationBoundMs(this.settings, now - c.readyAt));
        continue;
      }
      c.settled = true;
      // A superseded reload's worker settling proves nothing of the reload now in progress: its
      // count of failed boots is not reset, nor is the worker said to take anyone's place.
      if (!this.gens.reload || c.generation !== this.gens.current) continue;
      this.gens.workerSettled();
      if (!c.probation) continue;
      this.crashes.workerReady();
      const readyMs = now - (c.readyAt ?? now);
      this.log.info(
        { event: 'worker.settled', worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, ready_ms: readyMs },
        `worker ${c.id} settled: ready for ${Math.round(readyMs / 100) / 10} s (CORRAL_RELOAD_SETTLE), a worker it replaces may drain`,
      );
    }
  }

  /**
   * A start that serves with some workers while the others keep failing to boot (a fork refused
   * under a TasksMax= too low, an app failing on some workers) is ready as it is once the failed
   * boots reach CORRAL_BOOT_ATTEMPTS, the bound that ends a start with none ready, or once the
   * start nears the TimeoutStartSec its unit is written with (workers that hang at boot fail only
   * at their boot timeout, a minute each). Waiting for all of them, READY=1 never came: systemd
   * killed the serving master at TimeoutStartSec and started it again, an outage every 157 s.
   */
  private startsDegraded(readyCurrent: number, now: number): boolean {
    if (readyCurrent === 0) return false;
    return this.crashes.bootFailuresEver >= this.settings.CORRAL_BOOT_ATTEMPTS || now - this.startedAt >= startBoundMs(this.settings) - STEP_MARGIN_MS;
  }

  /**
   * Keeps failuresBeforeNoneReady: the failed boots a master that served had counted when its last
   * ready worker went. Those boots failed while others served (a start ready degraded, a replacement
   * refused under TasksMax= beside workers that serve), and are no attempts "with no worker ready":
   * counted as such, the first OOM kill or stuck kill of the last serving worker ended the whole
   * master at once (boot.exhausted, exit 3, or 78 that the unit does not restart) instead of
   * replacing it. At the first start, every failed boot counts, as before.
   */
  private noneReadySince(): void {
    if (this.workers().some((c) => c.state === 'ready')) {
      this.failuresBeforeNoneReady = undefined;
      return;
    }
    const failures = this.crashes.bootFailures;
    // A ready worker or a reload's start resets the count under it: never more than the count now.
    this.failuresBeforeNoneReady = Math.min(this.failuresBeforeNoneReady ?? (this.phase === 'booting' ? 0 : failures), failures);
  }

  /** Returns true when this tick must manage no further: the master is exiting, or a reload was rolled back. */
  private giveUpOnBoot(): boolean {
    if (this.reloads.workersCannotBoot()) return true;
    if (this.workers().some((c) => c.state === 'ready')) return false;
    // Failed boots counted while a worker still served are not attempts with none ready.
    if (this.crashes.bootFailures - (this.failuresBeforeNoneReady ?? 0) < this.settings.CORRAL_BOOT_ATTEMPTS) return false;
    const err = this.crashes.lastBootError;
    // A boot no restart gets past (the app as written, a port not allowed) exits 78, which the
    // unit does not restart: the operator must change something first (worker/boot-lasting.ts).
    const lasting = this.crashes.failuresAllLasting;
    const exitCode = lasting ? EXIT.CONFIG : EXIT.BOOT_EXHAUSTED;
    const then = lasting ? `; every attempt fails alike until the app's files or the settings change, so corral exits ${exitCode} (its systemd unit does not restart that)` : '';
    const fatal = { code: 'CORRAL_ERR_BOOT_EXHAUSTED', message: `no worker could boot after ${counted(this.crashes.bootFailures, 'attempt')}: ${err?.message}${then}` } as const;
    this.log.fatal({ event: 'boot.exhausted', code: fatal.code, attempts: this.crashes.bootFailures, boot_error: err ?? null, exit_code: exitCode }, fatal.message);
    this.gaveUpExit = exitCode;
    // Stopped as any stop is, then exit 3: the keeper is drained, so the rows it journaled are
    // sent or left whole in the journal, and its exit is said (it was killed with the workers,
    // without a line, its appends in flight left unsure). No worker serves: those still booting
    // are drained with no grace (killed soon after if they hang), and the keeper has its time.
    this.gaveUp = fatal;
    this.beginStop(false, { why: 'no worker could boot' });
    this.shutdown.step(this.now());
    return true;
  }

  /**
   * The reload in progress took a step that restarts its clock (a boot attempt, a failed boot's
   * backoff, an old worker's drain) and may take `boundMs` from now: systemd and `corral reload
   * --wait` are told (reload-bound.ts). Outside a reload, nothing: a first boot has the unit's
   * TimeoutStartSec, and a crash's replacement no systemd job.
   */
  private reloadStep(boundMs: number): void {
    if (this.gens.reload) this.reloadBound.extend(boundMs);
  }

  /**
   * A boot that reports progress (a keeper replaying a large journal) has its deadline counted
   * from its last advance (stuck-judgement.ts), and so does the reload's bound: told only the
   * attempt's bound from the fork, systemd called a reload "timed out" while the keeper, restarted
   * by it, still replayed a journal a step at a time.
   */
  private renewForBootProgress(now: number): void {
    for (const c of this.children.values()) {
      if (c.state === 'booting' && c.bootProgressAt !== undefined) this.reloadStep(attemptBoundMs(this.settings) - (now - c.bootProgressAt));
    }
  }

  private markRetire(c: ChildRecord, reason: RetireReason, extra: Record<string, number> = {}, crashCounted?: boolean): void {
    if (c.retire) return;
    c.retire = reason;
    // An uncaught exception's recycle says what was thrown: the worker's own worker.uncaught line
    // holds the stack, but this is the line an operator greps the master's decisions by.
    const error = reason === 'uncaught' ? c.uncaught : undefined;
    this.log.info(
      { event: 'worker.recycle', worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, reason, ...extra, ...(crashCounted === undefined ? {} : { crash_counted: crashCounted }), ...(error === undefined ? {} : { error }) },
      `recycling worker ${c.id} (${reason}${error === undefined ? '' : `: ${error}`})`,
    );
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
      ...(role === 'worker' ? { workers: this.target.expected } : {}),
      ...(readyAt === undefined ? {} : { generationReadyAt: readyAt }),
    };
    const now = this.now();
    let record: ChildRecord | undefined;
    // The pids counters before the fork: a child refused its threads as it starts (before spawn()
    // returns, on a loaded host) must find the refusal after this reading.
    this.deathCauses.forked(id);
    const spawned = this.o.spawner.spawn(identity, this.target.loaded.childEnv, {
      onMessage: (msg) => {
        // A message read after its child was reaped is not acted on: a late 'ready' would reset
        // the boot-failure count, a late 'retire' count a crash twice.
        if (record && this.children.get(record.id) === record) this.messages.handle(record, msg);
      },
      onExit: (code, signal, forkError) => {
        if (!record) return;
        // Never created: its boot error is made as it is reaped, with the limit that refused it.
        this.exits.push({ record, code, signal, ...(forkError ? { forkError } : {}) });
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
    if (role === 'keeper') this.keeperRestart.forked(this.code(), this.keeperFiles(this.settings));
    // A boot attempt begins: the reload has its boot timeout, then the drain.
    this.reloadStep(attemptBoundMs(this.settings));
    // No pid: the fork failed, which its boot failure says next (a "pid -1" told nothing).
    const pid = spawned.handle.pid === -1 ? null : spawned.handle.pid;
    this.log.info({ event: `${role}.boot`, worker_id: id, worker_pid: pid, generation: this.gens.current }, `booting ${role} ${id} (${pid === null ? 'no process: the fork failed' : `pid ${pid}`})`);
  }

  // ---------------------------------------------------------------- readings (arbiter-readings.ts)

  statusLine(): string {
    return this.readings.statusLine();
  }

  capacity(): Capacity {
    return this.readings.capacity();
  }

  adminPort: number | undefined;
  /** The address the admin API is bound to (a host name in CORRAL_ADMIN_BIND resolved), set with adminPort. */
  adminAddress: string | undefined;

  private workers(): ChildRecord[] {
    return workersOf(this.children);
  }

  private tellWorkers(msg: MasterMessage): void {
    for (const c of this.workers()) if (c.state !== 'killing') c.handle.send(msg);
  }

  private keeper(): ChildRecord | undefined {
    return keeperOf(this.children);
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
    return this.readings.adminView({
      // Intents not yet handled (they wait for the next tick) are handled first, as the tick will:
      // three TTOUs sent at once from 3 workers leave 1, and the third is refused, not answered
      // 202 'workers_expected 1' and then dropped; a TTIN followed by a reload answers the reload's
      // CORRAL_WORKERS, not one more.
      settle: () => this.settleIntents(),
      stopRecorded: () => this.intents.some((i) => i === 'stop' || i === 'quit'),
      requestReload: () => this.record('reload'),
      requestWorkerDelta: (delta) => this.record(delta > 0 ? 'ttin' : 'ttou'),
    });
  }
}
