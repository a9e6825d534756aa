// What the arbiter's state reads as, worked out when asked from the state it hands in: the host's
// capacity, a worker's share of the connection cap, the respawn waits, systemd's status line, the
// tick's report of them (status-report.ts sends it), and the admin API's window (AdminView).
// Nothing here changes that state; what the admin API asks of the arbiter goes back to it.

import type { Settings } from '../config/schema.js';
import { lateAfterMs } from '../heartbeat-interval.js';
import type { AdminView, RespawnWait } from './admin/view.js';
import type { ArbiterOptions } from './arbiter-options.js';
import { computeCapacity, connectionInputs, perWorkerCap, workerConnectionsWithin, type Capacity } from './capacity.js';
import type { ServedTotals } from './child-exits.js';
import type { CrashLedger } from './crash-ledger.js';
import type { ExitTally } from './exit-reasons.js';
import type { Generations } from './generations.js';
import type { KeeperCrashLedger } from './keeper-crash-ledger.js';
import { keeperOf, snapshotOf, workersOf, type ChildRecord } from './registry.js';
import type { Target } from './reload-lifecycle.js';
import type { RequestLatencyReader } from './request-latency.js';
import { isActiveCurrent } from './rollout.js';
import { respawnWaitOf, StatusReporter, statusLineOf } from './status-report.js';
import { servingWorkers } from './stuck-judgement.js';

/** The arbiter's state, read at each call as it is then. */
export interface ReadingsSource {
  /** `loaded` for CORRAL_ACCEPT, which only a restart changes; `notifier` for the report. */
  readonly options: Pick<ArbiterOptions, 'loaded' | 'withKeeper' | 'fdCeiling' | 'notifier'>;
  readonly now: () => number;
  readonly startedAt: number;
  readonly children: ReadonlyMap<number, ChildRecord>;
  readonly target: Readonly<Target>;
  readonly gens: Generations;
  /** The phase is 'stopping'. */
  readonly stopping: () => boolean;
  /** The phase is 'booting': the master has not been ready yet. */
  readonly starting: () => boolean;
  /** The master is done (onExit called). */
  readonly finished: () => boolean;
  readonly crashes: CrashLedger;
  readonly keeperCrashes: KeeperCrashLedger;
  readonly exitedServed: ServedTotals;
  readonly exitTally: ExitTally;
  readonly latency: RequestLatencyReader;
  /** What is left of the reload in progress's bound (reload-bound.ts); undefined with none in progress. */
  readonly reloadBoundMs: () => number | undefined;
}

/** What the admin API asks of the arbiter, beside what it reads. */
export type AdminAsks = Pick<AdminView, 'settle' | 'requestReload' | 'requestWorkerDelta'> & {
  /** A stop or quit is recorded and waits for the tick. */
  readonly stopRecorded: () => boolean;
};

export class ArbiterReadings {
  private readonly reporter: StatusReporter;
  /** CORRAL_ACCEPT as the listening socket was created: a reload does not change it. */
  private readonly acceptMode: Settings['CORRAL_ACCEPT'];

  constructor(private readonly s: ReadingsSource) {
    this.reporter = new StatusReporter(s.options.notifier);
    this.acceptMode = s.options.loaded.settings.CORRAL_ACCEPT;
  }

  private get settings(): Settings {
    return this.s.target.loaded.settings;
  }

  private workers(): ChildRecord[] {
    return workersOf(this.s.children);
  }

  /** The tick's last step: capacity to the workers, the status line to systemd, the watchdog. */
  report(): void {
    // A worker's share of CORRAL_MAX_CONNECTIONS follows the worker count, which TTIN/TTOU change.
    // The host's cap follows it too, and is the cap itself of a worker accepting on its own.
    // With round-robin the shares' remainder goes to the current generation's workers by slot;
    // the others (retiring, draining, an old generation) hold the smaller share.
    const workers = this.workers();
    const ranks = new Map(
      workers
        .filter((c) => isActiveCurrent(c, this.s.gens.current))
        .sort((a, b) => a.slot - b.slot)
        .map((c, rank) => [c, rank]),
    );
    const workerConnections = this.workerConnections();
    this.reporter.report({
      now: this.s.now(),
      workers,
      capacity: this.capacity(),
      workerCapOf: (c) => perWorkerCap(this.s.target.expected, workerConnections, this.settings.CORRAL_MAX_CONNECTIONS, this.acceptMode, ranks.get(c)),
      waiting: this.respawnWait() !== undefined,
      statusLine: () => this.statusLine(),
      timeoutMs: this.settings.CORRAL_TIMEOUT * 1000,
    });
  }

