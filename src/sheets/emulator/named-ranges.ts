// Named ranges (Data > Named ranges): a name for cells of a tab. A range written as a bare name is
// the named range of that name when the spreadsheet has one, before any tab of that name: "if
// there is a named range titled 'Sheet1', then Sheet1 refers to the named range and 'Sheet1'
// refers to the sheet" (the Sheets API's A1 notation). Quoted, or followed by '!' and cells, a
// name is a tab's. Why corral's client sends a whole tab quoted (values-calls.ts, wireRange).

import { parseA1, quoteSheetName } from '../a1.js';
import { tabKey } from '../tab-key.js';
import type { Spreadsheet } from './store.js';

/** The range a bare name stands for in `s`, or undefined when `range` is no named range's name. */
export function namedRangeOf(s: Spreadsheet, range: string): string | undefined {
  return s.namedRanges.get(range);
}

/**
 * Names `range` (cells of an existing tab, written with its tab: `Players!A1:E3`) `name` in `s`.
 * Throws an Error for a name Google refuses (one that reads as a cell, or holds other than
 * letters, digits and _) or a range of no tab of `s`.
 */
export function defineNamedRange(s: Spreadsheet, name: string, range: string): void {
  if (name === '' || quoteSheetName(name) !== name) {
    throw new Error(`${JSON.stringify(name)} is not a name Google takes for a named range (letters, digits and _, not a cell's address)`);
  }
  const { sheet } = parseA1(range);
  if (sheet === undefined) throw new Error(`named range ${name}: write its range with its tab (Players!A1:E3), not ${JSON.stringify(range)}`);
  if (!s.tabs.some((t) => tabKey(t.title) === tabKey(sheet))) throw new Error(`named range ${name}: no tab ${JSON.stringify(sheet)} in spreadsheet ${s.id}`);
  s.namedRanges.set(name, range);
}
