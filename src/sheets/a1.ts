// A1 notation, shared by the Google client (encoding ranges into URL paths) and the emulator
// (resolving ranges against a grid). Grammar follows the Sheets API documentation:
//   Sheet1!A1:B2   bounded          Sheet1!A:C    whole columns      Sheet1!2:5    whole rows
//   Sheet1!A2:C    open-ended rows  Sheet1        whole tab          A1:B2         first tab
//   'My Tab'!A1    quoted name; a quote inside a quoted name is doubled ('Bob''s')
// https://developers.google.com/sheets/api/guides/concepts#cell

/** 1-based, inclusive. An undefined bound is open (to the edge of the grid). */
export interface GridArea {
  readonly startRow?: number;
  readonly endRow?: number;
  readonly startCol?: number;
  readonly endCol?: number;
}

export interface A1Range {
  /** Tab title, unquoted; undefined when the range names no tab (it then means the first tab). */
  readonly sheet: string | undefined;
  /** Undefined = the whole tab. */
  readonly area: GridArea | undefined;
}

/** Largest column the Sheets UI allows (ZZZ). */
export const MAX_COLUMN = 18278;
/** Sheets caps a spreadsheet at 10 million cells, so no row index can pass this. */
export const MAX_ROW = 10_000_000;

export class A1ParseError extends Error {
  constructor(
    readonly range: string,
    /** What is wrong with it, without the range (the message says both). */
    readonly detail: string,
  ) {
    super(`Unable to parse range: ${range} (${detail})`);
    this.name = 'A1ParseError';
  }
}

