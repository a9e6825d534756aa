// The host's connection cap, exact when workers accept on their own (CORRAL_ACCEPT=shared).
// Each worker counts its open connections in its own gauge in the host counters' shared table
// (counter-table.ts) and reads the host's total in the same call: a connection that would take the
// host over its cap is taken back and refused at once. Without it a worker learns the host's count
// from the master a heartbeat late, and must be held to CORRAL_WORKER_CONNECTIONS on its own,
// which refuses early on the worker the kernel happens to give the most connections.

import type { CounterTable } from '../counter-table.js';

export interface HostConnectionGauge {
  /** Counts one more open connection of this worker, unless the host would then hold more than `max`. */
  take(max: number): { readonly taken: boolean; readonly total: number };
  /** A connection counted by take() has closed. */
  release(): void;
}

export function hostConnectionGauge(table: CounterTable, index: number): HostConnectionGauge {
  return {
    take(max) {
      const total = table.addConnections(index, 1);
      if (total <= max) return { taken: true, total };
      // Two workers taking the last slot at once may both see it gone and both refuse: the host
      // then refuses one client it had room for, never holds one more than its cap.
      return { taken: false, total: table.addConnections(index, -1) };
    },
    release() {
      table.addConnections(index, -1);
    },
  };
}
