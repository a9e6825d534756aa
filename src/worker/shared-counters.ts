// The worker's host counters: in the table shared with the master and every other worker
// (counter-table.ts), answered at once; a key the table has no room for (or a limit above what it
// counts) goes to the master over IPC (counter-client.ts), as every key did before the table.
// A key is counted in one place at a time (native/host_counters.c says how, and the one race at
// the moment the table fills), so the limits stay exact across workers either way.

import { checkedCounterKey, checkedCounterWindow } from '../counter-args.js';
import type { CounterHit, HostCounters } from '../contract.js';
import type { CounterTable } from '../counter-table.js';

export function createSharedCounters(table: CounterTable, master: HostCounters): HostCounters {
  const count = (key: string, limit: number, options: Parameters<HostCounters['hit']>[2], peek: boolean): Promise<CounterHit> => {
    let hit: CounterHit | undefined;
    try {
      checkedCounterKey(key);
      // In the try too: whatever the addon throws is a rejection, as the API says, not a throw.
      hit = table.count(key, limit, checkedCounterWindow(limit, options), peek);
    } catch (err) {
      return Promise.reject(err);
    }
    if (hit) return Promise.resolve(hit);
    return peek ? master.peek(key, limit, options) : master.hit(key, limit, options);
  };
  return {
    hit: (key, limit, options) => count(key, limit, options, false),
    peek: (key, limit, options) => count(key, limit, options, true),
  };
}
