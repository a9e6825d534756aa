// The emulator's spreadsheets: tabs as grids of strings with a row/column count like a real
// sheet (new tabs are 1000 x 26), and the values operations resolved against them the way the
// Sheets API does: open ranges run to the grid edge, reads and updates past it are refused (only
// appends add rows and columns), answers trim trailing empty cells and rows
// and omit `values` when nothing is left, appends land after the last table the range's data
// belongs to, from its first column (a table may reach beyond the range: below a range that only
// covers its header, into columns beside it; see tables.ts).

import { A1ParseError, columnToLetters, formatA1, parseA1, type GridArea } from '../a1.js';
import type { InsertDataOption, MajorDimension, WireAppendValuesResponse, WireUpdateValuesResponse, WireValueRange } from '../google/wire.js';
import { tabKey } from '../tab-key.js';
import { ApiError, badRange, NOT_FOUND, protectedCell, workbookFull } from './api-error.js';
import { withoutDefaults } from './http-util.js';
import { namedRangeOf } from './named-ranges.js';
import { parseR1C1 } from './r1c1.js';
import { lastTable } from './tables.js';

export type ShareRole = 'reader' | 'writer';

export interface Tab {
  title: string;
  rows: string[][];
  rowCount: number;
  columnCount: number;
  /**
   * A protection of the whole tab (Data > Protect sheets and ranges): the accounts among its
   * editors; undefined when the tab is not protected. Writes by anyone else are refused.
   */
  protectedFor?: ReadonlySet<string>;
}

export interface Spreadsheet {
  readonly id: string;
  readonly tabs: Tab[];
  readonly shares: Map<string, ShareRole>;
  /** "Anyone with the link can view": readable with an API key, and by any account's token. */
  public: boolean;
  /**
   * An Excel file stored in Drive under this id rather than a Google Sheet: shared and found like
   * one, but every values call is refused (see values-api.ts authorize).
   */
  xlsx: boolean;
  /** Named ranges: name → its range, written with its tab (named-ranges.ts). */
  readonly namedRanges: Map<string, string>;
}

interface Resolved {
  readonly tab: Tab;
  readonly area: GridArea | undefined;
}

/** Where a checked values.update writes. */
export interface UpdatePlan {
  readonly tab: Tab;
  readonly r1: number;
  readonly c1: number;
}

export interface Rect {
  readonly r1: number;
  readonly r2: number;
  readonly c1: number;
  readonly c2: number;
}

const DEFAULT_ROWS = 1000;
const DEFAULT_COLUMNS = 26;

function cell(tab: Tab, row: number, col: number): string {
  return tab.rows[row - 1]?.[col - 1] ?? '';
}

function trimRows(rows: string[][]): string[][] {
  const out = rows.map((r) => {
    let end = r.length;
    while (end > 0 && r[end - 1] === '') end -= 1;
    return r.slice(0, end);
  });
  while (out.length > 0 && (out[out.length - 1]?.length ?? 0) === 0) out.pop();
  return out;
}

/**
 * The longest row's length (0 for none). A loop, not Math.max(...rows): spreading a tab of more
 * rows than V8 takes arguments (about 120k) throws "Maximum call stack size exceeded".
 */
function widest(rows: readonly (readonly unknown[])[]): number {
  let width = 0;
  for (const r of rows) if (r.length > width) width = r.length;
  return width;
}

/** Cells of every tab's grid, empty ones included: what Google's limit counts. */
function cellsOf(s: Spreadsheet): number {
  let cells = 0;
  for (const t of s.tabs) cells += t.rowCount * t.columnCount;
  return cells;
}

function rectText(tab: Tab, rect: Rect): string {
  return formatA1(tab.title, { startRow: rect.r1, endRow: rect.r2, startCol: rect.c1, endCol: rect.c2 });
}

/** Stores cells the way Sheets keeps them: as text. */
export function cellValue(value: unknown, userEntered: boolean): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  const text = String(value);
  // With USER_ENTERED a leading apostrophe forces text and is not shown, as in the Sheets UI.
  return userEntered && text.startsWith("'") ? text.slice(1) : text;
}

