// The keeper's figures (keeper.ts's figures(), the `extra` of its heartbeat, read by the admin
// API, /metrics, health and `corral status`): assembled from its parts, the read tier's and the
// flusher's own figures, the upstream calls, the quota left and queued (the shared window's waits
// counted in), the journal's backlog and whether appends are taken, the idempotency keys, and the
// Redis link's. A file of its own: the keeper's parts each count; what a figure means, and why it
// is counted as it is, is said here in one place.

import type { SheetsBackend } from '../backend.js';
import type { AppendOutcomes } from './append-outcomes.js';
import type { Clock } from './clock.js';
import type { Flusher } from './flusher.js';
import type { Journal } from './journal.js';
import type { QuotaBucket } from './quota.js';
import type { ReadAnswers } from './read-answers.js';
import type { ReadTier } from './read-tier.js';
import type { KeeperServer } from './server.js';
import type { SheetSharing } from './sheet-sharing.js';
import type { UpstreamMeter } from './upstream-meter.js';

/** The keeper's parts its figures are read from. */
export interface FigureSources {
  readonly backend: SheetsBackend;
  readonly tier: ReadTier;
  readonly flusher: Flusher;
  readonly meter: UpstreamMeter;
  readonly readQuota: QuotaBucket;
  readonly writeQuota: QuotaBucket;
  readonly journal: Journal;
  readonly appends: AppendOutcomes;
  readonly reads: ReadAnswers;
  readonly server: KeeperServer | undefined;
  readonly sharing: SheetSharing | undefined;
  readonly clock: Clock;
}

/** Calls of `kind` holding this host's token but waiting on the window shared through Redis. */
function sharedWaits(k: FigureSources, kind: 'read' | 'write'): number {
  return k.sharing?.quota.waitingOn(kind) ?? 0;
}

/** The `extra` figures of the keeper's heartbeat. */
export function keeperFigures(k: FigureSources): Record<string, number | string | boolean | null> {
  const stuckMs = k.journal.syncStuckFor();
  return {
    backend: k.backend.kind,
    ...k.tier.figures(),
    ...k.flusher.figures(),
    // Every call that reached the backend, retries and read-backs included (the meter counts
    // each quota token paid), so it agrees with the per-minute figure.
    upstreamCallsTotal: k.meter.total('read') + k.meter.total('write'),
    upstreamCallsPerMinute: k.meter.perMinute('read') + k.meter.perMinute('write'),
    upstreamReadsPerMinute: k.meter.perMinute('read'),
    upstreamWritesPerMinute: k.meter.perMinute('write'),
    // With the quota shared, a call waiting on the shared window means none is left for now,
    // whatever this host's own bucket holds; and it waits as much as one queued here.
    readTokensLeft: sharedWaits(k, 'read') > 0 ? 0 : k.readQuota.tokensLeft(),
    writeTokensLeft: sharedWaits(k, 'write') > 0 ? 0 : k.writeQuota.tokensLeft(),
    readQueue: k.readQuota.queued() + sharedWaits(k, 'read'),
    // Read grants that went ahead of earlier waiters: reads a client waited for, served before
    // background refreshes (read-cause.ts).
    readGrantsAhead: k.readQuota.stats().ahead,
    journalBacklogRows: k.journal.backlogRows(),
    // Rows journaled for another sheet (SHEET_ID changed while they waited): never sent here.
    journalHeldRows: k.journal.heldRows(),
    // Appends refused because the journal could not be written (disk full), or while a write of it
    // hangs: the app answers them 503 not_saved. journalWritable is false from a refusal until an
    // append is written again, and while a write has been in flight SYNC_STUCK_MS
    // (journalSyncStuckSeconds, over 0 then: health's `journal: sync_stuck`), from its tenth
    // second, with or without an append refused, until it returns.
    journalWritable: !k.appends.writeFailures.failing && stuckMs === undefined,
    journalSyncStuckSeconds: stuckMs === undefined ? 0 : Math.floor(stuckMs / 1000),
    journalAppendsRefused: k.appends.writeFailures.refused + k.journal.appendsRefusedStuck(),
    // The backlog against its cap (SHEETS_JOURNAL_MAX_MB): at the cap appends are refused,
    // answered 503 not_saved, counted in journalAppendsRefusedFull. journalFull (health's
    // `journal: full`, `corral status`) ends as soon as the flusher has brought the backlog under
    // the cap, when the next append would be journaled, not only once one is: the backlog
    // drained overnight left health degraded until the first player's event.
    journalBacklogBytes: k.journal.backlogBytes(),
    journalBacklogMaxBytes: k.journal.backlogCapBytes,
    journalFull: k.appends.backlogFull.full && k.journal.backlogBytes() >= k.journal.backlogCapBytes,
    journalAppendsRefusedFull: k.appends.backlogFull.refused,
    journalOldestRowSeconds: oldestBacklogSeconds(k),
    journalBytes: k.journal.fileBytes(),
    journalFsyncs: k.journal.fsyncs(),
    idempotencyKeys: k.journal.idempotencyFigures().keys,
    idempotencyKeysEvicted: k.journal.idempotencyFigures().evicted,
    idempotencyKeysEvictedByPlayerShare: k.journal.idempotencyFigures().ownerEvicted,
    keeperRequests: k.server?.stats().requests ?? 0,
    // Reads of a copy the worker held whose rows had not changed: answered without them.
    unchangedAnswers: k.reads.unchangedAnswers,
    // Absent without REDIS_URL (an absent series reads as "not used", a 0 as "down").
    ...k.sharing?.figures(),
  };
}

/**
 * Age of the oldest journaled row Google does not have yet (0 with none). The backlog's row
 * count cannot tell a busy minute from rows stuck for hours behind a failing append; this can,
 * and is what an alert on the write path watches.
 */
function oldestBacklogSeconds(k: FigureSources): number {
  const oldest = k.journal.oldestBacklogAt();
  return oldest === undefined ? 0 : Math.max(0, Math.floor((k.clock.now() - oldest) / 1000));
}
