// The master's stop as the arbiter runs it, once its phase is 'stopping': the order (graceful, or
// fast for QUIT, which also cuts a graceful stop short) said in the log and to systemd, the workers
// drained, the keeper drained after them, then the exit once no child is left, or the kill of
// what is left past the deadline. When and in what order is stop-sequence.ts's decision.

import type { Settings } from '../config/schema.js';
import { EXIT } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ChildKiller } from './child-killer.js';
import type { Notifier } from './notify.js';
import type { ChildRecord } from './registry.js';
import { stopDeadline, stopStep } from './stop-sequence.js';
import { timeoutStopSec } from '../systemd/timeouts.js';

export interface ShutdownDeps {
  readonly log: Logger;
  readonly notifier: Notifier;
  readonly now: () => number;
  readonly settings: () => Settings;
  readonly children: ReadonlyMap<number, ChildRecord>;
  readonly workers: () => ChildRecord[];
  readonly keeper: () => ChildRecord | undefined;
  readonly killer: Pick<ChildKiller, 'killAtGracefulTimeout'>;
  /** The arbiter's drain (drain.ts): the phase is 'stopping' by then, and the child's health says it goes away. */
  readonly drain: (c: ChildRecord, reason: string, gracefulMs: number) => void;
  /** The master is done: the arbiter's finish. */
  readonly finish: (code: number) => void;
  /** The generation a reload in progress boots, and whether another is queued behind it; undefined without one. */
  readonly reloading: () => { readonly generation: number; readonly queued: boolean } | undefined;
}

export class Shutdown {
  private deadline = 0;
  private fast = false;
  /** When the keeper was told to drain (stop-sequence.ts); undefined before. */
  private keeperDrainAt: number | undefined;

  constructor(private readonly d: ShutdownDeps) {}

  /** The stop under way is a fast one (QUIT): a further QUIT has nothing left to cut short. */
  get isFast(): boolean {
    return this.fast;
  }

  /**
   * A stop (graceful) or a quit (fast); `again`: a stop was already under way. `giveUp`: the
   * master stops itself, nobody asked (no worker could boot): why, said in shutdown.start, and
   * its workers, which serve nothing, are drained with no grace; the keeper keeps its time.
   */
  begin(fast: boolean, again: boolean, giveUp?: { readonly why: string }): void {
    const why = giveUp?.why;
    const { d } = this;
    const gracefulMs = fast ? 0 : d.settings().CORRAL_GRACEFUL_TIMEOUT * 1000;
    if (!again) {
      // A reload the stop cuts short ends with no reload.done or reload.failed: said here, where
      // an operator pairing reload.start with its end finds it.
      const reload = d.reloading();
      const abandoned = reload && `; the reload to generation ${reload.generation} in progress is abandoned${reload.queued ? ', and the one queued behind it' : ''} (its new workers stop with the others)`;
      d.log.info(
        { event: 'shutdown.start', fast, graceful_s: gracefulMs / 1000, ...(why ? { reason: why } : {}), ...(reload ? { reload_abandoned: reload.generation } : {}) },
        `${fast ? 'fast' : 'graceful'} shutdown${why ? `: ${why}` : ''}${abandoned ?? ''}`,
      );
      // systemctl status shows why, when the master stops itself.
      d.notifier.stopping(why ? `stopping: ${why}` : 'stopping', timeoutStopSec(gracefulMs / 1000) * 1000);
    } else if (fast) {
      // A QUIT during a graceful stop cuts it short: said, or the log showed requests cut before
      // the graceful timeout with nothing to say why.
      d.log.info({ event: 'shutdown.hastened', fast }, 'fast shutdown: QUIT during the graceful stop cuts it short; requests in flight are cut now');
    }
    this.fast ||= fast;
    this.deadline = stopDeadline(d.now(), gracefulMs, again ? this.deadline : undefined);
    // Giving up, the workers still booting serve nothing; one draining already (a scale-down) keeps its requests' time.
    for (const c of d.workers()) d.drain(c, fast ? 'quit' : 'shutdown', giveUp && c.state === 'booting' ? 0 : gracefulMs);
    if (fast) this.drainKeeper(0);
  }

  /** The tick's manage step while stopping. */
  step(now: number): void {
    const { d } = this;
    const step = stopStep({ now, deadline: this.deadline, workersLeft: d.workers().length, keeperLeft: d.keeper() !== undefined, keeperDrainAt: this.keeperDrainAt });
    if (step.drainKeeperMs !== undefined) this.drainKeeper(step.drainKeeperMs);
    if (step.done) {
      d.log.info({ event: 'shutdown.done' }, 'all children stopped');
      d.finish(EXIT.OK);
      return;
    }
    if (step.killWorkers) d.killer.killAtGracefulTimeout(d.workers());
    const keeper = d.keeper();
    if (step.killKeeper && keeper) d.killer.killAtGracefulTimeout([keeper]);
  }

  /**
   * Whether a keeper that is not there (a reload was restarting it when the stop came) is still
   * wanted: a graceful stop whose workers, draining, may write events, before the keeper's own
   * drain and the deadline. The workers were told to wait for the new keeper ('keeper-restarting');
   * with none forked, every write waited that whole window for nothing, then got a 503.
   */
  wantsKeeper(now: number): boolean {
    return !this.fast && this.keeperDrainAt === undefined && now < this.deadline && this.d.workers().length > 0;
  }

  private drainKeeper(gracefulMs: number): void {
    const keeper = this.d.keeper();
    if (!keeper) return;
    // A QUIT after its drain brings its own deadline forward (drain.ts), never this one back.
    this.keeperDrainAt ??= this.d.now();
    this.d.drain(keeper, 'shutdown', gracefulMs);
  }
}
