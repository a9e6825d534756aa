// The host's connection cap, exact when workers accept on their own (CORRAL_ACCEPT=shared).
// Each worker counts its open connections in its own gauge in the host counters' shared table
// (counter-table.ts) and reads the host's total in the same call: a connection that would take the
// host over its cap is taken back and refused at once. Without it a worker learns the host's count
// from the master a heartbeat late, and must be held to CORRAL_WORKER_CONNECTIONS on its own,
// which refuses early on the worker the kernel happens to give the most connections.
//
// At the cap a worker gives a new connection the slot of one of its own idle connections
// (connection-cap.ts). One with none idle refuses, while another worker may hold idle ones: it
// then says so in the table (wantRoom), and the workers that have an idle connection close one
// per refusal (takeRoomWanted, from a timer), so the refused client's retry finds a slot.

import type { CounterTable } from '../counter-table.js';

/** How long a refusal for want of room asks for a slot: the client retries after Retry-After (1 s). */
export const ROOM_WANTED_MS = 2000;

export interface HostConnectionGauge {
  /** Counts one more open connection of this worker, unless the host would then hold more than `max`. */
  take(max: number): { readonly taken: boolean; readonly total: number };
  /** A connection counted by take() has closed. */
  release(): void;
  /** The host's open connections now, every worker's (a read, no change). */
  total(): number;
  /** This worker refused a connection at the host's cap `max` with no idle connection of its own. */
  wantRoom(max: number): void;
  /** Whether some worker refused for want of room and no one has made room yet (a read, no change). */
  roomWanted(): boolean;
  /** Takes one refusal to make room for; false when none is waiting. */
  takeRoomWanted(): boolean;
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
    total: () => table.addConnections(index, 0),
    wantRoom(max) {
      table.wantRoom(ROOM_WANTED_MS, max);
    },
    roomWanted: () => table.roomWanted() > 0,
    takeRoomWanted: () => table.takeRoomWanted(),
  };
}
