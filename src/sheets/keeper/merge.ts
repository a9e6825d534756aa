// Read-your-writes: journaled rows not yet seen upstream are appended to a cached read of their
// tab, so a client that just POSTed sees its row on the next GET, and rows whose id the upstream
// value already holds are not shown twice. A bounded block (`Events!A1:E1000`, an admin's export)
// gets them too, where Google would show them: below its last row, as far as its last row goes.
// It used to be shown as fetched, so a block cached before an append lacked the acknowledged row
// until its TTL ran out, even once Google had it. A block whose rows are all empty and that starts
// below row 1 cannot say where the tab's rows end (above it, or in it): it is shown as fetched.
//
// Columns. An appended row lands from its append range's first column (column A for a tab name;
// the same rule the flusher's read-back, idColumnOf, relies on), so a journaled row is placed
// there and then cut to the read's columns exactly as Google cuts the sheet's rows: cells outside
// the read dropped, trailing empty cells and rows trimmed. Whether a row is already upstream is
// told by its id, which a read starting right of it (`Events!B:D`, `Events!B1:D`) does not show:
// such a read is fetched from column A (`Events!A:D`, fetchRangeFor) so the ids are there to
// compare, and the answer is then cut to the columns asked for. Without that, a row the fetch
// already held was shown a second time from the journal.
//
// A row journaled with the header it was built under is shown under the header row the read
// found (header-mapping.ts), as the flusher will write it: the first row of its append range, cut
// to that range's columns, when the read starts on that row. Values under a name the read's
// header lacks are left out (a read narrower than the row: they are outside it); a header whose
// first column changed cannot take the row, which is shown as built.

import { formatA1, formatArea, parseA1, quoteSheetName, type GridArea } from '../a1.js';
import { remapRows } from './header-mapping.js';

export interface Merged {
  readonly values: readonly (readonly string[])[];
  /** Journaled rows shown in `values` that the upstream value did not hold. */
  readonly added: number;
  /**
   * Set when `values` is `fetched` itself followed by these rows, so a serialisation of `fetched`
   * made once can be reused for it (the keeper answers a read of a tab of 300k rows with a few
   * journaled rows without serialising the 300k again).
   */
  readonly below?: readonly (readonly string[])[];
}

/** A journaled row and the range it was appended to. */
export interface PendingRow {
  readonly range: string;
  readonly cells: readonly string[];
  /** The header row the cells were built under, when the append gave it. */
  readonly header?: readonly string[];
}

/** The cells, built under `builtUnder`, under `header`; as built when there is none or it cannot take them. */
function cellsUnder(cells: readonly string[], builtUnder: readonly string[], header: readonly string[] | undefined): readonly string[] {
  if (!header) return cells;
  const r = remapRows([cells], builtUnder, header, { dropLost: true });
  return r.ok ? r.rows[0]! : cells;
}

interface ReadPlan {
  /** What to fetch upstream for the read. */
  readonly fetch: string;
  /** Journaled rows are merged into the read (it is A1, as the journal's rows are placed by it). */
  readonly merges: boolean;
  /** First row (1-based) of the read; with `rows`, where a bounded block's rows are. */
  readonly firstRow: number;
  /** How many rows the read spans; undefined when it runs to the bottom of the tab. */
  readonly rows: number | undefined;
  /** First and last column (1-based, last undefined = open) the read shows. */
  readonly firstCol: number;
  readonly lastCol: number | undefined;
}

function planRead(range: string): ReadPlan {
  let parsed: ReturnType<typeof parseA1>;
  try {
    parsed = parseA1(range);
  } catch {
    // Upstream refuses it with a message naming the range as given.
    return { fetch: range, merges: false, firstRow: 1, rows: undefined, firstCol: 1, lastCol: undefined };
  }
  const area = parsed.area;
  const firstCol = area?.startCol ?? 1;
  const lastCol = area?.endCol;
  const firstRow = area?.startRow ?? 1;
  const rows = area?.endRow === undefined ? undefined : area.endRow - firstRow + 1;
  const merges = true;
  // Fetched under one spelling per range (the tab quoted only where A1 requires it, the cells in
  // upper case): the tier caches and single-flights by this name, so `'Players'` and `Players`,
  // or `Events!a:e` and `Events!A:E`, were two upstream reads per TTL and two copies.
  if (firstCol === 1) return { fetch: parsed.sheet === undefined ? (area ? formatArea(area) : range) : formatA1(parsed.sheet, area), merges, firstRow, rows, firstCol, lastCol };
  const widened: GridArea = { ...area, startCol: 1 };
  const prefix = parsed.sheet === undefined ? '' : `${quoteSheetName(parsed.sheet)}!`;
  return { fetch: `${prefix}${formatArea(widened)}`, merges, firstRow, rows, firstCol, lastCol };
}

/**
 * The range the keeper fetches (and caches) to answer a read of `range`: the range itself, in one
 * spelling (`'Players'` → `Players`, `a1:c` → `A1:C`), but for a read that gets journaled rows
 * merged and starts right of column A, which is fetched from column A (`Events!B1:D` →
 * `Events!A1:D`) so the merge can see the rows' ids.
 */
export function fetchRangeFor(range: string): string {
  return planRead(range).fetch;
}

