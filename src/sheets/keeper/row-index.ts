// Row ids the journal holds, per tab: what makes a client retrying an identical append harmless
// (its rows are recognised and not journaled twice) and a reused id with other content refused.
// Rows are indexed before their add record is durable, so concurrent identical retries are caught;
// such a retry must then wait on (and fail with) that record's write: acknowledging it earlier
// would promise rows a crash can still lose.

import { appendInvalid } from './journal-rows.js';
import type { JournalEntry } from './journal-replay.js';

export interface RowMatch {
  /** Rows whose id the journal does not hold yet. */
  readonly fresh: string[][];
  /** The entry holding the first recognised row, if any. */
  readonly firstKnown: string | undefined;
  /** Writes of the entries holding recognised rows that are not durable yet. */
  readonly inFlight: ReadonlySet<Promise<void>>;
}

export class RowIndex {
  /** sheet → row id → [entry id, row as JSON], for live and retained done entries. */
  private readonly ids = new Map<string, Map<string, [string, string]>>();
  /** entry id → the write of its add record, while that is still running. */
  private readonly writes = new Map<string, Promise<void>>();

  add(e: JournalEntry): void {
    let m = this.ids.get(e.sheet);
    if (!m) this.ids.set(e.sheet, (m = new Map()));
    for (const row of e.rows) m.set(row[0] ?? '', [e.id, JSON.stringify(row)]);
  }

  remove(e: JournalEntry): void {
    this.writes.delete(e.id);
    const m = this.ids.get(e.sheet);
    if (m) for (const row of e.rows) if (m.get(row[0] ?? '')?.[0] === e.id) m.delete(row[0] ?? '');
  }

  writing(entryId: string, write: Promise<void>): void {
    this.writes.set(entryId, write);
  }

  written(entryId: string): void {
    this.writes.delete(entryId);
  }

  /** Splits rows into fresh and recognised ones; an id held with other content is refused. */
  match(sheet: string, rows: readonly string[][]): RowMatch {
    const known = this.ids.get(sheet);
    const fresh: string[][] = [];
    let firstKnown: string | undefined;
    const inFlight = new Set<Promise<void>>();
    for (const row of rows) {
      const hit = known?.get(row[0] ?? '');
      if (!hit) {
        fresh.push(row);
        continue;
      }
      if (hit[1] !== JSON.stringify(row)) {
        throw appendInvalid(`row id ${JSON.stringify(row[0])} is already journaled for ${JSON.stringify(sheet)} with different content`);
      }
      firstKnown ??= hit[0];
      const write = this.writes.get(hit[0]);
      if (write) inFlight.add(write);
    }
    return { fresh, firstKnown, inFlight };
  }
}
