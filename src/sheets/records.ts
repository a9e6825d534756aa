// Rows keyed by the header row, the way the app wants them. The API trims trailing empty cells
// (a row can be shorter than the header) and may send blank rows in the middle of a tab.

import type { SheetRead, SheetRecords } from './types.js';

export function toRecords(read: SheetRead): SheetRecords {
  const [headerRow, ...rows] = read.values;
  const header = (headerRow ?? []).map((h) => h.trim());
  const records: Record<string, string>[] = [];
  for (const row of rows) {
    if (row.every((cell) => cell === '')) continue;
    const rec: Record<string, string> = {};
    header.forEach((name, i) => {
      // A column without a header has no key to live under; the app cannot ask for it.
      if (name !== '') rec[name] = row[i] ?? '';
    });
    records.push(rec);
  }
  return { header, records, read };
}
