// Which connection gauge of the host counters' table each live worker counts its open
// connections in (worker/connection-gauge.ts). A gauge is zeroed when its worker has exited and
// only then given to another: a worker killed with connections open leaves none counted, and no
// two live workers ever share one.

import type { CounterTable } from '../counter-table.js';

export interface ConnectionGauges {
  /** A free gauge for a worker about to be forked; undefined when every one is taken. */
  acquire(): number | undefined;
  /** The worker holding `index` has exited: zero its gauge and free it. */
  release(index: number): void;
}

export function createConnectionGauges(table: CounterTable): ConnectionGauges {
  const taken = new Set<number>();
  return {
    acquire() {
      // The lowest free one: a host's totals then read no further than its busiest moment needed.
      for (let i = 0; i < table.gauges; i++) {
        if (taken.has(i)) continue;
        taken.add(i);
        return i;
      }
      return undefined;
    },
    release(index) {
      if (!taken.delete(index)) return;
      table.resetGauge(index);
    },
  };
}
