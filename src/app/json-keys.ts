// Repeated keys in a JSON object. JSON.parse keeps the last of `{"name":"a","name":"b"}` without a
// word, while a proxy, a WAF or a log reader in front may take the first: the two would disagree
// on what was sent. RFC 8259 §4 leaves such objects' meaning to each reader; I-JSON (RFC 7493
// §2.3) forbids them, and so does the app.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * The first key that appears twice in the outermost object of `text`, compared after unescaping
 * (`"n\u0061me"` is `name`), or undefined. `text` must be valid JSON (JSON.parse accepted it):
 * this walks it without checking its grammar. Keys of nested objects are not looked at.
 */
export function repeatedTopLevelKey(text: string): string | undefined {
  let seen: Set<string> | undefined;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) {
          escaped = true;
          i++;
        } else if (d === QUOTE) break;
      }
      if (depth !== 1) continue;
      let next = i + 1;
      while (next < text.length && isJsonSpace(text.charCodeAt(next))) next++;
      if (text.charCodeAt(next) !== COLON) continue;
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      seen ??= new Set();
      if (seen.has(key)) return key;
      seen.add(key);
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}
