// RFC 4180 CSV: CRLF line ends, fields quoted when they hold a comma, quote, CR/LF or edge spaces.
// The export is opened in spreadsheet programs, so cells that would run as formulas are defused.

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

/**
 * CSV ("formula") injection, per OWASP's CSV Injection page: Excel, LibreOffice and Google Sheets
 * evaluate a cell starting with `=`, `+`, `-` or `@` (after a tab or CR too, which some skip first),
 * so a player's `=HYPERLINK(...)` in the Events tab would run on the exporting admin's machine. A
 * leading `'` makes such a cell text. Plain numbers (`-5`, `+3.2`, `-1.00E+05`) cannot be formulas and stay
 * numbers. A tab, CR or LF is a cut (CELL_CUT), so what follows one is defused as a cell of its
 * own whether a program skips it or cuts there (`\t=1` is `\t'=1`), and one before anything else
 * is left as it is.
 */
const FORMULA_START = /^[=+\-@]/;
/**
 * A number as the Sheets API's formatted values write one: plain (`-5`, `-1.00E+05`), or in the
 * Number, Currency and Percent formats of the Format menu (`-1,234.50`, `-$1,234.50`, `-5.00%`).
 * Those were written `'-1,234.50`, text with a visible `'` in Excel, so a negative balance or score
 * in a formatted column no longer summed. None can be a formula that does harm: digits, `,`, `.`,
 * a currency sign and `%` make no function, reference or DDE call (`cmd|`).
 */
const PLAIN_NUMBER = /^[+-]?[$€£¥]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?$/;
/**
 * The same in a locale that writes a decimal comma, as the Sheets API formats values in the
 * spreadsheet's locale: French (`-1 234,50`, grouped with a narrow no-break space, `-5,00 %`,
 * `-1 234,50 €`, the sign after a no-break space) and German (`-1.234,50`). A French sheet's every
 * negative decimal (`-1,23`) was written `'-1,23`, text with a visible `'`. Spaces add nothing a
 * formula could do harm with: between two numbers, Excel's intersection operator is an error.
 */
const DECIMAL_COMMA_NUMBER = /^[+-]?(?:\d{1,3}([ \u00a0\u202f.])\d{3}(?:\1\d{3})*|\d+)(?:,\d*)?(?:[eE][+-]?\d+)?(?:[ \u00a0\u202f]?[%$€£¥])?$/;

/**
 * Where a cell may be cut into cells of its own: Excel splits a .csv on the locale's list
 * separator, `;` in French or German Excel, and there commas are text and quotes count only at a
 * cell's start, so `gg;=cmd|' /C calc'!A0` becomes a cell `=cmd…` whatever the quoting; and as the
 * quote that opened the field is then text, a line break inside a quoted field (CR or LF, allowed
 * in an event's detail) ends the record there, the text after it starting a row of its own.
 * LibreOffice's import may cut on tabs. Each piece that starts after one is defused as a cell of
 * its own.
 */
const CELL_CUT = /[;\t\r\n]/;

function defuseCell(value: string, numberStays = true): string {
  return FORMULA_START.test(value) && !(numberStays && (PLAIN_NUMBER.test(value) || DECIMAL_COMMA_NUMBER.test(value))) ? `'${value}` : value;
}

/**
 * A piece after a cut. It starts a cell in the raw text, where its quotes are doubled: a piece
 * `"=1` is written `""=1`, which a reader that takes a quote at a cell's start reads as an empty
 * quoted string and then `=1` (Excel's and Python's csv do), so a piece with one quote before a
 * would-be formula is defused too.
 */
function defusePiece(value: string, numberStays: boolean): string {
  return value.startsWith('"') && defuseCell(value.slice(1), numberStays) !== value.slice(1) ? `'${value}` : defuseCell(value, numberStays);
}

/**
 * `quoted`: the field is written in quotes. A number after a cut is a cell of its own in a `;`
 * reader only when something ends it there. Last in a field written bare, nothing does: that
 * cell runs on through the `,` (text to such a reader) into the next column's, and a player's
 * kind `x;-2` before a detail `3+cmd|' /C calc'!A0;` made the cell `-2,3+cmd|' /C calc'!A0`, a
 * formula in French Excel (OWASP's `-2+3+cmd|…` with the decimal comma). So that last piece is
 * defused even when it is a number (a closing quote after it, `-2"`, makes it no formula), and so
 * is one before a tab, which a `;` reader does not cut on either.
 */
export function defuseFormula(value: string, quoted = true, startsCell = false): string {
  if (!CELL_CUT.test(value)) return defuseCell(value, !startsCell);
  // The separators stay where they were; `'` goes after one only before a would-be formula.
  let out = '';
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    const c = value.charCodeAt(i);
    // ; \t \r \n (CELL_CUT), compared as codes: this runs for every character of such a cell.
    if (i < value.length && c !== 0x3b && c !== 0x09 && c !== 0x0d && c !== 0x0a) continue;
    const piece = value.slice(start, i);
    const ended = i < value.length ? c !== 0x09 : quoted;
    out += (start === 0 ? defuseCell(piece, !startsCell || ended) : defusePiece(piece, ended)) + (i < value.length ? value[i] : '');
    start = i + 1;
  }
  return out;
}

/**
 * `startsCell`: the field begins a record and another follows it on its line. Its start is then
 * a cell's start in a `;` reader too, and a number there runs on through the `,` as one after a
 * `;` does (defuseFormula): a range export starting at a column players write (`Events!C:E`),
 * kind `-2` and detail `3+cmd|' /C calc'!A0;`, began the record with the cell
 * `-2,3+cmd|' /C calc'!A0`.
 */
export function csvField(value: string, startsCell = false): string {
  // Defusing adds a `'` after a cut or at the start, never what makes a field need quotes.
  const quoted = NEEDS_QUOTES.test(value);
  const v = defuseFormula(value, quoted, startsCell);
  return quoted ? `"${v.replaceAll('"', '""')}"` : v;
}

/**
 * Rows to CSV text. Short rows (the Sheets API trims trailing empty cells) are padded to `width`.
 * A record of one empty field is written `""`: bare, it would be a blank line, which CSV readers
 * skip as no record at all (pandas does by default), shifting every row after it.
 *
 * `startsFile`: these rows begin the file. A file whose first bytes are `ID` (a tab headed `ID`,
 * `name`, ...) is taken by Excel for a SYLK file, which it refuses to open ("SYLK: file format is
 * not valid"); that first field is then written quoted, `"ID"`, which every CSV reader reads as
 * `ID`.
 */
export function csvRows(rows: readonly (readonly string[])[], width: number, startsFile = false): string {
  let out = '';
  for (const row of rows) {
    const cells: string[] = [];
    const n = Math.max(width, row.length);
    for (let i = 0; i < n; i++) cells.push(csvField(row[i] ?? '', i === 0 && n > 1));
    if (startsFile && out === '' && cells[0]?.startsWith('ID')) cells[0] = `"${cells[0]}"`;
    const line = cells.join(',');
    out += `${line === '' && n > 0 ? '""' : line}\r\n`;
  }
  return out;
}
