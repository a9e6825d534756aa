// Where values.append writes: the tables of a tab, found from the data cells of the range it is
// given, as the Sheets guide shows them (see lastTable).

import type { Rect, Tab } from './store.js';

/** Whether row r holds data in columns from..to (clamped to the grid). */
function rowHasData(tab: Tab, r: number, from: number, to: number): boolean {
  const row = tab.rows[r - 1];
  if (!row) return false;
  for (let c = Math.max(1, from); c <= Math.min(to, row.length); c += 1) if (row[c - 1] !== '') return true;
  return false;
}

/** Whether column c holds data in rows from..to (clamped to the grid). */
function colHasData(tab: Tab, c: number, from: number, to: number): boolean {
  if (c < 1) return false;
  for (let r = Math.max(1, from); r <= Math.min(to, tab.rows.length); r += 1) if ((tab.rows[r - 1]?.[c - 1] ?? '') !== '') return true;
  return false;
}

/** The table around the data cell (r, c): grown while a neighbouring row or column holds data. */
function tableAround(tab: Tab, r: number, c: number): Rect {
  let [r1, r2, c1, c2] = [r, r, c, c];
  for (;;) {
    const before = r2 - r1 + (c2 - c1);
    while (r1 > 1 && rowHasData(tab, r1 - 1, c1 - 1, c2 + 1)) r1 -= 1;
    while (rowHasData(tab, r2 + 1, c1 - 1, c2 + 1)) r2 += 1;
    while (c1 > 1 && colHasData(tab, c1 - 1, r1 - 1, r2 + 1)) c1 -= 1;
    while (colHasData(tab, c2 + 1, r1 - 1, r2 + 1)) c2 += 1;
    if (r2 - r1 + (c2 - c1) === before) return { r1, r2, c1, c2 };
  }
}

/**
 * values.append, table detection. The reference says "The input range is used to search for
 * existing data and find a 'table' within that range. Values will be appended to the next row of
 * the table, starting with the first column of the table"; the guide (Read & write cell values,
 * "Append values") shows it on this Sheet1, which holds two tables, A1:C2 and B4:D6:
 *
 *       A  B  C  D  E
 *    1  x  y  z
 *    2  x  y  z
 *    3
 *    4     x  y
 *    5        y  z
 *    6     x  y  z
 *
 * What the emulator does, and the documented case each step follows:
 * 1. Only cells of the range that hold data start a table: `E4` and `A4` find none (A4 sits
 *    next to B4, yet "it's not in any table") and write at the range's top-left cell, with no
 *    tableRange (the reference: "Empty if no table was found").
 * 2. A table is the block of data around such a cell, found without regard to the range's
 *    bounds: grown from the cell while the row or column just outside it (corners included) holds
 *    data next to it, and stopped by empty rows and columns. It reaches into adjacent columns
 *    and rows the range does not cover: `C5:D5` and `B4` both find B4:D6 (the first through
 *    column B, rows 4 and 6, the second down to row 6), and a header-row range (`A1:E1`, `A1`)
 *    finds the table below its header (the Basic writing sample: `Sheet1!A1:E1` over A1:D2
 *    answers tableRange `Sheet1!A1:D2`, updatedRange `Sheet1!A3:D4`). That corners join a block
 *    (B4:D6 would be one table either way) is the emulator's choice, as in a spreadsheet's
 *    "current region".
 * 3. Of the tables the range touches, the values go after the last one: the one ending lowest
 *    (`B2:D4` touches A1:C2 and B4:D6 and writes at B7; `A3:G10` and the whole sheet `Sheet1`
 *    write at B7 too, not at A7, so two tables are not merged into one from A1 to D6; `A1`
 *    writes at A3). On a tie, which the guide does not cover, the one further right.
 * 4. Rows go to the row after the table, from its first column; tableRange is the table before
 *    the append. With INSERT_ROWS whatever sat below the table is pushed down.
 */
export function lastTable(tab: Tab, range: Rect): Rect | undefined {
  const found: Rect[] = [];
  const inFound = (r: number, c: number) => found.some((t) => r >= t.r1 && r <= t.r2 && c >= t.c1 && c <= t.c2);
  for (let r = range.r1; r <= Math.min(range.r2, tab.rows.length); r += 1) {
    const row = tab.rows[r - 1] ?? [];
    for (let c = range.c1; c <= Math.min(range.c2, row.length); c += 1) {
      if (row[c - 1] === '' || inFound(r, c)) continue;
      found.push(tableAround(tab, r, c));
    }
  }
  let last: Rect | undefined;
  for (const t of found) if (!last || t.r2 > last.r2 || (t.r2 === last.r2 && t.c1 > last.c1)) last = t;
  return last;
}