/**
 * One spelling of what a read of `range` shows, for keying what is made of it: every spelling
 * planRead() reads alike (`'Players'!b01:c`, `Players!B1:C`, `Players!C1:B`) gives the same,
 * since the answer depends only on the tab and the area parsed. A range that does not parse is
 * its own key.
 */
export function readKeyOf(range: string): string {
  try {
    const { sheet, area } = parseA1(range);
    return `a1 ${sheet === undefined ? '' : quoteSheetName(sheet)}!${area ? formatArea(area) : ''}`;
  } catch {
    return `raw ${range}`;
  }
}

/** Column (1-based) where rows appended to `range` put their first cell. */
function landingColumn(range: string): number {
  try {
    return parseA1(range).area?.startCol ?? 1;
  } catch {
    return 1;
  }
}

function trimCells(cells: readonly string[]): readonly string[] {
  let end = cells.length;
  while (end > 0 && cells[end - 1] === '') end--;
  return end === cells.length ? cells : cells.slice(0, end);
}

/**
 * How many journaled rows a read can show below the fetched ones: a bounded block's rows land
 * below its last row with a cell, and only those within it show. With no row at all and a first
 * row below 1, that landing row is unknown: shown as fetched.
 */
function roomBelow(plan: ReadPlan, fetched: readonly (readonly string[])[]): number {
  if (plan.rows === undefined) return Infinity;
  return fetched.length === 0 && plan.firstRow > 1 ? 0 : Math.max(0, plan.rows - fetched.length);
}

/**
 * Whether a read of `range` whose fetch found `fetched` can show any journaled row: a block full
 * of rows (a header row, `Events!1:1`, read before each event is written) cannot, whatever is
 * journaled, so its answer, and its copy's name, need not look at the journal.
 */
export function showsJournaledRows(range: string, fetched: readonly (readonly string[])[]): boolean {
  const plan = planRead(range);
  return plan.merges && roomBelow(plan, fetched) > 0;
}

/**
 * The read of `range` as served: `fetched` (the upstream values of fetchRangeFor(range)) with the
 * journaled rows it does not hold yet added below, cut to the read's columns. Returns `fetched`
 * itself when there is nothing to add or cut.
 */
export function mergePending(range: string, fetched: readonly (readonly string[])[], pending: readonly PendingRow[]): Merged {
  const plan = planRead(range);
  if (!plan.merges) return { values: fetched, added: 0 };
  const { firstCol, lastCol } = plan;
  const room = roomBelow(plan, fetched);
  if (room === 0 && firstCol === 1) return { values: fetched, added: 0 };
  // From here on `fetched` starts at column A (planRead widened the fetch if the read did not).
  const extra: (readonly string[])[] = [];
  // The header row an append range's rows are written under (its first row, cut to its columns),
  // as this read holds it: the read starts on that row (`fetched` starts at column A).
  const headers = new Map<string, readonly string[] | undefined>();
  const headerOf = (appendRange: string): readonly string[] | undefined => {
    if (headers.has(appendRange)) return headers.get(appendRange);
    let header: readonly string[] | undefined;
    const first = fetched[0];
    try {
      const area = parseA1(appendRange).area;
      if (first && (area?.startRow ?? 1) === plan.firstRow) {
        const from = (area?.startCol ?? 1) - 1;
        header = from === 0 && area?.endCol === undefined ? first : first.slice(from, area?.endCol);
      }
    } catch {
      header = undefined;
    }
    headers.set(appendRange, header);
    return header;
  };
  const idsByColumn = new Map<number, Set<string>>();
  for (const row of pending) {
    const col = landingColumn(row.range);
    // None of its cells falls in the read's columns: Google's answer shows nothing of it either.
    if (lastCol !== undefined && col > lastCol) continue;
    let ids = idsByColumn.get(col);
    if (!ids) {
      ids = new Set(fetched.map((r) => r[col - 1] ?? ''));
      idsByColumn.set(col, ids);
    }
    const id = row.cells[0] ?? '';
    if (ids.has(id)) continue;
    ids.add(id);
    if (extra.length >= room) continue;
    const cells = row.header ? cellsUnder(row.cells, row.header, headerOf(row.range)) : row.cells;
    const placed = col === 1 ? cells : [...(Array(col - 1).fill('') as string[]), ...cells];
    extra.push(placed);
  }
  if (extra.length === 0 && firstCol === 1) return { values: fetched, added: 0 };
  // Cut to the read's columns like the API: the upstream rows only when the fetch was widened
  // (otherwise they are already as Google cut them), the merged ones always.
  const cut = (cells: readonly string[]) => trimCells(firstCol === 1 && lastCol === undefined ? cells : cells.slice(firstCol - 1, lastCol));
  const upstream = firstCol === 1 ? fetched : fetched.map(cut);
  const values = [...upstream, ...extra.map(cut)];
  // Rows with nothing in the read's columns are not shown at the bottom.
  while (values.length > 0 && (values[values.length - 1]?.length ?? 0) === 0) values.pop();
  const added = Math.max(0, values.length - upstream.length);
  if (upstream === fetched && values.length >= fetched.length) return { values, added, below: values.slice(fetched.length) };
  return { values, added };
}
