// RFC 4180 CSV, the format of the offline sheet's tabs: fields with commas, quotes or line breaks
// are quoted, a quote inside is doubled; CRLF and LF line ends are both read.

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  // A UTF-8 BOM from spreadsheet exports is not part of the first header.
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  const endField = () => {
    row.push(field);
    field = '';
  };
  const endRow = () => {
    endField();
    rows.push(row);
    row = [];
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
      continue;
    }
    if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') endField();
    else if (ch === '\n') endRow();
    else if (ch === '\r') {
      if (text[i + 1] === '\n') i++;
      endRow();
    } else field += ch;
  }
  if (field !== '' || row.length > 0 || quoted) endRow();
  return rows;
}

function quoteField(f: string): string {
  return /[",\r\n]/.test(f) || f !== f.trim() ? `"${f.replace(/"/g, '""')}"` : f;
}

export function stringifyCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((r) => `${r.map(quoteField).join(',')}\n`).join('');
}
