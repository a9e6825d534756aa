// The host counters' shared table as a worker uses it: opened from the fd the master handed it
// (then closed), its host counters counted there (shared-counters.ts) and, when workers accept on
// their own, its connection gauge (connection-gauge.ts). A file of its own because both come from
// the one table, with one fallback when it is missing: every count goes to the master. Used by
// main.ts at start, before the heartbeat and the app.

import { closeSync } from 'node:fs';
import { readConnectionGauge, readCounterTableFd } from '../config/identity.js';
import type { Settings } from '../config/schema.js';
import type { HostCounters } from '../contract.js';
import { openCounterTable, type CounterTable } from '../counter-table.js';
import { describeError, codeOf } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { hostConnectionGauge, type HostConnectionGauge } from './connection-gauge.js';
import { createSharedCounters } from './shared-counters.js';

export interface SharedTableUse {
  /** The table's counters, the master counting what it has no room for; `counters` without it. */
  readonly hostCounters: HostCounters;
  /** This worker's gauge of the host's connections: shared accept with the table only. */
  readonly gauge: HostConnectionGauge | undefined;
}

/** `counters`: the master's, over IPC (counter-client.ts). */
export function useSharedTable(logger: Logger, counters: HostCounters, accept: Settings['CORRAL_ACCEPT']): SharedTableUse {
  const table = openSharedTable(logger);
  const hostCounters = table ? createSharedCounters(table, counters) : counters;
  // Workers that accept on their own are held to the host's cap through their gauges, exactly and
  // at once; round-robin's even shares of it already add up to it exactly.
  const gaugeIndex = readConnectionGauge();
  const gauge: HostConnectionGauge | undefined =
    table && gaugeIndex !== undefined && gaugeIndex < table.gauges && accept === 'shared' ? hostConnectionGauge(table, gaugeIndex) : undefined;
  return { hostCounters, gauge };
}

/**
 * The shared table the master handed this worker: its host counters (the master counting what the
 * table has no room for) and its connection gauge. Without it, every count goes to the master.
 */
function openSharedTable(logger: Logger): CounterTable | undefined {
  const fd = readCounterTableFd();
  if (fd === undefined) return undefined;
  try {
    return openCounterTable(fd);
  } catch (err) {
    const d = describeError(err);
    logger.warn({ event: 'counters.table_unavailable', code: codeOf(d, 'CORRAL_ERR_COUNTER_TABLE'), err: d.message }, 'host counters: cannot open the shared table; counting through the master');
    return undefined;
  } finally {
    // The mapping outlives the fd. Left open, it would be inherited by every process the app
    // spawns (the fd came without close-on-exec), and those could write in the host's counts.
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
