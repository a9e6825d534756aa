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

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (headerName(a[i]!) !== headerName(b[i]!)) return false;
  return true;
}

/** The rows, built in the order of `builtUnder`, in the order of `current`; or why they cannot be. */
export function remapRows(rows: readonly (readonly string[])[], builtUnder: readonly string[], current: readonly string[]): Remapped {
  if (sameNames(builtUnder, current)) return { ok: true, rows };
  const idName = headerName(builtUnder[0] ?? '');
  if (headerName(current[0] ?? '') !== idName) {
    return { ok: false, problem: `its first column is ${JSON.stringify(current[0] ?? '')}, not ${JSON.stringify(builtUnder[0] ?? '')} (the rows' ids are found in the first column)` };
  }
  // Where each of the rows' columns goes now: the first column of the same name.
  const targetOf = new Map<string, number>();
  current.forEach((cell, j) => {
    const name = headerName(cell);
    if (name !== '' && !targetOf.has(name)) targetOf.set(name, j);
  });
  const target = builtUnder.map((cell, i) => {
    const name = headerName(cell);
    // A name the rows hold twice: its first column is where the writer put the value (the
    // app's rule), the others are empty.
    return name !== '' && builtUnder.findIndex((c) => headerName(c) === name) === i ? targetOf.get(name) : undefined;
  });
  const lost = new Set<string>();
  const out = rows.map((row) => {
    const placed: string[] = [];
    row.forEach((value, i) => {
      if (value === '') return;
      const j = target[i];
      if (j === undefined) {
        lost.add(builtUnder[i] === undefined || headerName(builtUnder[i]!) === '' ? `column ${i + 1} (no name)` : builtUnder[i]!.trim());
        return;
      }
      while (placed.length < j) placed.push('');
      placed[j] = value;
    });
    return placed;
  });
  if (lost.size > 0) return { ok: false, problem: `its header row no longer names ${[...lost].join(', ')}, which the rows have values for` };
  return { ok: true, rows: out };
}