/** 1 → A, 27 → AA. */
export function columnToLetters(column: number): string {
  if (!Number.isInteger(column) || column < 1) throw new RangeError(`column index must be >= 1, got ${column}`);
  let n = column;
  let out = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    out = String.fromCharCode(65 + rem) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

/** A → 1, aa → 27. Returns NaN for anything that is not letters. */
export function lettersToColumn(letters: string): number {
  if (!/^[A-Za-z]+$/.test(letters)) return Number.NaN;
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

interface Endpoint {
  col?: number;
  row?: number;
}

function parseEndpoint(text: string): Endpoint | undefined {
  // A row may be written with leading zeros: Google reads a bare `d09037` as the first tab's cell
  // D9037 ("Range (Sheet1!D9037) exceeds grid limits", googleapis/google-api-ruby-client#715) and
  // `D001` as its D1 (urbancups/node-sheets#5). Refused here, such a text was a tab's title to
  // corral and the emulator while Google read a cell of the first tab (quoteSheetName quotes such
  // titles for that reason).
  const m = /^([A-Za-z]{0,3})(0*\d{0,8})$/.exec(text);
  if (!m || text === '') return undefined;
  const letters = m[1] ?? '';
  const digits = m[2] ?? '';
  const out: Endpoint = {};
  if (letters) {
    const col = lettersToColumn(letters);
    if (!(col >= 1 && col <= MAX_COLUMN)) return undefined;
    out.col = col;
  }
  if (digits) {
    const row = Number(digits);
    if (!(row >= 1 && row <= MAX_ROW)) return undefined;
    out.row = row;
  }
  return out;
}

/** Parses the part after `!`. Returns undefined when it is not A1 cell notation. */
export function parseArea(text: string): GridArea | undefined {
  const parts = text.split(':');
  if (parts.length > 2) return undefined;
  const a = parseEndpoint(parts[0] ?? '');
  if (!a) return undefined;
  if (parts.length === 1) {
    // A lone endpoint must be a cell ("A1"); "A" or "1" alone is not a range.
    return a.col !== undefined && a.row !== undefined ? { startRow: a.row, endRow: a.row, startCol: a.col, endCol: a.col } : undefined;
  }
  const b = parseEndpoint(parts[1] ?? '');
  if (!b) return undefined;
  const cols = a.col !== undefined && b.col !== undefined ? order(a.col, b.col) : undefined;
  const rows = a.row !== undefined && b.row !== undefined ? order(a.row, b.row) : undefined;
  if (a.col !== undefined && a.row !== undefined && b.col !== undefined && b.row !== undefined) {
    return { startRow: rows?.[0], endRow: rows?.[1], startCol: cols?.[0], endCol: cols?.[1] }; // A1:C5
  }
  if (a.col !== undefined && a.row === undefined && b.col !== undefined && b.row === undefined) {
    return { startCol: cols?.[0], endCol: cols?.[1] }; // A:C
  }
  if (a.col === undefined && a.row !== undefined && b.col === undefined && b.row !== undefined) {
    return { startRow: rows?.[0], endRow: rows?.[1] }; // 2:5
  }
  if (a.col !== undefined && a.row !== undefined && b.col !== undefined && b.row === undefined) {
    const [c1, c2] = order(a.col, b.col);
    return { startRow: a.row, startCol: c1, endCol: c2 }; // A2:C (rows open below)
  }
  return undefined;
}

/** One part of an R1C1 cell: none (offset 0), `5` (absolute) or `[4]` (an offset from A1); no sign. */
const R1C1_PART = String.raw`(\d{1,8}|\[\d{1,8}\])?`;
const R1C1_CELL = new RegExp(`^R${R1C1_PART}C${R1C1_PART}$`, 'i');

/** The 1-based row or column an R1C1 part names (0 for an absolute 0, which is none). */
function r1c1Index(part: string | undefined): number {
  if (part === undefined) return 1;
  return part.startsWith('[') ? Number(part.slice(1, -1)) + 1 : Number(part);
}

function r1c1Cell(text: string): { row: number; col: number } | undefined {
  const m = R1C1_CELL.exec(text) ?? (/^[RC]$/i.test(text) ? [] : undefined);
  if (!m) return undefined;
  const row = r1c1Index(m[1]);
  const col = r1c1Index(m[2]);
  return row >= 1 && row <= MAX_ROW && col >= 1 && col <= MAX_COLUMN ? { row, col } : undefined;
}

/**
 * R1C1 cells (`R1C1`, `R2C1:R9C5`), which the values methods take beside A1 ("The A1 notation or
 * R1C1 notation of the range"), read as the area they name, after A1 (`RC1` is the A1 cell of
 * column RC, `R1` that of column R). Google reads a part with no number as offset 0 and a bracketed
 * one as an offset from A1, as measured in brekkylab/backlot#174: `RC`, `R1C`, `R` and `C` alone
 * are A1, `R[1]C[1]` is B2, `R[1]` alone is the whole row 2; a signed offset or a 0 is no cell.
 * Without it such a text was taken for a tab's title, while Google reads the first tab's cells
 * (quoteSheetName quotes such a title for that reason): a range setting of `R1C1` or `RC` was
 * read by Google as one cell of the first tab and by corral (its header read, its journal's tab)
 * as the tab of that name.
 */
function parseR1C1Area(text: string): GridArea | undefined {
  const row = /^R\[(\d{1,8})\]$/i.exec(text);
  if (row) {
    const r = Number(row[1]) + 1;
    return r <= MAX_ROW ? { startRow: r, endRow: r } : undefined;
  }
  const parts = text.split(':');
  if (parts.length > 2) return undefined;
  const a = r1c1Cell(parts[0] ?? '');
  const b = parts.length === 2 ? r1c1Cell(parts[1] ?? '') : a;
  if (!a || !b) return undefined;
  const [startRow, endRow] = order(a.row, b.row);
  const [startCol, endCol] = order(a.col, b.col);
  return { startRow, endRow, startCol, endCol };
}

function order(x: number, y: number): [number, number] {
  return x <= y ? [x, y] : [y, x];
}

/** Splits `'My Tab'!A1:C` into the unquoted tab title and the cell part. */
function splitSheet(range: string): { sheet: string | undefined; cells: string | undefined } {
  if (range.startsWith("'")) {
    let i = 1;
    let name = '';
    for (;;) {
      if (i >= range.length) throw new A1ParseError(range, 'unterminated quoted sheet name');
      const ch = range[i];
      if (ch === "'") {
        if (range[i + 1] === "'") {
          name += "'";
          i += 2;
          continue;
        }
        // A quote that neither doubles nor ends the name (the `!` or the end follows an end) is
        // one of the name's: Google reads `'Jon's Data'` as the tab Jon's Data, and its A1 guide
        // writes `'Jon's_Data'!A1:D5` (googleapis/google-api-python-client#2702).
        if (i + 1 < range.length && range[i + 1] !== '!') {
          name += "'";
          i += 1;
          continue;
        }
        i += 1;
        break;
      }
      name += ch;
      i += 1;
    }
    if (name === '') throw new A1ParseError(range, 'empty sheet name');
    if (i === range.length) return { sheet: name, cells: undefined };
    if (range[i] !== '!') throw new A1ParseError(range, 'expected ! after the quoted sheet name');
    return { sheet: name, cells: range.slice(i + 1) };
  }
  const bang = range.indexOf('!');
  if (bang === -1) return { sheet: undefined, cells: range };
  const name = range.slice(0, bang);
  if (name === '') throw new A1ParseError(range, 'empty sheet name');
  if (name.includes("'")) throw new A1ParseError(range, 'a sheet name with a quote must itself be quoted');
  return { sheet: name, cells: range.slice(bang + 1) };
}

/**
 * Parses an A1 range. Without `!`, text that reads as cells (`A1:C5`) addresses the first tab,
 * anything else is taken as a tab title, as the Sheets API does.
 */
export function parseA1(range: string): A1Range {
  if (range.length === 0) throw new A1ParseError(range, 'empty range');
  const { sheet, cells } = splitSheet(range);
  if (sheet === undefined) {
    const area = parseArea(cells ?? '') ?? parseR1C1Area(cells ?? '');
    return area ? { sheet: undefined, area } : { sheet: range, area: undefined };
  }
  if (cells === undefined) return { sheet, area: undefined };
  const area = parseArea(cells) ?? parseR1C1Area(cells);
  if (!area) throw new A1ParseError(range, `"${cells}" is not A1 cell notation`);
  return { sheet, area };
}

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * Names that would read as a cell (A1, XFD12) or an R1C1 reference must be quoted. A bare R or C
 * too: Google was measured reading them as R1C1 references to the first tab (brekkylab/backlot#174),
 * and quoting a name is always safe.
 */
const CELL_LIKE = /^([A-Za-z]{1,3}\d+|R\d*C\d*|R|C)$/i;

/** Quotes a tab title when A1 notation requires it, doubling inner quotes. */
export function quoteSheetName(name: string): string {
  if (PLAIN_NAME.test(name) && !CELL_LIKE.test(name)) return name;
  return `'${name.replaceAll("'", "''")}'`;
}

function endpointText(col: number | undefined, row: number | undefined): string {
  return `${col === undefined ? '' : columnToLetters(col)}${row === undefined ? '' : String(row)}`;
}

/** Formats the cell part of a range: `A1`, `A1:C5`, `A:C`, `2:5`, `A2:C`. */
export function formatArea(area: GridArea): string {
  const start = endpointText(area.startCol, area.startRow);
  const end = endpointText(area.endCol, area.endRow);
  if (start === end && area.startRow !== undefined && area.startCol !== undefined) return start;
  return `${start}:${end}`;
}

/** Formats a range the way the API echoes it: `Players!A1:E6`, `'My Tab'!A1`. */
export function formatA1(sheet: string, area?: GridArea): string {
  const name = quoteSheetName(sheet);
  return area ? `${name}!${formatArea(area)}` : name;
}

/**
 * Percent-encodes a range for the `values/{range}` path segment. encodeURIComponent leaves
 * `!'()*` alone; they are legal in a path, but encoding them too matches what Google's client
 * libraries send (`Sheet1%21A1%3AB2`) and keeps a `:` inside the range from being read as the
 * `:append` verb suffix.
 */
export function encodeRangeForPath(range: string): string {
  return encodeURIComponent(range).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The first row of a range (its header row): `Players` → `Players!1:1`, `'T'!B3:D` → `'T'!B3:D3`. */
export function firstRowOf(range: string): string {
  const parsed = parseA1(range);
  const prefix = parsed.sheet === undefined ? '' : `${quoteSheetName(parsed.sheet)}!`;
  const area = parsed.area;
  if (!area) return `${prefix}1:1`;
  const row = area.startRow ?? 1;
  if (area.startCol === undefined) return `${prefix}${row}:${row}`;
  return `${prefix}${formatArea({ startRow: row, endRow: row, startCol: area.startCol, endCol: area.endCol ?? area.startCol })}`;
}

/**
 * The first column of a range, over every row: `Events!A1:E100` → `Events!A:A`, `'T'!B3:D` →
 * `'T'!B:B`. Google appends after the last row of the table it finds in a range, beyond the
 * range's last row if need be, and starting at its first column: where an appended row's id lands.
 */
export function idColumnOf(range: string): string {
  const parsed = parseA1(range);
  const prefix = parsed.sheet === undefined ? '' : `${quoteSheetName(parsed.sheet)}!`;
  const col = parsed.area?.startCol ?? 1;
  return `${prefix}${formatArea({ startCol: col, endCol: col })}`;
}

/**
 * The range an append of rows journaled for `range` is sent to: its first column, from its first
 * row (`Events` → `Events!A:A`, `'T'!B3:D` → `'T'!B3:B`). Google appends after the table it finds
 * around the data cells of the range it is given, and after the lowest one when that range holds
 * several; given a whole tab, a block of notes beside the events that ends lower (a legend in
 * H1:H15 next to a table in A:E) is that table, and the rows land under it, in column H. Only
 * the tables that reach the first column are found from it, and the events table, whose ids sit
 * there, reaches beyond it into its other columns: the rows land where idColumnOf reads them back.
 */
export function appendAnchorOf(range: string): string {
  const parsed = parseA1(range);
  const prefix = parsed.sheet === undefined ? '' : `${quoteSheetName(parsed.sheet)}!`;
  const area = parsed.area;
  const col = area?.startCol ?? 1;
  return `${prefix}${formatArea({ startCol: col, endCol: col, ...(area?.startRow !== undefined ? { startRow: area.startRow } : {}), ...(area?.endRow !== undefined ? { endRow: area.endRow } : {}) })}`;
}

/** The column (1-based) a range starts at: 1 for a whole tab or rows only. */
export function startColumnOf(range: string): number {
  return parseA1(range).area?.startCol ?? 1;
}
