// What the master tells of its state, at every tick: the host's capacity to its workers (their
// FULL and their share of the connection cap), its one-line status to systemd, and the watchdog.
// Sent on change or every 5 s, so a quiet host does not send four times a second; the status line
// and the respawn wait are functions of the counts the arbiter hands in.

import type { RespawnWait } from './admin/view.js';
import { busyConnections, slotsFull, type Capacity } from './capacity.js';
import type { Notifier } from './notify.js';
import type { ChildRecord } from './registry.js';
import { bootTimeoutMs } from './stuck-judgement.js';

/** Sent this often even when nothing changed. */
const REPEAT_MS = 5000;

export interface RespawnWaitInput {
  readonly now: number;
  /** Stopping or exited: nothing is respawned. */
  readonly stopping: boolean;
  readonly nextSpawnAt: number;
  /** Workers of the current generation booting or ready, not retiring. */
  readonly active: number;
  readonly expected: number;
  readonly quickCrashes: number;
  readonly bootFailures: number;
}

/**
 * Workers missing while the backoff holds the next fork. Without it, the status and the admin
 * API said only "0/8 workers ready" for up to 30 s, with nothing of why or for how long.
 */
export function respawnWaitOf(w: RespawnWaitInput): RespawnWait | undefined {
  if (w.stopping || w.now >= w.nextSpawnAt) return undefined;
  if (w.active >= w.expected) return undefined;
  return { inMs: Math.ceil(w.nextSpawnAt - w.now), crashLoop: w.quickCrashes, bootFailures: w.bootFailures };
}

export interface StatusLineInput {
  readonly ready: number;
  readonly expected: number;
  readonly generation: number;
  readonly capacity: Capacity;
  readonly wait: RespawnWait | undefined;
  /** Why the latest reload did not apply, until one completes (Generations.lastFailure). */
  readonly reloadFailure?: string | undefined;
  /**
   * A reload in progress: `generation` is the one it boots, `ready` its workers ready; the
   * generation it started from serves meanwhile, with `serving` workers ready.
   */
  readonly reloading?: { readonly from: number; readonly serving: number } | undefined;
  /** A stop has begun: the workers left (`workers`) finish their requests. */
  readonly stopping?: { readonly workers: number } | undefined;
  /** The master has not been ready yet: its first workers boot. */
  readonly starting?: boolean | undefined;
}

/** How much of a reload failure's reason the status line carries: the log has all of it. */
const RELOAD_FAILURE_CHARS = 240;

/** One line of at most RELOAD_FAILURE_CHARS: a settings refusal lists its problems on several lines. */
function shortReason(text: string): string {
  const line = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return line.length <= RELOAD_FAILURE_CHARS ? line : `${line.slice(0, RELOAD_FAILURE_CHARS - 1)}…`;
}

/** systemd's STATUS= line (and READY=1's): `systemctl status` shows it. */
export function statusLineOf(s: StatusLineInput): string {
  const { capacity: cap, wait } = s;
  // "0/3 workers ready, capacity UNAVAILABLE" read as a failure through a drain, and stayed the
  // unit's StatusText once it was inactive.
  if (s.stopping) {
    const n = s.stopping.workers;
    const busy = busyConnections(cap);
    return `stopping: ${n} worker${n === 1 ? '' : 's'} finishing ${n === 1 ? 'its' : 'their'} requests (${busy} connection${busy === 1 ? '' : 's'} busy)`;
  }
  const why = wait && (wait.bootFailures > 0 ? `${wait.bootFailures} failed boot${wait.bootFailures === 1 ? '' : 's'} in a row` : `crash loop ${wait.crashLoop}`);
  const waiting = wait ? `; respawning in ${Math.ceil(wait.inMs / 1000)} s (${why})` : '';
  // Before the first READY=1 (`systemctl status`: activating) no worker has served yet: "capacity
  // UNAVAILABLE" read as an outage through a slow app's boot, as `corral status` said "running:
  // 0/2 workers ready (unavailable)" before it said "starting".
  if (s.starting) return `starting: ${s.ready}/${s.expected} workers ready, generation ${s.generation}${waiting}`;
  // While a reload boots its generation, the one before serves: "2/2 workers ready, generation 3"
  // said of a generation none of whose workers had booted.
  const workers = s.reloading
    ? `reloading to generation ${s.generation} (${s.ready}/${s.expected} workers ready), generation ${s.reloading.from} serving (${s.reloading.serving} ready)`
    : `${s.ready}/${s.expected} workers ready, generation ${s.generation}`;
  return `${workers}, capacity ${cap.status} (${busyConnections(cap)}/${cap.max_connections} busy, ${cap.idle_connections} idle${cap.refused_last_interval > 0 ? `, ${cap.refused_last_interval} refused` : ''}${cap.idle_closed_last_interval > 0 ? `, ${cap.idle_closed_last_interval} idle closed` : ''})${waiting}${s.reloadFailure ? `; ${shortReason(s.reloadFailure)}` : ''}`;
}

