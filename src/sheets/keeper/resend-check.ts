// Rows a read-back found absent and resent: Google may still have applied the first append after
// corral gave up on it (a request it processes past our deadline and past SHEETS_UNSURE_DELAY),
// and then the sheet holds them twice. Nothing can undo that from here; it can be found. One more
// read of the ids, SHEETS_UNSURE_DELAY after the resend, says which rows came twice and where
// (`sheets.duplicate_rows`), so that an operator deletes one of each: nothing said it before.

import type { Logger } from '../../log/logger.js';

/** Ids held for a check per range at most: a flood of resends keeps the latest. */
const MAX_IDS_PER_RANGE = 10_000;

interface Pending {
  readonly ids: Set<string>;
  /** When to read (the keeper's clock). */
  at: number;
}

export class ResendCheck {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly logger: Logger,
    private readonly delayMs: number,
  ) {}

  /** Rows of `range` resent after a read-back did not find them (their ids, the first cells), at `now`. */
  resent(range: string, ids: readonly string[], now: number): void {
    const p = this.pending.get(range) ?? { ids: new Set<string>(), at: 0 };
    for (const id of ids) if (id !== '') p.ids.add(id);
    while (p.ids.size > MAX_IDS_PER_RANGE) p.ids.delete(p.ids.values().next().value as string);
    // The latest resend's delay: a late first append lands within it.
    p.at = now + this.delayMs;
    this.pending.set(range, p);
  }

  /** The ranges whose check is due at `now`. */
  due(now: number): string[] {
    return [...this.pending].filter(([, p]) => p.at <= now).map(([range]) => range);
  }

  /** A read that failed: tried again after the delay. */
  later(range: string, now: number): void {
    const p = this.pending.get(range);
    if (p) p.at = now + this.delayMs;
  }

  /** The range's id column as read (its first cells, row 1 first): says the rows resent that it holds twice. */
  settle(range: string, column: readonly string[]): void {
    const p = this.pending.get(range);
    if (!p) return;
    this.pending.delete(range);
    const rowsOf = new Map<string, number[]>();
    column.forEach((id, i) => {
      if (p.ids.has(id)) rowsOf.set(id, [...(rowsOf.get(id) ?? []), i + 1]);
    });
    const twice = [...rowsOf].filter(([, rows]) => rows.length > 1);
    if (twice.length === 0) return;
    const shown = twice.slice(0, 20).map(([id, rows]) => ({ id, rows }));
    this.logger.error(
      { event: 'sheets.duplicate_rows', code: 'CORRAL_ERR_SHEETS_DUPLICATE_ROWS', range, ids: twice.length, duplicates: shown },
      `sheets: ${twice.length} row${twice.length === 1 ? '' : 's'} of ${range} ${twice.length === 1 ? 'is' : 'are'} in the sheet twice (${shown.map((d) => `${d.id} at rows ${d.rows.join(' and ')}`).join('; ')}${twice.length > shown.length ? '; ...' : ''}): ` +
        'Google applied an append after corral gave up on it and a read-back had not found it, so it was sent again; delete one row of each (the same id); raise SHEETS_UNSURE_DELAY if this recurs',
    );
  }
}
