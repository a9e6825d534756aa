// Whether a query parameter's percent-encoded bytes are UTF-8. URLSearchParams decodes bytes that
// are not (`%E0%A4`, a sequence cut short) to U+FFFD, so the value a handler reads can no longer
// tell a client's broken encoding from a real U+FFFD: only the query as sent can.

import { isUtf8 } from 'node:buffer';

/** The bytes of one `application/x-www-form-urlencoded` name or value: `+` a space, `%XX` a byte. */
function formBytes(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const hex = ch === '%' ? text.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      // The URL parser already percent-encoded every non-ASCII character of the target as UTF-8;
      // a lone % (not followed by two hex digits) is kept as it is, as URLSearchParams keeps it.
      bytes.push(...Buffer.from(ch === '+' ? ' ' : ch, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

/**
 * The raw values (as sent, still percent-encoded) of the parameters named `name` in `search` (a
 * URL's `search`, `?` included) whose bytes are not UTF-8.
 */
export function nonUtf8Params(search: string, name: string): string[] {
  const bad: string[] = [];
  for (const pair of search.replace(/^\?/, '').split('&')) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (formBytes(key).toString('utf8') !== name) continue;
    const value = eq === -1 ? '' : pair.slice(eq + 1);
    if (!isUtf8(formBytes(value))) bad.push(value);
  }
  return bad;
}
