// Host-wide capacity, as the operators' system-limits guide defines it: active connections summed
// over workers against CORRAL_MAX_CONNECTIONS (or workers × worker connections).

import type { Settings } from '../config/schema.js';

export type CapacityStatus = 'LOW' | 'HEALTHY' | 'WARNING' | 'FULL';

/** The seeds' `/api/admin/capacity` shape. */
export interface Capacity {
  readonly current_connections: number;
  readonly max_connections: number;
  readonly percent_used: number;
  readonly available_slots: number;
  readonly status: CapacityStatus;
  readonly can_accept_new: boolean;
}

export interface CapacityInput {
  readonly activeConnections: readonly number[];
  readonly workers: number;
  readonly workerConnections: number;
  /** CORRAL_MAX_CONNECTIONS; 0 = workers × worker connections. */
  readonly maxConnections: number;
}

export function maxConnectionsOf(workers: number, workerConnections: number, maxConnections: number): number {
  const product = workers * workerConnections;
  return maxConnections > 0 ? Math.min(maxConnections, product) : product;
}

/**
 * The cap a worker enforces on its own, without asking anyone.
 * - round-robin: the master deals connections in turn, so each worker's even share of a lower
 *   host-wide cap adds up to that cap exactly.
 * - shared: workers take connections from one socket as they are free, so the spread is uneven
 *   and an even share would refuse early on the busiest worker while others sit idle. With the
 *   host counters' shared table a worker is held to the host's cap alone, through its connection
 *   gauge (worker/connection-gauge.ts; worker/main.ts then uses maxConnectionsOf, not this).
 *   Without the table it refuses only over CORRAL_WORKER_CONNECTIONS or the whole host's cap, and
 *   the host-wide count is enforced by the master's FULL broadcast (one heartbeat behind).
 */
export function perWorkerCap(workers: number, workerConnections: number, maxConnections: number, accept: Settings['CORRAL_ACCEPT'] = 'round-robin'): number {
  if (maxConnections <= 0) return workerConnections;
  if (accept === 'shared') return Math.max(1, Math.min(workerConnections, maxConnections));
  return Math.max(1, Math.min(workerConnections, Math.ceil(maxConnections / Math.max(1, workers))));
}

export function statusOf(percent: number): CapacityStatus {
  if (percent >= 100) return 'FULL';
  if (percent >= 80) return 'WARNING';
  if (percent >= 50) return 'HEALTHY';
  return 'LOW';
}

/** The highest percent_used shown for each status: the next status's threshold minus one decimal. */
const SHOWN_BELOW: Readonly<Record<CapacityStatus, number>> = { LOW: 49.9, HEALTHY: 79.9, WARNING: 99.9, FULL: Infinity };

export function computeCapacity(input: CapacityInput): Capacity {
  const max = maxConnectionsOf(input.workers, input.workerConnections, input.maxConnections);
  const current = input.activeConnections.reduce((a, b) => a + b, 0);
  const exact = max > 0 ? (current / max) * 100 : 100;
  // The status comes from the exact ratio: rounding 7996/8000 up to 100.0 % must not say FULL
  // while 4 slots are free.
  const status = current >= max ? 'FULL' : statusOf(Math.min(exact, 99.999));
  // Shown to one decimal, but never rounded up into the next status: not 100 while a slot is free
  // (the ratio gauge says 1 = FULL), nor 80.0 while HEALTHY (1599/2000) or 50.0 while LOW.
  const percent = Math.min(Math.round(exact * 10) / 10, SHOWN_BELOW[status]);
  return {
    current_connections: current,
    max_connections: max,
    percent_used: percent,
    available_slots: max - current,
    status,
    can_accept_new: status !== 'FULL',
  };
}
