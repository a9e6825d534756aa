// What a child's exit means, counted and said once: one the master asked for (a stop, a drain, a
// kill), the keeper's crash, a worker that never became ready (a failed boot), or a worker's
// crash after ready. The counts go to the crash ledgers, whose backoff holds the next fork; the
// requests an exited worker served are kept in the totals the admin API adds to the live ones'.

import { BOOT_FAILURE_EXITS } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { CrashLedger } from './crash-ledger.js';
import type { KeeperCrashLedger } from './keeper-crash-ledger.js';
import type { ChildRecord } from './registry.js';

export interface ChildExit {
  readonly record: ChildRecord;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What exited workers served, for the totals (their figures leave with them). */
export interface ServedTotals {
  requests: number;
  errors: number;
  refused: number;
  idleClosed: number;
}

export function addServed(totals: ServedTotals, c: ChildRecord): void {
  if (c.role !== 'worker') return;
  totals.requests += c.figures?.requestsServed ?? 0;
  totals.errors += c.figures?.errorsServed ?? 0;
  totals.refused += c.figures?.connectionsRefused ?? 0;
  totals.idleClosed += c.figures?.idleConnectionsClosed ?? 0;
}

export interface ExitAccounts {
  readonly crashes: CrashLedger;
  readonly keeperCrashes: KeeperCrashLedger;
  readonly log: Logger;
}

export function accountExit(e: ChildExit, now: number, a: ExitAccounts): void {
  const { record: c, code, signal } = e;
  const { crashes, log } = a;
  const fields = { event: `${c.role}.exit`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, code, signal, reason: c.stopReason ?? null };
  if (c.stopReason !== undefined) {
    log.info(fields, `${c.role} ${c.id} exited (${c.stopReason})`);
    return;
  }
  if (c.role === 'keeper') {
    const delay = a.keeperCrashes.exited(c.readyAt, c.bootError ?? { code: 'CORRAL_ERR_KEEPER_UNAVAILABLE', message: `keeper exited with code ${code} signal ${signal}` }, now);
    log.error(
      { ...fields, boot_error: c.bootError ?? null, crash_loop: a.keeperCrashes.quickCrashes, respawn_in_ms: delay },
      `keeper exited unexpectedly (code ${code}, signal ${signal}); restarting`,
    );
    return;
  }
  if (c.readyAt === undefined) {
    const bootError = c.bootError ?? { code: 'CORRAL_ERR_APP_LOAD', message: `worker exited with code ${code} signal ${signal} before it was ready` };
    crashes.bootFailed(c.forkBatch, bootError, now);
    const kind = code !== null && BOOT_FAILURE_EXITS.has(code) ? 'cannot boot' : 'failed to boot';
    log.error({ ...fields, event: 'worker.boot_failed', failures: crashes.bootFailures, boot_error: bootError }, `worker ${c.id} ${kind}: ${bootError.message}`);
    return;
  }
  if (c.crashCounted) {
    // Its uncaught exception was counted when it was reported; it gave up waiting for the
    // master's drain (or died meanwhile). Counting the exit too would double its backoff.
    log.error({ ...fields, crash_loop: crashes.quickCrashes }, `worker ${c.id} (pid ${c.handle.pid}) exited after an uncaught exception (code ${code}, signal ${signal})`);
    return;
  }
  const { uptime, delay, sharedWith } = crashes.crashed(c, now);
  log.error(
    { ...fields, uptime_ms: uptime, crash_loop: crashes.quickCrashes, respawn_in_ms: delay, crash_counted: sharedWith === undefined },
    sharedWith === undefined
      ? `worker ${c.id} (pid ${c.handle.pid}) died unexpectedly (code ${code}, signal ${signal}); replacing`
      : `worker ${c.id} (pid ${c.handle.pid}) died unexpectedly (code ${code}, signal ${signal}) along with worker ${sharedWith}, counted once; replacing`,
  );
}