/**
 * Whether `range` is written as one cell (`A1`, `Sheet1!B2`, `R1C1`), not with both ends (`A1:A1`).
 * Google takes such a range as where a values.update starts, and writes a block of any size from
 * it: gspread's README updates "a range of cells using the top left corner address",
 * `wks.update('A1', [[1, 2], [3, 4]])`, sending `'Sheet1'!A1` as the range unchanged. A range with
 * both ends bounds the write, a single cell's too ("Requested writing within range [...!A1], but
 * tried writing to column [B]" for `A1:A1`, pygsheets#120).
 */
function isStartCell(range: string, area: GridArea | undefined): boolean {
  if (!area || area.startRow !== area.endRow || area.startCol !== area.endCol) return false;
  // The cells follow the last '!' (a quoted title may hold one, never after it).
  return !range.slice(range.lastIndexOf('!') + 1).includes(':');
}

/** Refuses a write into `tab` by `writer` (a service account's email) when a protection leaves it out. */
function checkWriter(tab: Tab, writer: string | undefined): void {
  if (tab.protectedFor && (writer === undefined || !tab.protectedFor.has(writer))) throw protectedCell();
}

export class Store {
  readonly spreadsheets = new Map<string, Spreadsheet>();

  ensureSpreadsheet(id: string): Spreadsheet {
    let s = this.spreadsheets.get(id);
    if (!s) {
      s = { id, tabs: [], shares: new Map(), public: false, xlsx: false, namedRanges: new Map() };
      this.spreadsheets.set(id, s);
    }
    return s;
  }

  spreadsheet(id: string): Spreadsheet {
    const s = this.spreadsheets.get(id);
    if (!s) throw new ApiError(404, NOT_FOUND);
    return s;
  }

  /** Creates or replaces a tab's content; the grid grows to fit but never below 1000 x 26. */
  setSheet(id: string, title: string, rows: readonly (readonly unknown[])[]): void {
    const s = this.ensureSpreadsheet(id);
    const data = rows.map((r) => r.map((v) => cellValue(v, false)));
    const width = widest(data);
    const tab: Tab = { title, rows: data, rowCount: Math.max(DEFAULT_ROWS, data.length), columnCount: Math.max(DEFAULT_COLUMNS, width) };
    const i = s.tabs.findIndex((t) => t.title === title);
    if (i === -1) s.tabs.push(tab);
    else s.tabs[i] = { ...tab, ...(s.tabs[i]?.protectedFor ? { protectedFor: s.tabs[i]?.protectedFor } : {}) };
  }

  /** A tab's rows as stored (trailing empties trimmed), or undefined. */
  getSheet(id: string, title: string): string[][] | undefined {
    const tab = this.spreadsheets.get(id)?.tabs.find((t) => t.title === title);
    return tab ? trimRows(tab.rows.map((r) => [...r])) : undefined;
  }

  resolve(s: Spreadsheet, range: string): Resolved {
    const named = namedRangeOf(s, range);
    if (named !== undefined) return this.resolve(s, named);
    // R1C1 first: `R1C1` alone would otherwise be taken for a tab's title, as a tab named so must
    // be quoted to be one.
    let parsed = parseR1C1(range);
    try {
      parsed ??= parseA1(range);
    } catch (err) {
      if (err instanceof A1ParseError) throw badRange(range);
      throw err;
    }
    if (parsed.sheet === undefined) {
      const first = s.tabs[0];
      if (!first) throw badRange(range);
      return { tab: first, area: parsed.area };
    }
    const want = parsed.sheet;
    // Whatever the case of the name, as Google finds it (tab-key.ts).
    const tab = s.tabs.find((t) => t.title === want) ?? s.tabs.find((t) => tabKey(t.title) === tabKey(want));
    if (!tab) throw badRange(range);
    return { tab, area: parsed.area };
  }

