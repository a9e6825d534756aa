// Host-wide capacity, as the operators' system-limits guide defines it: connections summed over
// workers against CORRAL_MAX_CONNECTIONS (or workers × worker connections). Idle connections (a
// keep-alive connection between requests, one silent for a second) give their slot to a new client
// at the cap (worker/connection-cap.ts): a host whose slots they hold still serves new clients, so
// the status, percent_used and available_slots count only the connections that cannot give way.
// Saying FULL there had operators adding workers to a host with room.
// Busy connections are each worker's most at once over its last heartbeat interval, and a
// connection refused in that interval is FULL: read from one count per beat, taken while the loop
// sat between requests, a host refusing a fifth of its clients (`503 server full (20/20)`) said
// LOW with can_accept_new. Idle connections still count as room, but a refusal in the interval
// says the room was not there for every client (a worker with none idle refuses while another
// holds some; every slot given way in turn while more clients came). Idle connections closed to
// admit new clients in the interval, with none refused, are at least WARNING: every slot was held,
// and new clients got in only by cutting other clients' keep-alive connections (nginx warns the
// same: "worker_connections are not enough, reusing connections").
// Slots count only while something takes connections: with no worker ready and beating (a crash
// loop, every worker stuck) or once a stop has begun (the listener closed), a new client gets
// ECONNREFUSED or waits unanswered however few slots are held. That is UNAVAILABLE, as health's
// `unavailable`: LOW with can_accept_new there told a load balancer to send more.

import type { Settings } from '../config/schema.js';

export type CapacityStatus = 'UNAVAILABLE' | 'LOW' | 'HEALTHY' | 'WARNING' | 'FULL';

/** The statuses a share of busy slots gives, while some worker serves. */
export type LoadStatus = Exclude<CapacityStatus, 'UNAVAILABLE'>;

/** The seeds' `/api/admin/capacity` shape. */
export interface Capacity {
  /** Open connections: every slot held. */
  readonly current_connections: number;
  /** Of those, idle ones, which give their slot to a new client. */
  readonly idle_connections: number;
  /**
   * The busy connections the status counts: each worker's most at once over its last heartbeat
   * interval, summed; at least those busy at the beats, and short of the cap unless those fill it.
   */
  readonly peak_busy_connections: number;
  /** Connections answered 503 server full over the workers' last heartbeat intervals: FULL when over 0. */
  readonly refused_last_interval: number;
  /** Idle connections closed to admit new ones over the same intervals: at least WARNING when over 0. */
  readonly idle_closed_last_interval: number;
  readonly max_connections: number;
  readonly percent_used: number;
  readonly available_slots: number;
  readonly status: CapacityStatus;
  readonly can_accept_new: boolean;
}

export interface CapacityInput {
  readonly activeConnections: readonly number[];
  /** Of each worker's connections, the idle ones (absent: none known). */
  readonly idleConnections?: readonly number[];
  /** Each worker's most busy connections at once over its last heartbeat interval (absent: not known). */
  readonly peakBusyConnections?: readonly number[];
  /** Each worker's connections refused over its last heartbeat interval (absent: none). */
  readonly refusedInInterval?: readonly number[];
  /** Each worker's idle connections closed to admit new ones over its last heartbeat interval (absent: none). */
  readonly idleClosedInInterval?: readonly number[];
  readonly workers: number;
  /** CORRAL_WORKER_CONNECTIONS, already lowered to what the open-files limit allows (workerConnectionsWithin). */
  readonly workerConnections: number;
  /** CORRAL_MAX_CONNECTIONS; 0 = workers × worker connections. */
  readonly maxConnections: number;
  /**
   * Whether a new connection can be served at all: some worker is ready and beating (as health
   * counts them) and the master is not stopping. False: UNAVAILABLE.
   */
  readonly serving: boolean;
}

