// What an append must look like before the journal takes it: a range naming a tab, and rows whose
// first cell is an id unique in that tab (the journal's de-duplication and read-back match on it).

import { CorralError } from '../../errors.js';
import { parseA1 } from '../a1.js';

/** The tab a range writes to or reads from; '' for ranges that name no tab (the first tab). */
export function sheetKey(range: string): string {
  return parseA1(range).sheet ?? '';
}

export function appendInvalid(message: string, cause?: unknown): CorralError {
  return new CorralError('CORRAL_ERR_APPEND_INVALID', message, cause === undefined ? undefined : { cause });
}

/** Checks the wire shape of rows and that each has a non-empty, distinct id in its first cell. */
export function validateRows(rows: unknown): string[][] {
  if (!Array.isArray(rows) || rows.length === 0) throw appendInvalid('rows must be a non-empty list of rows');
  const seen = new Set<string>();
  return rows.map((row, i) => {
    if (!Array.isArray(row) || row.length === 0) throw appendInvalid(`row ${i} must be a non-empty list of cells`);
    const cells = row.map((c, j) => {
      if (typeof c !== 'string') throw appendInvalid(`row ${i} cell ${j} must be a string`);
      return c;
    });
    const id = cells[0] ?? '';
    if (id.trim() === '') throw appendInvalid(`row ${i} has no id in its first cell (the journal de-duplicates by it)`);
    if (seen.has(id)) throw appendInvalid(`row id ${JSON.stringify(id)} appears twice in one append`);
    seen.add(id);
    return cells;
  });
}
