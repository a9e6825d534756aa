// Read-your-writes: journaled rows not yet seen upstream are appended to a cached read of their
// tab, so a client that just POSTed sees its row on the next GET. Only reads that extend to the
// bottom of the tab get them (a bounded block like A1:E10 is shown as Google has it), and rows
// whose id the upstream value already holds are not shown twice.

import { parseA1 } from '../a1.js';

export interface Merged {
  readonly values: readonly (readonly string[])[];
  readonly added: number;
}

/** Appended rows start at column A (the app appends whole rows to a tab). */
export function mergePending(range: string, values: readonly (readonly string[])[], pending: readonly (readonly string[])[]): Merged {
  if (pending.length === 0) return { values, added: 0 };
  let area: ReturnType<typeof parseA1>['area'];
  try {
    area = parseA1(range).area;
  } catch {
    return { values, added: 0 };
  }
  if (area?.endRow !== undefined) return { values, added: 0 };
  const first = (area?.startCol ?? 1) - 1;
  const last = area?.endCol === undefined ? undefined : area.endCol;
  // The id sits in column A; it is only visible when the read starts there.
  const seen = first === 0 ? new Set(values.map((row) => row[0] ?? '')) : undefined;
  const extra: string[][] = [];
  for (const row of pending) {
    if (seen) {
      const id = row[0] ?? '';
      if (seen.has(id)) continue;
      seen.add(id);
    }
    const cells = row.slice(first, last);
    // The API trims trailing empty cells; merged rows look the same.
    let end = cells.length;
    while (end > 0 && cells[end - 1] === '') end--;
    extra.push(cells.slice(0, end));
  }
  if (extra.length === 0) return { values, added: 0 };
  return { values: [...values, ...extra], added: extra.length };
}
