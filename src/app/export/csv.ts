// RFC 4180 CSV: CRLF line ends, fields quoted when they hold a comma, quote, CR/LF or edge spaces.
// The export is opened in spreadsheet programs, so cells that would run as formulas are defused.

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

/**
 * CSV ("formula") injection, per OWASP's CSV Injection page: Excel, LibreOffice and Google Sheets
 * evaluate a cell starting with `=`, `+`, `-` or `@` (after a tab or CR too, which some skip first),
 * so a player's `=HYPERLINK(...)` in the Events tab would run on the exporting admin's machine. A
 * leading `'` makes such a cell text. Plain numbers (`-5`, `+3.2`, `-1.00E+05`) cannot be formulas and stay
 * numbers. A leading CR is defused here; a tab is a cut (CELL_CUT), so what follows one is
 * defused as a cell of its own whether a program skips the tab or cuts there (`\t=1` is
 * `\t'=1`), and a tab before anything else is left as it is.
 */
const FORMULA_START = /^[=+\-@\r]/;
const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Where a cell may be cut into cells of its own: Excel splits a .csv on the locale's list
 * separator, `;` in French or German Excel, and there commas are text and quotes count only at a
 * cell's start, so `gg;=cmd|' /C calc'!A0` becomes a cell `=cmd…` whatever the quoting; LibreOffice's
 * import may cut on tabs. Each piece that starts after one is defused as a cell of its own.
 */
const CELL_CUT = /[;\t]/;

function defuseCell(value: string): string {
  return FORMULA_START.test(value) && !PLAIN_NUMBER.test(value) ? `'${value}` : value;
}

export function defuseFormula(value: string): string {
  if (!CELL_CUT.test(value)) return defuseCell(value);
  // The separators stay where they were; `'` goes after one only before a would-be formula.
  let out = '';
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i < value.length && value[i] !== ';' && value[i] !== '\t') continue;
    out += defuseCell(value.slice(start, i)) + (i < value.length ? value[i] : '');
    start = i + 1;
  }
  return out;
}

export function csvField(value: string): string {
  const v = defuseFormula(value);
  return NEEDS_QUOTES.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/**
 * Rows to CSV text. Short rows (the Sheets API trims trailing empty cells) are padded to `width`.
 * A record of one empty field is written `""`: bare, it would be a blank line, which CSV readers
 * skip as no record at all (pandas does by default), shifting every row after it.
 */
export function csvRows(rows: readonly (readonly string[])[], width: number): string {
  let out = '';
  for (const row of rows) {
    const cells: string[] = [];
    const n = Math.max(width, row.length);
    for (let i = 0; i < n; i++) cells.push(csvField(row[i] ?? ''));
    const line = cells.join(',');
    out += `${line === '' && n > 0 ? '""' : line}\r\n`;
  }
  return out;
}
