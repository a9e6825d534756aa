// What an append must look like before the journal takes it: a range naming a tab, and rows whose
// first cell is an id unique in that tab (the journal's de-duplication and read-back match on it).

import { CorralError } from '../../errors.js';
import { formatArea, parseA1 } from '../a1.js';
import { tabKey, tabKeyOfRange } from '../tab-key.js';

/**
 * The key of the tab a range writes to or reads from, one for every case its name is written in
 * (tab-key.ts); '' for ranges that name no tab (the first tab).
 */
export function sheetKey(range: string): string {
  return tabKeyOfRange(range);
}

/**
 * The key of the cells a range writes to: its tab's key and its cells, one for every spelling of
 * the same range (`Events!A:E`, `events!a:e`, `'Events'!A:E`), which land rows in the same place
 * and so are one target of the flusher (journal-entries.ts). Throws as sheetKey does.
 */
export function rangeKeyOf(range: string): string {
  const { sheet, area } = parseA1(range);
  return `${tabKey(sheet)}!${area ? formatArea(area) : ''}`;
}

/** The journal's key of the tab a range reads (the range itself when it does not parse). */
export function sheetOfRange(range: string): string {
  try {
    return sheetKey(range);
  } catch {
    return range;
  }
}

export function appendInvalid(message: string, cause?: unknown): CorralError {
  return new CorralError('CORRAL_ERR_APPEND_INVALID', message, cause === undefined ? undefined : { cause });
}

/**
 * Google refuses a whole values:append (400 "Your input contains more than the maximum of 50000
 * characters in a single cell") for one cell longer than this: refused here, before the rows are
 * acknowledged, since once journaled such a row could never be written.
 */
export const GOOGLE_MAX_CELL_CHARS = 50_000;

/**
 * Checks the wire shape of rows, that each has a non-empty, distinct id in its first cell, and
 * that no cell is longer than Google takes.
 */
export function validateRows(rows: unknown): string[][] {
  if (!Array.isArray(rows) || rows.length === 0) throw appendInvalid('rows must be a non-empty list of rows');
  const seen = new Set<string>();
  return rows.map((row, i) => {
    if (!Array.isArray(row) || row.length === 0) throw appendInvalid(`row ${i} must be a non-empty list of cells`);
    const cells = row.map((c, j) => {
      if (typeof c !== 'string') throw appendInvalid(`row ${i} cell ${j} must be a string`);
      if (c.length > GOOGLE_MAX_CELL_CHARS) throw appendInvalid(`row ${i} cell ${j} has ${c.length} characters; Google Sheets takes at most ${GOOGLE_MAX_CELL_CHARS} in a cell`);
      return c;
    });
    const id = cells[0] ?? '';
    if (id.trim() === '') throw appendInvalid(`row ${i} has no id in its first cell (the journal de-duplicates by it)`);
    if (seen.has(id)) throw appendInvalid(`row id ${JSON.stringify(id)} appears twice in one append`);
    seen.add(id);
    return cells;
  });
}

/** Most cells of a header row an append may give: Google's column limit (18,278 columns, A to ZZZ). */
export const HEADER_CELLS_MAX = 18_278;

/**
 * Checks the header row an append's rows were built under (header-mapping.ts): cells as Google
 * takes them, a first cell naming the id column, and no row wider than the header (a cell with no
 * column name could not be placed when the tab's header changed).
 */
export function validateHeader(header: unknown, rows: readonly (readonly string[])[]): string[] {
  if (!Array.isArray(header) || header.length === 0) throw appendInvalid('header must be a non-empty list of the header row\'s cells');
  if (header.length > HEADER_CELLS_MAX) throw appendInvalid(`header has ${header.length} cells; a sheet has at most ${HEADER_CELLS_MAX} columns`);
  const cells = header.map((c, j) => {
    if (typeof c !== 'string') throw appendInvalid(`header cell ${j} must be a string`);
    if (c.length > GOOGLE_MAX_CELL_CHARS) throw appendInvalid(`header cell ${j} has ${c.length} characters; Google Sheets takes at most ${GOOGLE_MAX_CELL_CHARS} in a cell`);
    return c;
  });
  if (cells[0]!.trim() === '') throw appendInvalid('header cell 0 must name the id column (the rows\' ids are found in the first column)');
  rows.forEach((row, i) => {
    if (row.length > cells.length) throw appendInvalid(`row ${i} has ${row.length} cells, more than the ${cells.length} of its header`);
  });
  return cells;
}

/**
 * About how many bytes an entry's rows take in the journal (its add record: the cells as JSON,
 * plus the record's id, range, time and checksum). What SHEETS_JOURNAL_MAX_MB caps: it is what a
 * restart replays and, give or take a factor, what the keeper holds in memory.
 */
export function entryBytes(rows: readonly (readonly string[])[], header?: readonly string[]): number {
  // `,"` + `"` per cell, `[]` and a comma per row; 200 for the record around them (a UUID, the
  // range, the time, the sheet's digest, the checksum); the header row like one more row.
  let n = 200;
  if (header) {
    n += 3;
    for (const cell of header) n += Buffer.byteLength(cell, 'utf8') + 3;
  }
  for (const row of rows) {
    n += 3;
    for (const cell of row) n += Buffer.byteLength(cell, 'utf8') + 3;
  }
  return n;
}
