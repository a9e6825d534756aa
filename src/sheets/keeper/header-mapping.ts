// Rows journaled with the header row they were built under (an append's `header`) are written under
// the header the tab has when they are sent, and shown under the header a read of the tab finds.
//
// Why: a writer builds a row in the order of the header it last read, through caches, and the row
// may wait in the journal for minutes (an outage of Google) before it is sent. An organiser who
// reorders or inserts columns meanwhile got the rows written in the old order under the new
// columns, and acknowledged: data in the wrong column, found by hand. Mapped by name at send time,
// each value goes under its own header whatever happened to the tab since the row was built.
//
// Names are compared trimmed and case-insensitively, as the app finds its columns. A name the
// current header holds twice gets the value under its first column (the app's rule). The first
// column is the row's id, which the journal's read-back finds in the range's first column: a
// header whose first name changed, or that lost a name with a value in the rows, is no header the
// rows can be written under, and they wait for it to be fixed rather than be written misplaced.

export type Remapped =
  | { readonly ok: true; readonly rows: readonly (readonly string[])[] }
  | { readonly ok: false; readonly problem: string };

/** A header cell as it is compared. */
export function headerName(cell: string): string {
  return cell.trim().toLowerCase();
}

/** Where each column of rows built under one header goes under another, worked out once per pair. */
interface Plan {
  readonly same: boolean;
  /** Why no row can go under it: another first column. */
  readonly idProblem: string | undefined;
  /** Per column the rows were built under: the column it goes to, or undefined (a name the other lacks, no name, a repeat). */
  readonly target: readonly (number | undefined)[];
}

// Keyed by the arrays themselves: the journal interns the headers rows were built under
// (internHeader), and a cached read hands out the same header row until the tab changes, so a read
// of a tab with many journaled rows works the plan out once, not per row.
const plans = new WeakMap<readonly string[], WeakMap<readonly string[], Plan>>();

function planFor(builtUnder: readonly string[], current: readonly string[]): Plan {
  let byCurrent = plans.get(builtUnder);
  if (!byCurrent) plans.set(builtUnder, (byCurrent = new WeakMap()));
  let plan = byCurrent.get(current);
  if (!plan) byCurrent.set(current, (plan = makePlan(builtUnder, current)));
  return plan;
}

function makePlan(builtUnder: readonly string[], current: readonly string[]): Plan {
  const built = builtUnder.map(headerName);
  const now = current.map(headerName);
  const same = built.length === now.length && built.every((n, i) => n === now[i]);
  const idProblem = now[0] === built[0] ? undefined : `its first column is ${JSON.stringify(current[0] ?? '')}, not ${JSON.stringify(builtUnder[0] ?? '')} (the rows' ids are found in the first column)`;
  // Where each name goes now: the first column of that name.
  const targetOf = new Map<string, number>();
  now.forEach((name, j) => {
    if (name !== '' && !targetOf.has(name)) targetOf.set(name, j);
  });
  // A name the rows hold twice: its first column is where the writer put the value (the app's
  // rule), the others are left out.
  const seen = new Set<string>();
  const target = built.map((name) => {
    if (name === '' || seen.has(name)) return undefined;
    seen.add(name);
    return targetOf.get(name);
  });
  return { same, idProblem, target };
}

function lostName(builtUnder: readonly string[], i: number): string {
  const cell = builtUnder[i];
  return cell === undefined || headerName(cell) === '' ? `column ${i + 1} (no name)` : cell.trim();
}

/**
 * The rows, built in the order of `builtUnder`, in the order of `current`; or why they cannot be.
 * `dropLost`: values under a name `current` lacks are left out rather than refusing the rows (a
 * read showing journaled rows under the columns it holds; the flusher never drops a value).
 */
export function remapRows(rows: readonly (readonly string[])[], builtUnder: readonly string[], current: readonly string[], opts: { dropLost?: boolean } = {}): Remapped {
  const plan = planFor(builtUnder, current);
  if (plan.same) return { ok: true, rows };
  if (plan.idProblem !== undefined) return { ok: false, problem: plan.idProblem };
  const lost = new Set<string>();
  const out = rows.map((row) => {
    const placed: string[] = [];
    for (let i = 0; i < row.length; i++) {
      const value = row[i]!;
      if (value === '') continue;
      const j = plan.target[i];
      if (j === undefined) {
        if (!opts.dropLost) lost.add(lostName(builtUnder, i));
        continue;
      }
      while (placed.length < j) placed.push('');
      placed[j] = value;
    }
    return placed;
  });
  if (lost.size > 0) return { ok: false, problem: `its header row no longer names ${[...lost].join(', ')}, which the rows have values for` };
  return { ok: true, rows: out };
}

/** Distinct headers interned at most: beyond, each is kept as given (a plan per array, still correct). */
const INTERNED_MAX = 256;
const interned = new Map<string, readonly string[]>();

/**
 * The one array for a header's cells: every entry journaled under the same header shares it (one
 * copy in memory, one plan per header copy read).
 */
export function internHeader(cells: readonly string[]): readonly string[] {
  const key = JSON.stringify(cells);
  const known = interned.get(key);
  if (known) return known;
  if (interned.size < INTERNED_MAX) interned.set(key, cells);
  return cells;
}