export interface ReportInput {
  readonly now: number;
  readonly workers: readonly ChildRecord[];
  readonly capacity: Capacity;
  /** A worker's share of CORRAL_MAX_CONNECTIONS (perWorkerCap): with round-robin, by its rank. */
  readonly workerCapOf: (c: ChildRecord) => number;
  /** The backoff holds the next fork. */
  readonly waiting: boolean;
  readonly statusLine: () => string;
  /** CORRAL_TIMEOUT in ms: a worker silent longer does not feed the watchdog. */
  readonly timeoutMs: number;
}

export class StatusReporter {
  private lastCapacityFull = false;
  /** The cap each worker was last sent. */
  private readonly sentCaps = new WeakMap<ChildRecord, number>();
  private lastMaxConnections: number | undefined;
  private lastStatusAt = 0;
  private lastStatusWaiting = false;
  private lastWatchdogAt = 0;

  constructor(private readonly notifier: Notifier) {}

  report(r: ReportInput): void {
    const { now, capacity } = r;
    // The workers enforce slots held, idle or not (an idle one gives way in the worker itself),
    // whatever the status says to operators. Every worker is told when the host's figures change
    // (and every 5 s); one whose own cap changed, at once.
    const toAll = slotsFull(capacity) !== this.lastCapacityFull || capacity.max_connections !== this.lastMaxConnections || now - this.lastStatusAt >= REPEAT_MS;
    this.lastCapacityFull = slotsFull(capacity);
    this.lastMaxConnections = capacity.max_connections;
    for (const c of r.workers) {
      const workerCap = r.workerCapOf(c);
      // A booting worker drops the word (its server is not up yet): told at the next tick once ready.
      if (!toAll && (c.state !== 'ready' || this.sentCaps.get(c) === workerCap)) continue;
      if (c.state === 'ready') this.sentCaps.set(c, workerCap);
      c.handle.send({ type: 'capacity', full: this.lastCapacityFull, current: capacity.current_connections, max: capacity.max_connections, workerCap, status: capacity.status, percentUsed: capacity.percent_used });
    }
    // At once when a backoff wait starts or ends, not up to 5 s later: systemctl status then says why none serve.
    if (now - this.lastStatusAt >= REPEAT_MS || r.waiting !== this.lastStatusWaiting) {
      this.lastStatusAt = now;
      this.lastStatusWaiting = r.waiting;
      this.notifier.status(r.statusLine());
    }
    const wd = this.notifier.watchdogIntervalMs;
    if (wd !== undefined && now - this.lastWatchdogAt >= wd) {
      // The watchdog is fed only while at least one worker beats: a host with every worker stuck
      // should be restarted by systemd. Or while the master holds the next fork for its backoff:
      // its workers are gone, not stuck, and it is doing its job. Unfed for waits near the 30 s cap,
      // a unit with WatchdogSec under about 60 s (CORRAL_TIMEOUT under 15) was killed mid crash
      // loop, and started the backoff over at 250 ms. Or while a worker boots within its boot
      // timeout: the replacements of stuck workers the master killed. Unfed then, the watchdog
      // (pinged at half of WatchdogSec) left them as little as 45 s of the 60 s a boot may take
      // when every worker froze just before a ping could count them, and systemd restarted the
      // whole service while the master was doing its job.
      const serving = r.workers.some((c) => c.state === 'ready' && now - c.lastBeatAt <= r.timeoutMs);
      const replacing = r.workers.some((c) => c.state === 'booting' && now - c.startedAt <= bootTimeoutMs(r.timeoutMs));
      if (serving || replacing || r.waiting) {
        this.lastWatchdogAt = now;
        this.notifier.watchdog();
      }
    }
  }
}
