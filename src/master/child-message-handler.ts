// What a child's message does to the master, once child-messages.ts has updated its record: a
// beat's request durations kept, a worker over its memory limit said, a ready counted (the port,
// the crash ledgers, the generation's first ready, the keeper's return told to the workers), and an
// uncaught exception counted as a crash with the worker retired. Then the tick runs, to act on it.

import type { Settings } from '../config/schema.js';
import type { ChildMessage } from '../ipc/messages.js';
import type { Logger } from '../log/logger.js';
import { applyChildMessage } from './child-messages.js';
import type { CrashLedger } from './crash-ledger.js';
import type { Generations } from './generations.js';
import type { KeeperCrashLedger } from './keeper-crash-ledger.js';
import type { KeeperRestart } from './keeper-restart.js';
import { MemoryLimitChurnWatch } from './memory-limit-churn.js';
import type { ChildRecord, RetireReason } from './registry.js';
import type { RequestLatency } from './request-latency.js';
import { previousServes } from './rollout.js';
import { failedOnProbation, probationFailure } from './settle.js';

export interface MessageHandlerDeps {
  readonly log: Logger;
  readonly now: () => number;
  readonly settings: () => Settings;
  readonly latency: RequestLatency;
  readonly crashes: CrashLedger;
  readonly keeperCrashes: KeeperCrashLedger;
  readonly keeperRestart: KeeperRestart;
  readonly gens: Generations;
  /** A child became ready listening on this port. */
  readonly listening: (port: number) => void;
  /** The live workers: a reload's new one is on probation only while its old generation serves. */
  readonly workers: () => readonly ChildRecord[];
  /** The arbiter's markRetire: the worker is retired once, with a line that says why. */
  readonly markRetire: (c: ChildRecord, reason: RetireReason, extra: Record<string, number>, crashCounted: boolean) => void;
  readonly requestTick: () => void;
}

/** A memory limit with room for a worker's growth over its start: twice its start, rounded up to 64 MiB. */
function suggestedLimitMb(startMb: number): number {
  return Math.ceil((startMb * 2) / 64) * 64;
}

export class ChildMessageHandler {
  /** The CORRAL_MAX_WORKER_MEMORY_MB a worker was last said to start over (said once per value). */
  private saidStartOverLimitMb: number | undefined;
  private readonly churn = new MemoryLimitChurnWatch();

  constructor(private readonly d: MessageHandlerDeps) {}

  /** Workers recycled for memory one after another soon after their ready: the limit, not a leak (memory-limit-churn.ts). */
  private sayChurn(c: ChildRecord, limitMb: number, rssMb: number, now: number): void {
    const churn = this.churn.overLimit(limitMb, rssMb, now - (c.readyAt ?? c.startedAt));
    if (!churn) return;
    const s = Math.round(churn.afterReadyMs / 1000);
    this.d.log.error(
      { event: 'worker.memory_limit_churn', code: 'CORRAL_ERR_CONFIG_INVALID', worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, rss_mb: Math.round(rssMb), limit_mb: limitMb, after_ready_ms: Math.round(churn.afterReadyMs), in_a_row: churn.inARow },
      `CORRAL_MAX_WORKER_MEMORY_MB=${limitMb} is below what a worker weighs once it serves: ${churn.inARow} workers in a row went over it within a minute of their ready (worker ${c.id}: ${Math.round(rssMb)} MiB RSS ${s} s after it), so workers are recycled one after another, each starting cold; set it well above that (e.g. ${churn.suggestedMb}) and reload`,
    );
  }