/** A worker's connection figures of its last heartbeat (ChildFigures' names). */
export interface WorkerConnectionFigures {
  readonly activeConnections: number;
  readonly idleConnections?: number | undefined;
  readonly peakBusyConnections?: number | undefined;
  readonly connectionsRefusedInInterval?: number | undefined;
  readonly idleClosedInInterval?: number | undefined;
}

/**
 * The workers' connection figures as computeCapacity takes them. `late`: the worker sent no
 * heartbeat for over three beats (its loop blocked, health's not_beating). Its connections are
 * still held and count, but the figures over its last interval (the busy peak, the refusals, the
 * idle closures) are of an interval that ended long ago: a worker that refused connections in its
 * last beat before its loop blocked kept the host FULL, can_accept_new false and the 100 % alert
 * held, while the other workers served with room, until CORRAL_TIMEOUT replaced it. Its busy
 * connections are those it held at that beat.
 */
export function connectionInputs(workers: readonly { readonly figures: WorkerConnectionFigures | undefined; readonly late: boolean }[]): Pick<CapacityInput, 'activeConnections' | 'idleConnections' | 'peakBusyConnections' | 'refusedInInterval' | 'idleClosedInInterval'> {
  const of = (pick: (f: WorkerConnectionFigures, late: boolean) => number | undefined) => workers.map((w) => (w.figures ? (pick(w.figures, w.late) ?? 0) : 0));
  return {
    activeConnections: of((f) => f.activeConnections),
    idleConnections: of((f) => f.idleConnections),
    peakBusyConnections: of((f, late) => (late ? Math.max(0, f.activeConnections - (f.idleConnections ?? 0)) : f.peakBusyConnections)),
    refusedInInterval: of((f, late) => (late ? 0 : f.connectionsRefusedInInterval)),
    idleClosedInInterval: of((f, late) => (late ? 0 : f.idleClosedInInterval)),
  };
}

/**
 * CORRAL_WORKER_CONNECTIONS as the open-files limit lets a worker hold them: a worker past its
 * RLIMIT_NOFILE cannot answer the next connection 503 (accept() fails with EMFILE, and so does its
 * own heartbeat's /proc read), so its cap is kept under it, and the host's with it
 * (fd-limit.ts; the master says so at start, fd_limit.low). `fdCeiling` undefined: no limit known.
 */
export function workerConnectionsWithin(workerConnections: number, fdCeiling: number | undefined): number {
  return fdCeiling === undefined ? workerConnections : Math.max(1, Math.min(workerConnections, fdCeiling));
}

export function maxConnectionsOf(workers: number, workerConnections: number, maxConnections: number): number {
  const product = workers * workerConnections;
  return maxConnections > 0 ? Math.min(maxConnections, product) : product;
}

/** Connections that held their slot over the last interval, as the status counts them. */
export function busyConnections(c: Capacity): number {
  return c.peak_busy_connections;
}

/** Whether every slot is held, idle or not: what the workers enforce (the master's FULL to them). */
export function slotsFull(c: Capacity): boolean {
  return c.current_connections >= c.max_connections;
}

/**
 * The cap a worker enforces on its own, without asking anyone.
 * - round-robin: the master deals connections in turn, so the workers' shares of a lower
 *   host-wide cap add up to it: each gets the cap / workers rounded down, and the first
 *   `cap % workers` by `rank` (0-based) one more. Rounded up for every worker, 5 over 2 workers
 *   let the host hold 6. `rank` undefined: the smaller share (a worker the master has not placed
 *   yet). Below one connection per worker, each holds one all the same (one that refused every
 *   connection the master dealt it would refuse clients while others sit idle).
 * - shared: workers take connections from one socket as they are free, so the spread is uneven
 *   and an even share would refuse early on the busiest worker while others sit idle. With the
 *   host counters' shared table a worker is held to the host's cap alone, through its connection
 *   gauge (worker/connection-gauge.ts; worker/cap-sizes.ts then uses maxConnectionsOf, not this).
 *   Without the table it refuses only over CORRAL_WORKER_CONNECTIONS or the whole host's cap, and
 *   the host-wide count is enforced by the master's FULL broadcast (one heartbeat behind).
 */
