// R1C1 notation, which the values methods take beside A1 ("The A1 notation or R1C1 notation of the
// range", spreadsheets.values.get/batchGet/update/append): `Sheet1!R1C1:R2C2` is the first two
// cells of the top two rows of Sheet1, `R1C1:R2C2` those of the first sheet (the Sheets API's
// overview, "R1C1 notation"). Absolute cells and rectangles are read here, before A1; the forms
// Google reads after A1 (`RC`, `R`, `R[3]C[1]`, offsets from A1) are parseA1's. Answers name the
// range in A1 notation, as ValueRange.range is.

import { MAX_COLUMN, MAX_ROW, parseA1, type A1Range } from '../a1.js';

const R1C1 = /^(?:(.+)!)?R(\d+)C(\d+)(?::R(\d+)C(\d+))?$/i;

function inBounds(row: number, col: number): boolean {
  return row >= 1 && row <= MAX_ROW && col >= 1 && col <= MAX_COLUMN;
}

/** The range `text` names in R1C1 notation, or undefined when it is not R1C1 (A1, a bad range). */
export function parseR1C1(text: string): A1Range | undefined {
  const m = R1C1.exec(text);
  if (!m) return undefined;
  const r1 = Number(m[2]);
  const c1 = Number(m[3]);
  const r2 = m[4] === undefined ? r1 : Number(m[4]);
  const c2 = m[5] === undefined ? c1 : Number(m[5]);
  if (!inBounds(r1, c1) || !inBounds(r2, c2)) return undefined;
  let sheet: string | undefined;
  if (m[1] !== undefined) {
    // The tab part is written as in A1 (quoted when it must be): parsed the same way.
    try {
      sheet = parseA1(`${m[1]}!A1`).sheet;
    } catch {
      return undefined;
    }
    if (sheet === undefined) return undefined;
  }
  return { sheet, area: { startRow: Math.min(r1, r2), endRow: Math.max(r1, r2), startCol: Math.min(c1, c2), endCol: Math.max(c1, c2) } };
}