  /** `c` is a live child: a message read after its child was reaped never comes here. */
  handle(c: ChildRecord, msg: ChildMessage): void {
    const { d } = this;
    const now = d.now();
    const limitMb = d.settings().CORRAL_MAX_WORKER_MEMORY_MB;
    if (msg.type === 'heartbeat' && c.role === 'worker') d.latency.add(c.handle.pid, msg.figures.latencyBuckets, now);
    const effect = applyChildMessage(c, msg, now, limitMb);
    switch (effect.kind) {
      case 'none':
        return;
      case 'over-memory':
        d.log.warn({ event: 'worker.memory_limit', worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, rss_mb: Math.round(effect.rssMb), limit_mb: limitMb }, `worker ${c.id} RSS ${Math.round(effect.rssMb)} MiB over the limit`);
        this.sayChurn(c, limitMb, effect.rssMb, now);
        return;
      case 'over-memory-from-start':
        // Once per limit: every worker of the generation starts as big, and a reload may change it.
        if (this.saidStartOverLimitMb === limitMb) return;
        this.saidStartOverLimitMb = limitMb;
        d.log.error(
          { event: 'worker.memory_limit_below_start', code: 'CORRAL_ERR_CONFIG_INVALID', worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, rss_mb: Math.round(effect.rssMb), limit_mb: limitMb },
          `CORRAL_MAX_WORKER_MEMORY_MB=${limitMb} is below what a worker weighs once ready, before any request (worker ${c.id}: ${Math.round(effect.rssMb)} MiB RSS): a replacement would start as big, so workers are not recycled for memory until it is raised; set it well above ${Math.round(effect.rssMb)} (e.g. ${suggestedLimitMb(effect.rssMb)}) and reload`,
        );
        return;
      case 'ready':
        if (effect.port !== undefined) d.listening(effect.port);
        if (c.role === 'keeper') {
          d.keeperCrashes.ready();
          d.keeperRestart.ready();
        } else {
          c.probation = this.onProbation(c);
          // On probation, its boot counts as done once it settles (the tick resets the count of
          // failed boots then): reset at its ready, workers dying 0.5 s later never added up.
          if (!c.probation) d.crashes.workerReady();
          // A keeper restarting now: this worker may have been loading its app when the others
          // were told, and waits for the new keeper as they do.
          const notice = d.keeperRestart.noticeNow();
          if (notice) c.handle.send(notice);
          // The wall clock, not d.now(): the worker compares it with a file's mtime.
          if (c.generation === d.gens.current) d.gens.workerReady(Date.now());
        }
        d.log.info({ event: `${c.role}.ready`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, port: effect.port ?? null, boot_ms: now - c.startedAt }, `${c.role} ${c.id} ready`);
        break;
      case 'crashed':
        this.retireCrashed(c, effect.error);
        break;
      case 'tick':
        break;
    }
    d.requestTick();
  }

  /**
   * A reload's new worker ready while a worker of the generation it replaces serves, with a settle
   * time: it must settle before its boot counts as done. At the first start, or with the old
   * generation gone (nothing to drain, nothing to go back to), its death stays a crash.
   */
  private onProbation(c: ChildRecord): boolean {
    const r = this.d.gens.reload;
    if (!r || c.generation !== this.d.gens.current || this.d.settings().CORRAL_RELOAD_SETTLE <= 0) return false;
    return previousServes(this.d.workers(), r.previousGeneration);
  }

  /**
   * A worker reported an uncaught exception. It is a crash like an exit, and is counted now: the
   * worker is then drained on purpose, and an expected exit is never counted (without this, a
   * worker throwing soon after boot was replaced about three times a second, for good). The
   * replacement waits for the backoff; meanwhile the crashed worker keeps serving, so the
   * capacity does not drop.
   */
  private retireCrashed(c: ChildRecord, error: string | undefined): void {
    // Every further throw reports again: one crash per worker.
    if (c.crashCounted) return;
    // Already told to stop (a reload, a recycle, a shutdown): its replacement is on its way or not
    // wanted, and how long it lived says nothing of the code that will run next.
    if (c.stopReason !== undefined) return;
    c.crashCounted = true;
    c.uncaught = error;
    const now = this.d.now();
    const bootError = probationFailure(c, error === undefined ? { kind: 'uncaught' } : { kind: 'uncaught', error }, now, this.d.gens.reload ? this.d.gens.current : undefined);
    if (bootError) {
      // A failed boot of the reload's generation, counted once (its exit is not counted again):
      // CORRAL_BOOT_ATTEMPTS of them roll the reload back, as boots that never got ready do.
      failedOnProbation(c, bootError, now, this.d.crashes, this.d.log);
      this.d.markRetire(c, 'uncaught', { uptime_ms: now - (c.readyAt ?? c.startedAt) }, false);
      return;
    }
    const { uptime, delay, sharedWith } = this.d.crashes.crashed(c, now);
    this.d.markRetire(c, 'uncaught', { uptime_ms: uptime, crash_loop: this.d.crashes.quickCrashes, respawn_in_ms: delay }, sharedWith === undefined);
  }
}