  /**
   * The rectangle a read covers; bounded ranges past the grid are refused as Google does. The
   * refusal names the range as it was asked, open ends left open (Google's "Range
   * (FORENSIC_LIVE!A221:ZZ) exceeds grid limits. Max rows: 220, max columns: 18" for A221:ZZ), not
   * as the grid would close it (the emulator said "A1001:B1000" for A1001:B, an end before its start).
   */
  #readRect(tab: Tab, area: GridArea | undefined): Rect {
    const rect = { r1: area?.startRow ?? 1, r2: area?.endRow ?? tab.rowCount, c1: area?.startCol ?? 1, c2: area?.endCol ?? tab.columnCount };
    if (rect.r2 > tab.rowCount || rect.c2 > tab.columnCount || rect.r1 > tab.rowCount || rect.c1 > tab.columnCount) {
      throw new ApiError(400, `Range (${formatA1(tab.title, area)}) exceeds grid limits. Max rows: ${tab.rowCount}, max columns: ${tab.columnCount}`);
    }
    return rect;
  }

  get(s: Spreadsheet, range: string, majorDimension: MajorDimension): WireValueRange {
    const { tab, area } = this.resolve(s, range);
    const rect = this.#readRect(tab, area);
    const grid: string[][] = [];
    if (majorDimension === 'ROWS') {
      const lastData = Math.min(rect.r2, tab.rows.length);
      for (let r = rect.r1; r <= lastData; r += 1) {
        const row: string[] = [];
        for (let c = rect.c1; c <= rect.c2; c += 1) row.push(cell(tab, r, c));
        grid.push(row);
      }
    } else {
      const lastData = Math.min(rect.r2, tab.rows.length);
      for (let c = rect.c1; c <= rect.c2; c += 1) {
        const col: string[] = [];
        for (let r = rect.r1; r <= lastData; r += 1) col.push(cell(tab, r, c));
        grid.push(col);
      }
    }
    const values = trimRows(grid);
    return { range: rectText(tab, rect), majorDimension, ...(values.length > 0 ? { values } : {}) };
  }

  #write(tab: Tab, r1: number, c1: number, values: readonly (readonly unknown[])[], userEntered: boolean): WireUpdateValuesResponse {
    let width = 0;
    let cells = 0;
    values.forEach((row, i) => {
      const r = r1 + i;
      while (tab.rows.length < r) tab.rows.push([]);
      const target = tab.rows[r - 1] ?? [];
      tab.rows[r - 1] = target;
      row.forEach((v, j) => {
        cells += 1;
        // "Null values will be skipped. To set a cell to an empty value, set the string value to
        // an empty string" (ValueRange.values): a null leaves the cell as it was.
        if (v === null || v === undefined) return;
        const c = c1 + j;
        while (target.length < c - 1) target.push('');
        target[c - 1] = cellValue(v, userEntered);
      });
      width = Math.max(width, row.length);
    });
    const rect = { r1, r2: r1 + Math.max(values.length, 1) - 1, c1, c2: c1 + Math.max(width, 1) - 1 };
    tab.rowCount = Math.max(tab.rowCount, rect.r2);
    tab.columnCount = Math.max(tab.columnCount, rect.c2);
    return withoutDefaults({ spreadsheetId: '', updatedRange: rectText(tab, rect), updatedRows: values.length, updatedColumns: width, updatedCells: cells });
  }

  /**
   * Checks a values.update of `values` at `range` without writing anything (batchUpdate checks
   * every range before it writes one). Unlike an append, an update never grows the grid: a range,
   * or values, reaching past the tab's last row or column is refused, as Google refuses
   * `update_cell(1, 25)` on a 24-column tab with "Range (Solar!Y1) exceeds grid limits. Max rows:
   * 981, max columns: 24" (home-assistant/core#104198). A range written as one cell is where the
   * write starts, not its bounds (isStartCell).
   */
  planUpdate(s: Spreadsheet, range: string, values: readonly (readonly unknown[])[], writer?: string): UpdatePlan {
    const { tab, area } = this.resolve(s, range);
    checkWriter(tab, writer);
    const r1 = area?.startRow ?? 1;
    const c1 = area?.startCol ?? 1;
    const bound = isStartCell(range, area) ? undefined : area;
    if (bound?.endRow !== undefined && values.length > bound.endRow - r1 + 1) {
      throw new ApiError(400, `Requested writing within range [${range}], but tried writing to row [${r1 + values.length - 1}]`);
    }
    const width = widest(values);
    if (bound?.endCol !== undefined && width > bound.endCol - c1 + 1) {
      throw new ApiError(400, `Requested writing within range [${range}], but tried writing to column [${columnToLetters(c1 + width - 1)}]`);
    }
    const rect = { r1, c1, r2: Math.max(area?.endRow ?? r1, r1 + values.length - 1), c2: Math.max(area?.endCol ?? c1, c1 + width - 1) };
    if (rect.r2 > tab.rowCount || rect.c2 > tab.columnCount) {
      throw new ApiError(400, `Range (${rectText(tab, rect)}) exceeds grid limits. Max rows: ${tab.rowCount}, max columns: ${tab.columnCount}`);
    }
    return { tab, r1, c1 };
  }

  /** Writes a checked update (see planUpdate). */
  applyUpdate(s: Spreadsheet, plan: UpdatePlan, values: readonly (readonly unknown[])[], userEntered: boolean): WireUpdateValuesResponse {
    return { ...this.#write(plan.tab, plan.r1, plan.c1, values, userEntered), spreadsheetId: s.id };
  }

  update(s: Spreadsheet, range: string, values: readonly (readonly unknown[])[], userEntered: boolean, writer?: string): WireUpdateValuesResponse {
    return this.applyUpdate(s, this.planUpdate(s, range, values, writer), values, userEntered);
  }

  /**
   * values.append: after the last table the range's data belongs to (see tables.ts), from its first
   * column. Refused, writing nothing, when the grid it grows would pass `cellLimit` (0: none).
   */
  append(s: Spreadsheet, range: string, values: readonly (readonly unknown[])[], userEntered: boolean, insert: InsertDataOption, cellLimit = 0, writer?: string): WireAppendValuesResponse {
    const { tab, area } = this.resolve(s, range);
    checkWriter(tab, writer);
    const r1 = area?.startRow ?? 1;
    const c1 = area?.startCol ?? 1;
    const table = lastTable(tab, { r1, r2: area?.endRow ?? tab.rowCount, c1, c2: area?.endCol ?? tab.columnCount });
    const startRow = table ? table.r2 + 1 : r1;
    const startCol = table ? table.c1 : c1;
    if (cellLimit > 0) {
      // The grid as the code below leaves it: INSERT_ROWS adds a row per value row, any append
      // adds the rows and columns it writes past the grid. Filling empty rows inside it adds none.
      const inserted = insert === 'INSERT_ROWS' ? (values.length > 0 && startRow - 1 < tab.rows.length ? tab.rowCount : Math.max(tab.rowCount, startRow - 1)) + values.length : tab.rowCount;
      const rows = Math.max(inserted, startRow + Math.max(values.length, 1) - 1);
      const columns = Math.max(tab.columnCount, startCol + Math.max(widest(values), 1) - 1);
      const before = cellsOf(s);
      const after = before - tab.rowCount * tab.columnCount + rows * columns;
      if (after > before && after > cellLimit) throw workbookFull(cellLimit);
    }
    if (insert === 'INSERT_ROWS' && values.length > 0 && startRow - 1 < tab.rows.length) {
      // New rows are inserted, pushing whatever sat below the table down.
      tab.rows.splice(startRow - 1, 0, ...values.map(() => [] as string[]));
      tab.rowCount += values.length;
    } else if (insert === 'INSERT_ROWS') {
      tab.rowCount = Math.max(tab.rowCount, startRow - 1) + values.length;
    }
    const updates = this.#write(tab, startRow, startCol, values, userEntered);
    return {
      spreadsheetId: s.id,
      ...(table ? { tableRange: rectText(tab, table) } : {}),
      updates: { ...updates, spreadsheetId: s.id },
    };
  }
}