export function perWorkerCap(workers: number, workerConnections: number, maxConnections: number, accept: Settings['CORRAL_ACCEPT'] = 'round-robin', rank?: number): number {
  if (maxConnections <= 0) return workerConnections;
  if (accept === 'shared') return Math.max(1, Math.min(workerConnections, maxConnections));
  const n = Math.max(1, workers);
  const share = Math.floor(maxConnections / n) + (rank !== undefined && rank < maxConnections % n ? 1 : 0);
  return Math.max(1, Math.min(workerConnections, share));
}

/** The largest share a worker may be given (perWorkerCap's first rank): what the open-files check sizes. */
export function largestWorkerCap(workers: number, workerConnections: number, maxConnections: number, accept: Settings['CORRAL_ACCEPT'] = 'round-robin'): number {
  return perWorkerCap(workers, workerConnections, maxConnections, accept, 0);
}

export function statusOf(percent: number): LoadStatus {
  if (percent >= 100) return 'FULL';
  if (percent >= 80) return 'WARNING';
  if (percent >= 50) return 'HEALTHY';
  return 'LOW';
}

/** The highest percent_used shown for each status: the next status's threshold minus one decimal. */
const SHOWN_BELOW: Readonly<Record<LoadStatus, number>> = { LOW: 49.9, HEALTHY: 79.9, WARNING: 99.9, FULL: Infinity };

export function computeCapacity(input: CapacityInput): Capacity {
  const max = maxConnectionsOf(input.workers, input.workerConnections, input.maxConnections);
  const current = sum(input.activeConnections);
  // Reported a heartbeat apart from the open count: never more than it.
  const idle = Math.min(current, sum(input.idleConnections));
  const refused = sum(input.refusedInInterval);
  const idleClosed = sum(input.idleClosedInInterval);
  // Each worker's peak came at its own moment: their sum is more than the host held at once when
  // the peaks did not coincide, so it alone never says FULL (every slot busy) — a refusal does,
  // or the busy connections at the beats filling the cap, as before.
  const busy = Math.max(current - idle, Math.min(sum(input.peakBusyConnections), max - 1));
  // A refusal shows every slot taken, whatever the counts read at the beats.
  const counted = refused > 0 ? Math.max(busy, max) : busy;
  const exact = max > 0 ? (counted / max) * 100 : 100;
  // The status comes from the exact ratio: rounding 7996/8000 up to 100.0 % must not say FULL
  // while 4 slots are free.
  const byShare = counted >= max ? 'FULL' : statusOf(Math.min(exact, 99.999));
  // Room was made by closing idle connections: the share says how busy, the status that it is tight.
  const load = idleClosed > 0 && (byShare === 'LOW' || byShare === 'HEALTHY') ? 'WARNING' : byShare;
  // Shown to one decimal, but never rounded up into the next status: not 100 while a slot is free
  // (the ratio gauge says 1 or more = FULL), nor 80.0 while HEALTHY (1599/2000) or 50.0 while LOW.
  const percent = Math.min(Math.round(exact * 10) / 10, SHOWN_BELOW[load]);
  // Unavailable, the connections still held are still shown (stuck workers hold theirs), but no
  // slot is free to a new client.
  const status = input.serving ? load : 'UNAVAILABLE';
  return {
    current_connections: current,
    idle_connections: idle,
    peak_busy_connections: busy,
    refused_last_interval: refused,
    idle_closed_last_interval: idleClosed,
    max_connections: max,
    percent_used: percent,
    // Never below 0: busy passes max when a reload lowers the cap under the connections held.
    available_slots: input.serving ? Math.max(0, max - counted) : 0,
    status,
    can_accept_new: status !== 'FULL' && status !== 'UNAVAILABLE',
  };
}

const sum = (xs: readonly number[] | undefined): number => (xs ?? []).reduce((a, b) => a + b, 0);
