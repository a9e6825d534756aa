// RFC 4180 CSV, the format of the offline sheet's tabs: fields with commas, quotes or line breaks
// are quoted, a quote inside is doubled; CRLF and LF line ends are both read.

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/** Where the unquoted text from `i` ends: the next comma or line break, or the end. */
function plainEnd(text: string, i: number): number {
  let k = i;
  while (k < text.length) {
    const c = text.charCodeAt(k);
    if (c === COMMA || c === LF || c === CR) break;
    k++;
  }
  return k;
}

/**
 * Each field is cut from the text in one slice (a quoted one in one per doubled quote), not built a
 * character at a time: the keeper parses a whole tab at its first read of it (its header row, the
 * journal's read-back), and the char-by-char loop held its one thread about 1 s per 100k events
 * (10 s at 400k), past CORRAL_TIMEOUT towards a million; this takes a fifth of that or less.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  const n = text.length;
  // A UTF-8 BOM from spreadsheet exports is not part of the first header.
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (i >= n) return rows;
  let row: string[] = [];
  for (;;) {
    let field: string;
    /** A quoted field that ends the text with nothing in it and alone on its row, `""`: no row, as a blank line. */
    let closedEmpty = false;
    if (text.charCodeAt(i) === QUOTE) {
      // Quoted: up to the quote that is not doubled, or the end of the text when none closes it.
      field = '';
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q === -1) {
          field += text.slice(from);
          i = n;
          break;
        }
        field += text.slice(from, q);
        if (text.charCodeAt(q + 1) === QUOTE) {
          field += '"';
          from = q + 2;
          continue;
        }
        i = q + 1;
        closedEmpty = field === '';
        break;
      }
      // Text between the closing quote and the delimiter is kept, quotes and all (`"a"b` is ab).
      const end = plainEnd(text, i);
      if (end > i) field += text.slice(i, end);
      i = end;
    } else {
      // A quote inside an unquoted field is text (`a"b`).
      const end = plainEnd(text, i);
      field = text.slice(i, end);
      i = end;
    }
    row.push(field);
    if (i >= n) {
      if (!(closedEmpty && field === '' && row.length === 1)) rows.push(row);
      return rows;
    }
    if (text.charCodeAt(i) === COMMA) {
      i++;
      if (i >= n) {
        // A comma ends the text: the row has an empty last field.
        row.push('');
        rows.push(row);
        return rows;
      }
      continue;
    }
    // CRLF, LF or a lone CR ends the row.
    if (text.charCodeAt(i) === CR && text.charCodeAt(i + 1) === LF) i++;
    i++;
    rows.push(row);
    row = [];
    if (i >= n) return rows;
  }
}

function quoteField(f: string): string {
  return /[",\r\n]/.test(f) || f !== f.trim() ? `"${f.replace(/"/g, '""')}"` : f;
}

export function stringifyCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((r) => `${r.map(quoteField).join(',')}\n`).join('');
}
