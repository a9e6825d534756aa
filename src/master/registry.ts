// The arbiter's book of live children. Plain data, written only on the arbiter's behalf: by its
// tick and its child-message handler, directly or through the rule modules they call (drain,
// child-killer, child-messages, child-exits), never from a timer or a callback of their own.

import type { ChildFigures, MasterMessage } from '../ipc/messages.js';
import type { ChildSnapshot, ChildState } from './admin/view.js';
import type { CrashCount } from './crash-ledger.js';
import type { CauseFields } from './death-causes.js';

export interface ChildHandle {
  readonly pid: number;
  send(msg: MasterMessage): boolean;
  kill(signal: NodeJS.Signals): void;
}

export type RetireReason = 'max-requests' | 'uncaught' | 'memory' | 'scale-down';

export interface ChildRecord {
  readonly id: number;
  /** See ChildSnapshot.slot. */
  readonly slot: number;
  readonly role: 'worker' | 'keeper';
  readonly generation: number;
  readonly handle: ChildHandle;
  readonly startedAt: number;
  state: ChildState | 'killing';
  readyAt: number | undefined;
  /** As of its fork until its first beat (or ready), then when the last one was read. */
  lastBeatAt: number;
  /**
   * It has beaten (or reported ready) at least once: its own code runs. Before that it is still
   * starting node and corral's modules, which a host short of CPU may stretch past CORRAL_TIMEOUT
   * (stuck-judgement.ts).
   */
  beaten: boolean;
  /** When a booting child's bootProgress last grew (ChildFigures.bootProgress); undefined before. */
  bootProgressAt: number | undefined;
  /** The arbiter's batch of forks it was part of: a batch failing to boot is one attempt. */
  readonly forkBatch: number;
  /** heartbeatIntervalMs of the CORRAL_TIMEOUT it was started with: a reload may lower the timeout under it. */
  readonly beatIntervalMs: number;
  figures: ChildFigures | undefined;
  port: number | undefined;
  /**
   * The last boot-failed report, logged when the child exits; `lasting` as the child said it
   * (worker/boot-lasting.ts); with the cgroup limit it died of, when its counters said so
   * (death-causes.ts: `task_limit_reached`, `oom_kill`, ...).
   */
  bootError: ({ code: string; message: string; stack?: string; lasting?: boolean } & Partial<CauseFields>) | undefined;
  /** Asked to be replaced; the replacement is started before this one drains. */
  retire: RetireReason | undefined;
  /** Asked to be recycled, waiting for its turn (recycling replaces one worker at a time). */
  pendingRetire: RetireReason | undefined;
  /** Set when a drain was sent: after this, the child is killed. */
  drainDeadline: number | undefined;
  /** It reported 'drained': it stopped beating on purpose and is on its way out. */
  drainedReported: boolean;
  /** Set when a booting child was sent SIGTERM: still alive after this, it gets SIGKILL. */
  sigkillAt: number | undefined;
  /** Why we are stopping it (so its exit is not read as a crash). */
  stopReason: string | undefined;
  /** Its uncaught exception already counted towards the crash-loop backoff (its exit must not again). */
  crashCounted: boolean;
  /** That exception's first line, as the worker reported it (its recycle and exit lines say it). */
  uncaught: string | undefined;
  /**
   * A serving worker killed as stuck: its crash, counted at the kill (its exit line says it), so
   * that the fork of its replacement waits for the backoff as a crashed worker's does.
   */
  stuckCrash: (CrashCount & { readonly crashLoop: number }) | undefined;
  /** A worker's RSS in MiB when it became ready, before any request: what a fresh worker weighs. */
  readyRssMb: number | undefined;
  /**
   * Ready, and beating, for CORRAL_RELOAD_SETTLE (settle.ts): it may take an outgoing worker's
   * place. Set once, by the tick.
   */
  settled: boolean;
  /**
   * A reload's new worker that became ready while the generation it replaces served: until it
   * settles, its death is a failed boot of the new generation (settle.ts), and its ready has not
   * yet reset the count of failed boots.
   */
  probation: boolean;
}

/** The record of a child just forked: booting, its first beat counted as of its start. */
export function newChildRecord(o: Pick<ChildRecord, 'id' | 'slot' | 'role' | 'generation' | 'handle' | 'startedAt' | 'forkBatch' | 'beatIntervalMs'>): ChildRecord {
  return {
    ...o,
    state: 'booting',
    readyAt: undefined,
    lastBeatAt: o.startedAt,
    beaten: false,
    bootProgressAt: undefined,
    figures: undefined,
    port: undefined,
    bootError: undefined,
    retire: undefined,
    pendingRetire: undefined,
    drainDeadline: undefined,
    sigkillAt: undefined,
    stopReason: undefined,
    crashCounted: false,
    uncaught: undefined,
    stuckCrash: undefined,
    drainedReported: false,
    readyRssMb: undefined,
    settled: false,
    probation: false,
  };
}

export function snapshotOf(r: ChildRecord): ChildSnapshot {
  return {
    id: r.id,
    slot: r.slot,
    role: r.role,
    pid: r.handle.pid,
    generation: r.generation,
    state: r.state,
    retire: r.retire,
    startedAt: r.startedAt,
    readyAt: r.readyAt,
    // Before its first beat there is none to be an age of (the views count from its fork).
    lastBeatAt: r.beaten ? r.lastBeatAt : undefined,
    beatIntervalMs: r.beatIntervalMs,
    figures: r.figures,
  };
}

/** The live workers, in the order they were forked. */
export function workersOf(children: ReadonlyMap<number, ChildRecord>): ChildRecord[] {
  return [...children.values()].filter((c) => c.role === 'worker');
}

/** The live keeper: it is child 0, the workers count from 1. */
export function keeperOf(children: ReadonlyMap<number, ChildRecord>): ChildRecord | undefined {
  return children.get(0);
}
