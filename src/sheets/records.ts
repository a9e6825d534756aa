// Rows keyed by the header row, the way the app wants them. The API trims trailing empty cells
// (a row can be shorter than the header) and may send blank rows in the middle of a tab.

import type { SheetRead, SheetRecords } from './types.js';

// Cached reads hand out the same `values` array until the range changes, so the records built
// from it are kept with it: a hot route does not rebuild twenty objects per request.
const built = new WeakMap<SheetRead['values'], Pick<SheetRecords, 'header' | 'records'>>();
// And a reused answer (the worker client hands out one SheetRead per copy and staleness) gets the
// same SheetRecords back.
const wrapped = new WeakMap<SheetRead, SheetRecords>();

export function toRecords(read: SheetRead): SheetRecords {
  const done = wrapped.get(read);
  if (done) return done;
  let r = built.get(read.values);
  if (!r) {
    r = buildRecords(read.values);
    built.set(read.values, r);
  }
  const records: SheetRecords = { header: r.header, records: r.records, read };
  wrapped.set(read, records);
  return records;
}

function buildRecords(values: SheetRead['values']): Pick<SheetRecords, 'header' | 'records'> {
  const [headerRow, ...rows] = values;
  const header = (headerRow ?? []).map((h) => h.trim());
  const records: Record<string, string>[] = [];
  for (const row of rows) {
    if (row.every((cell) => cell === '')) continue;
    const rec: Record<string, string> = {};
    header.forEach((name, i) => {
      // A column without a header has no key to live under; the app cannot ask for it. A name
      // repeated (`name` and `name `, trimmed alike) keeps its first column, the one lookups of
      // the header find (players.ts, event-columns.ts): the last one's cells took the key, so a
      // second `name` column (empty, or another text) emptied the roster or answered its values.
      if (name !== '' && !Object.hasOwn(rec, name)) rec[name] = row[i] ?? '';
    });
    records.push(Object.freeze(rec));
  }
  return { header: Object.freeze(header), records: Object.freeze(records) };
}
