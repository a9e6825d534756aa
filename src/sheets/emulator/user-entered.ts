// valueInputOption=USER_ENTERED: "The values will be parsed as if the user typed them into the
// UI. Numbers will stay as numbers, but strings may be converted to numbers, dates, etc." The
// emulator keeps cells as text and has no such parser, so it refuses a string Google would turn
// into something else (a formula, a number, a percentage, an amount, a date or time, a boolean)
// rather than keep it as typed: a client reading back `0001` where Google has `1` (and matching
// rows by it) would pass against the emulator and fail against Google. Text Google keeps as text
// is taken, and a leading apostrophe, which forces text, is dropped as the UI drops it.

import { ApiError } from './api-error.js';

const PARSED: readonly [RegExp, string][] = [
  [/^=/, 'a formula'],
  [/^\s*[+-]?[$€£¥]?\s*(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][+-]?\d+)?\s*%?\s*$/, 'a number'],
  [/^\s*\d{1,4}[-/.]\d{1,2}([-/.]\d{1,4})?(\s+\d{1,2}:\d{2}(:\d{2})?)?\s*$/, 'a date'],
  [/^\s*\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([aApP][mM])?\s*$/, 'a time'],
  [/^\s*(true|false)\s*$/i, 'a boolean'],
];

/** What Google would parse `text` as under USER_ENTERED, or undefined for text it keeps. */
function parsedAs(text: string): string | undefined {
  // The number pattern's parts are all optional: it must hold a digit to be one.
  for (const [pattern, what] of PARSED) if (pattern.test(text) && (what !== 'a number' || /\d/.test(text))) return what;
  return undefined;
}

/** 400 for a string cell Google would parse (see the top of this file); `where` prefixes the field. */
export function checkUserEntered(values: readonly (readonly unknown[])[], where: string): void {
  for (const row of values) {
    for (const cell of row) {
      if (typeof cell !== 'string' || cell.startsWith("'")) continue;
      const what = parsedAs(cell);
      if (what) {
        throw new ApiError(
          400,
          `valueInputOption=USER_ENTERED is not emulated for ${JSON.stringify(cell.slice(0, 100))} at '${where}values' (Google would parse it as ${what}; the emulator keeps cells as text): send it with RAW, or prefix it with ' to keep it as text`,
        );
      }
    }
  }
}