  statusLine(): string {
    // Counted as health counts them: a ready worker whose loop is blocked serves nobody.
    const { gens } = this.s;
    const now = this.s.now();
    const workers = this.workers();
    const current = workers.filter((c) => c.generation === gens.current);
    const reload = gens.reload;
    return statusLineOf({
      ready: servingWorkers(reload ? current : workers, now),
      expected: this.s.target.expected,
      generation: gens.current,
      capacity: this.capacity(),
      wait: this.respawnWait(),
      reloadFailure: gens.lastFailure,
      reloading: reload ? { from: reload.previousGeneration, serving: servingWorkers(workers.filter((c) => c.generation !== gens.current), now) } : undefined,
      stopping: this.s.stopping() ? { workers: workers.length } : undefined,
      starting: this.s.starting(),
    });
  }

  /** See respawnWaitOf. */
  respawnWait(): RespawnWait | undefined {
    const { s } = this;
    return respawnWaitOf({
      now: s.now(),
      stopping: s.stopping() || s.finished(),
      nextSpawnAt: s.crashes.nextSpawnAt,
      active: this.workers().filter((c) => isActiveCurrent(c, s.gens.current)).length,
      expected: s.target.expected,
      quickCrashes: s.crashes.quickCrashes,
      bootFailures: s.crashes.bootFailures,
    });
  }

  capacity(): Capacity {
    const { s } = this;
    const now = s.now();
    return computeCapacity({
      // A worker not beating counts the connections it held, not its last interval's figures.
      ...connectionInputs(this.workers().map((c) => ({ figures: c.figures, late: c.state !== 'booting' && now - c.lastBeatAt > lateAfterMs(c.beatIntervalMs) }))),
      workers: s.target.expected,
      workerConnections: this.workerConnections(),
      maxConnections: this.settings.CORRAL_MAX_CONNECTIONS,
      serving: !s.stopping() && !s.finished() && servingWorkers(this.workers(), s.now()) > 0,
    });
  }

  /** CORRAL_WORKER_CONNECTIONS as the open-files limit lets a worker hold them (fd_limit.low said so at start). */
  workerConnections(): number {
    return workerConnectionsWithin(this.settings.CORRAL_WORKER_CONNECTIONS, this.s.options.fdCeiling);
  }

  /** The admin API's window on the arbiter; `asks` go back to the arbiter. */
  adminView(asks: AdminAsks): AdminView {
    const { s } = this;
    return {
      startedAt: s.startedAt,
      now: () => s.now(),
      settle: asks.settle,
      settings: () => this.settings,
      children: () => [...s.children.values()].map(snapshotOf),
      servedByExited: () => ({ ...s.exitedServed, sheets: { ...s.exitedServed.sheets } }),
      childExits: () => s.exitTally.snapshot(),
      childSignalDeaths: () => s.exitTally.signalDeaths(),
      latency: () => s.latency,
      keeperExpected: () => s.options.withKeeper,
      expectedWorkers: () => s.target.expected,
      workerConnections: () => this.workerConnections(),
      respawnWait: () => this.respawnWait(),
      keeperRespawnWait: () => {
        const inMs = s.keeperCrashes.nextSpawnAt - s.now();
        if (!s.options.withKeeper || keeperOf(s.children) || inMs <= 0) return undefined;
        return { inMs: Math.round(inMs), crashLoop: s.keeperCrashes.quickCrashes, failures: s.keeperCrashes.failures };
      },
      generation: () => s.gens.current,
      reloadOutcome: () => s.gens.outcome,
      reloadState: () => ({ inProgress: s.gens.reload ? s.gens.current : undefined, boundMs: s.reloadBoundMs(), queued: s.gens.queued, last: s.gens.lastEnd, ended: s.gens.endedByOutcome }),
      // A stop recorded but not yet handled by the tick counts: the tick drops what comes after it.
      stopping: () => s.stopping() || asks.stopRecorded(),
      starting: () => s.starting(),
      requestReload: asks.requestReload,
      requestWorkerDelta: asks.requestWorkerDelta,
    };
  }
}
