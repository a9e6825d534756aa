// RFC 4180 CSV: CRLF line ends, fields quoted when they hold a comma, quote, CR/LF or edge spaces.

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Rows to CSV text. Short rows (the Sheets API trims trailing empty cells) are padded to `width`. */
export function csvRows(rows: readonly (readonly string[])[], width: number): string {
  let out = '';
  for (const row of rows) {
    const cells: string[] = [];
    const n = Math.max(width, row.length);
    for (let i = 0; i < n; i++) cells.push(csvField(row[i] ?? ''));
    out += `${cells.join(',')}\r\n`;
  }
  return out;
}
