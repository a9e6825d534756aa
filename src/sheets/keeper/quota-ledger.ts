// The quota buckets' grants of the last minute, kept in the data dir. The buckets live in the
// keeper's memory; without this file a keeper started after a crash, a kill -9 or a reload that
// restarts it would hand out a fresh minute of tokens in a minute its predecessor had already
// spent, and that minute would hold up to twice the quota (the promise is that no 60 s window
// holds more than SHEETS_*_PER_MINUTE calls).
//
// The file is rewritten (temporary file, then rename) on every grant, before the call it pays
// for leaves: at most SHEETS_READS_PER_MINUTE + SHEETS_WRITES_PER_MINUTE small writes a minute.
// It is not fsynced: it must outlive the keeper process, and a host that reboots has been down
// for longer than the window anyway.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.js';
import type { QuotaBucket } from './quota.js';

export const QUOTA_LEDGER_FILE = 'quota.json';

/** The buckets a ledger keeps, by the name their grants have in the file. */
export type LedgerBuckets = Readonly<Record<'reads' | 'writes', QuotaBucket>>;

export interface LedgerContents {
  readonly reads: readonly number[];
  readonly writes: readonly number[];
}

const EMPTY: LedgerContents = { reads: [], writes: [] };

function timesOf(value: unknown): number[] {
  return Array.isArray(value) ? value.filter((t): t is number => typeof t === 'number' && Number.isFinite(t)) : [];
}

/**
 * What a previous keeper recorded. A missing file is a first start; an unreadable or malformed
 * one is reported through `problem` and counts as empty (the quota then starts fresh, as it did
 * before this file existed).
 */
export function readLedger(path: string): { contents: LedgerContents; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contents: EMPTY };
    return { contents: EMPTY, problem: (err as Error).message };
  }
  try {
    const parsed = JSON.parse(text) as { v?: unknown; reads?: unknown; writes?: unknown };
    if (parsed.v !== 1) return { contents: EMPTY, problem: `unknown ledger version ${JSON.stringify(parsed.v)}` };
    return { contents: { reads: timesOf(parsed.reads), writes: timesOf(parsed.writes) } };
  } catch (err) {
    return { contents: EMPTY, problem: `not JSON: ${(err as Error).message}` };
  }
}

export class QuotaLedger {
  readonly path: string;
  private readonly tmpPath: string;
  private lastFailureLog = 0;

  private constructor(
    dataDir: string,
    private readonly buckets: LedgerBuckets,
    private readonly logger: Logger,
  ) {
    this.path = join(dataDir, QUOTA_LEDGER_FILE);
    this.tmpPath = `${this.path}.tmp`;
  }

  /**
   * Restores the buckets from the file in `dataDir` and records every grant from now on. Call it
   * while holding the data dir's keeper lock, before any grant.
   */
  static open(dataDir: string, buckets: LedgerBuckets, logger: Logger): QuotaLedger {
    const ledger = new QuotaLedger(dataDir, buckets, logger);
    const { contents, problem } = readLedger(ledger.path);
    if (problem) logger.warn({ event: 'quota.ledger_unreadable', path: ledger.path, problem }, 'quota ledger unreadable; the quota starts from a fresh minute');
    buckets.reads.restore(contents.reads);
    buckets.writes.restore(contents.writes);
    const restored = { reads: buckets.reads.recentGrants().length, writes: buckets.writes.recentGrants().length };
    if (restored.reads + restored.writes > 0) {
      logger.info({ event: 'quota.restored', ...restored }, "quota: the previous keeper's calls of the last minute still count");
    }
    buckets.reads.setGrantListener(() => ledger.save());
    buckets.writes.setGrantListener(() => ledger.save());
    return ledger;
  }

  private save(): void {
    const contents = { v: 1, reads: this.buckets.reads.recentGrants(), writes: this.buckets.writes.recentGrants() };
    try {
      writeFileSync(this.tmpPath, JSON.stringify(contents));
      renameSync(this.tmpPath, this.path);
    } catch (err) {
      // Pacing goes on from memory; only a restart within the minute would overspend.
      const now = Date.now();
      if (now - this.lastFailureLog > 60_000) {
        this.lastFailureLog = now;
        this.logger.warn({ event: 'quota.ledger_unwritable', path: this.path, err: (err as Error).message }, 'cannot write the quota ledger; a keeper restart within a minute may exceed the quota');
      }
    }
  }

  /** Stops recording (the keeper is closing). Idempotent. */
  close(): void {
    this.buckets.reads.setGrantListener(undefined);
    this.buckets.writes.setGrantListener(undefined);
  }
}
