// Repeated keys in a JSON object. JSON.parse keeps the last of `{"name":"a","name":"b"}` without a
// word, while a proxy, a WAF or a log reader in front may take the first: the two would disagree
// on what was sent. RFC 8259 §4 leaves such objects' meaning to each reader; I-JSON (RFC 7493
// §2.3) forbids them, and so do the app (request bodies) and `corral loadtest --profile` (a file
// edited by hand, where a phase written twice would silently lose the first).

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** An object or array being walked: the keys seen so far, or the index reached. */
interface Frame {
  readonly array: boolean;
  keys: Set<string> | undefined;
  key: string | undefined;
  index: number;
}

/**
 * Walks the keys of every object of `text` in document order (keys unescaped: `"n\u0061me"` is
 * `name`), calling `visit` with the open objects and arrays around each key (the innermost, the
 * key's object, last) until it returns true. With `nested` false, the outermost object's keys
 * alone are visited. `text` must be valid JSON (JSON.parse accepted it): this walks it without
 * checking its grammar. JSON.parse cannot tell key order (it puts integer-like keys first).
 */
function walkKeys(text: string, nested: boolean, visit: (frames: readonly Frame[], key: string) => boolean): void {
  const frames: Frame[] = [];
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
      const top = frames[frames.length - 1];
      if (top === undefined || top.array || (!nested && frames.length !== 1)) continue;
      let next = i + 1;
      while (next < text.length && isJsonSpace(text.charCodeAt(next))) next++;
      if (text.charCodeAt(next) !== COLON) continue;
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      if (visit(frames, key)) return;
      top.key = key;
    } else if (c === 0x7b || c === 0x5b) frames.push({ array: c === 0x5b, keys: undefined, key: undefined, index: 0 });
    else if (c === 0x7d || c === 0x5d) frames.pop();
    else if (c === COMMA) {
      const top = frames[frames.length - 1];
      if (top?.array) top.index++;
    }
  }
}

/** The path to the first key that appears twice in one object of `text`, or undefined (see walkKeys). */
function firstRepeatedKey(text: string, nested: boolean): (string | number)[] | undefined {
  let found: (string | number)[] | undefined;
  walkKeys(text, nested, (frames, key) => {
    const top = frames[frames.length - 1] as Frame;
    top.keys ??= new Set();
    if (top.keys.has(key)) {
      found = [...frames.slice(0, -1).map((f) => (f.array ? f.index : (f.key ?? ''))), key];
      return true;
    }
    top.keys.add(key);
    return false;
  });
  return found;
}

/**
 * The keys of the object that is the value of the outermost object's `field`, in the order
 * `text` writes them (`{"sheets": {"Players": …, "2024": …}}` gives Players, 2024, where
 * Object.keys of the parsed value gives 2024 first).
 */
export function keysInOrderOf(text: string, field: string): string[] {
  const keys: string[] = [];
  walkKeys(text, true, (frames, key) => {
    const [outer, inner] = frames;
    if (frames.length === 2 && outer?.key === field && inner?.array === false) keys.push(key);
    return false;
  });
  return keys;
}

/** The first key that appears twice in the outermost object of `text`, or undefined. Keys of nested objects are not looked at. */
export function repeatedTopLevelKey(text: string): string | undefined {
  return firstRepeatedKey(text, false)?.[0] as string | undefined;
}

/**
 * The first key that appears twice in any object of `text`, as a path (`users.distribution.plateau`,
 * `list[2].name`), or undefined.
 */
export function repeatedKeyPath(text: string): string | undefined {
  const path = firstRepeatedKey(text, true);
  return path?.map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? p : `.${p}`)).join('');
}
