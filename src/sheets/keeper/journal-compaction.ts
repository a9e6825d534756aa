// Rewriting the journal file with only what it must keep (snapshotRecords), and when: at open, and
// after a state change once the file has passed `baseBytes` (then not again until it doubled). A
// rewrite that fails costs only room: the caller's change is durable already, and the next
// attempt waits for another `baseBytes` of growth.

import type { IdempotencyKeys } from './idempotency-keys.js';
import type { JournalFile, JournalRecord } from './journal-file.js';
import type { JournalEntry } from './journal-replay.js';

/**
 * The records a rewrite keeps: the keys, then every durable entry in its current state. Their times
 * are the keeper's clock's, as in memory: JournalFile writes them on the wall clock
 * (journal-wall-time.ts), as it does every appended record.
 */
export function snapshotRecords(keys: IdempotencyKeys, entries: Iterable<JournalEntry>, now: number): JournalRecord[] {
  // Keys first: each outlives its entry, so it is written on its own, with its first time.
  const out: JournalRecord[] = keys.snapshot(now);
  for (const e of entries) {
    if (!e.durable) continue;
    out.push({ k: 'add', id: e.id, r: e.range, rows: e.rows, at: e.at, d: e.destination, ...(e.header ? { h: e.header } : {}) });
    // Done entries still retained (trimDone) are kept done, with their time: their row ids are
    // what recognises a client's retry of an append whose answer a crash swallowed. Left out,
    // a second restart forgot them and such a retry was appended to the sheet again.
    if (e.state === 'done') out.push({ k: 'done', ids: [e.id], at: e.doneAt ?? e.at, how: 'kept' });
    // 'sending' is written as sent: the append may be on its way, so a crash must read back.
    // With the send's own time: the read-back after a restart is due SHEETS_UNSURE_DELAY after it.
    else if (e.state === 'unsure' || e.state === 'sending') out.push({ k: 'send', ids: [e.id], at: e.sentAt ?? e.at });
  }
  return out;
}

export interface CompactionOptions {
  /** Compact once the file passes this many bytes. */
  readonly baseBytes: number;
  /** Told when a rewrite failed, with the file's size (JournalOptions.onCompactionFailed). */
  readonly onFailed?: (err: Error, bytes: number) => void;
}

export class JournalCompaction {
  private compactAt: number;
  private running: Promise<void> | undefined;

  constructor(
    private readonly file: JournalFile,
    private readonly snapshot: () => readonly JournalRecord[],
    private readonly o: CompactionOptions,
  ) {
    this.compactAt = o.baseBytes;
  }

  /** Rewrites the file now (sharing a rewrite in progress); fails when the rewrite does. */
  async now(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.file.rewrite(this.snapshot).finally(() => {
      this.running = undefined;
    });
    await this.running;
    // Mostly live data: do not rewrite again until the file doubled.
    this.compactAt = Math.max(this.o.baseBytes, this.file.bytes() * 2);
  }

  /** After a state change: rewrites when the file has grown past its mark, never failing. */
  async ifGrown(): Promise<void> {
    if (this.file.bytes() <= this.compactAt) return;
    await this.orReport();
  }

  /** Rewrites now; a failure is reported, not thrown. */
  async orReport(): Promise<void> {
    try {
      await this.now();
    } catch (err) {
      // The state change that called this is durable already: a failed rewrite must not fail it
      // (the flusher reported an applied append's done record as lost, and a read-back left the
      // entries it found absent unsure, to be read back again). Nor may the next change try again
      // at once: each attempt writes a whole copy of the journal, which on a disk short of space
      // takes the room the appends need.
      this.compactAt = this.file.bytes() + this.o.baseBytes;
      this.o.onFailed?.(err as Error, this.file.bytes());
    }
  }

  /** Resolves once no rewrite is running (for close). */
  async settled(): Promise<void> {
    await this.running?.catch(() => undefined);
  }
}
