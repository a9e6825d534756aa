// What dotenv passes over without a word, said to the operator. dotenv keeps the last of names set
// twice, so one who edits the first of two `CORRAL_WORKERS=` lines sees no effect and no reason;
// it skips a line that is not an assignment (`CORRAL_WORKERS 8`, `CORRAL WORKERS=8`), so a typo
// leaves the default in force as if the line were not there; and it ends an unquoted value at its
// first `#`, so `CORRAL_ADMIN_TOKEN=abc#def` is the token `abc`. Each is named with its line.
// And it keeps an opening quote that nothing closes as part of the value, so
// `CORRAL_PIDFILE="/run/corral.pid` is the relative path `"/run/corral.pid`: setting-value.ts
// refuses that one for a setting it reads, and lintWarnings warns of it for any other name.

import { IGNORED_WITH_NOTE, META_SETTINGS, settingNames } from './schema.js';

/**
 * dotenv's own LINE pattern, copied from dotenv 18.0.10 (dist/index.cjs: the parser `parse(text)`
 * uses without `{ fast: true }`, as env-file.ts calls it), which does not export it. Value boundaries
 * found with anything else disagreed with the parser: an unclosed `"` (dotenv reads it literally,
 * on its one line) made every line after it "part of the value", and `\"` inside a quoted value
 * spanning lines ended it early, so its next line was said to be ignored. With `d` for the value's
 * indices. Check it again when dotenv is upgraded (the env-lint unit test compares the two).
 */
const LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/dgm;

export interface DuplicateKey {
  readonly name: string;
  /** 1-based line numbers, in file order; dotenv uses the last. */
  readonly lines: readonly number[];
}

export interface IgnoredLine {
  /** 1-based. */
  readonly line: number;
  /** The word the line begins with, when it looks like a name (looksLikeName); the rest may be a secret, never shown. */
  readonly begins: string | undefined;
}

/** An unquoted value that dotenv ends at a `#` written right after it (no space: not a comment). */
export interface CutAtHash {
  /** 1-based. */
  readonly line: number;
  readonly name: string;
}

/**
 * A value whose text begins with `"`, `'` or `` ` `` that dotenv found no closing quote for: it read
 * the value unquoted, on its one line, the quote kept as its first character. A quote closed on a
 * later line (a multi-line value) is closed; so is one followed by more text (`'My Sheet'!A1:C`,
 * a Sheets range, which dotenv keeps as written).
 */
export interface UnclosedQuote {
  /** 1-based. */
  readonly line: number;
  readonly name: string;
  readonly quote: '"' | "'" | '`';
}

/**
 * A quoted value spanning lines that holds lines reading as settings (`NAME=value`): dotenv takes
 * them as part of that value, not as settings, without a word (a quote left open at the end of a
 * token, closed by a quote further down the file, swallowed every setting in between).
 */
export interface SwallowedLines {
  /** 1-based: the line of the value's name, and the inner lines that read as settings. */
  readonly line: number;
  readonly name: string;
  readonly lines: readonly { readonly line: number; readonly name: string }[];
  /** 1-based: the line of the quote that closes the value. */
  readonly closedAt: number;
}

export interface EnvLint {
  /** The line each name's value comes from (the last that sets it, as dotenv keeps), 1-based. */
  readonly lineOf: ReadonlyMap<string, number>;
  readonly duplicates: readonly DuplicateKey[];
  readonly ignored: readonly IgnoredLine[];
  readonly cutAtHash: readonly CutAtHash[];
  /** Every line whose value begins with a quote never closed, the earlier of a name set twice too. */
  readonly unclosedQuotes: readonly UnclosedQuote[];
  readonly swallowed: readonly SwallowedLines[];
}

/** An inner line of a quoted value that reads as a setting: an upper-case name, `=`. */
const SETTING_LINE = /^\s*(?:export\s+)?([A-Z][A-Z0-9_]{2,63})\s*=/;

/** The first words of the settings' names: CORRAL, SHEET, SHEETS, GOOGLE, REDIS, HTTP, NO, GUNICORN... */
const FIRST_WORDS: ReadonlySet<string> = new Set([...settingNames, ...Object.keys(META_SETTINGS), ...Object.keys(IGNORED_WITH_NOTE)].map((n) => n.split('_')[0] ?? n));

/**
 * Whether the first word of a line that is not NAME=value may be shown: a name, in the shape of an
 * environment variable's (upper case, words joined by `_`) or a setting's first word (`CORRAL
 * WORKERS=8`). A line that begins otherwise is most often the rest of a value broken across lines
 * without quotes: the body of a private key's PEM (`MIIEvgIBADAN...`, some thirty of them), a token
 * pasted on the line after its name; its first word was shown, up to 64 characters of it.
 */
function looksLikeName(word: string): boolean {
  if (!/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/.test(word)) return false;
  return word.includes('_') || FIRST_WORDS.has(word);
}

const QUOTED = /^\s*(['"`])[\s\S]*\1$/;

export function lintEnvText(raw: string): EnvLint {
  // dotenv reads \r\n and a lone \r as line ends, and so do the line numbers here.
  const text = raw.replace(/\r\n?/g, '\n');
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  /** 0-based line of a character offset. */
  const lineAt = (offset: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };

  const seen = new Map<string, number[]>();
  const covered = new Set<number>();
  const cutAtHash: CutAtHash[] = [];
  const unclosedQuotes: UnclosedQuote[] = [];
  const swallowed: SwallowedLines[] = [];
  const lines = text.split('\n');
  for (const m of text.matchAll(LINE)) {
    const [nameStart, nameEnd] = m.indices?.[1] ?? [0, 0];
    const name = m[1] ?? '';
    const first = lineAt(nameStart);
    const last = lineAt(Math.max(nameStart, (m.index ?? 0) + m[0].length - 1));
    for (let l = first; l <= last; l++) covered.add(l);
    seen.set(name, [...(seen.get(name) ?? []), first + 1]);
    const value = m[2];
    // Where dotenv stopped reading the value: after it, or (none) right after the `=` or `: `.
    const valueEnd = value !== undefined ? (m.indices?.[2]?.[1] ?? 0) : nameEnd + (/^\s*=|^:\s/.exec(text.slice(nameEnd))?.[0].length ?? 0);
    const quoted = value !== undefined && QUOTED.test(value) && value.trim().length > 1;
    // The line of the closing quote: the match itself runs on over blank and comment lines after it.
    const closing = quoted ? lineAt(Math.max(nameStart, valueEnd - 1)) : first;
    if (closing > first) {
      const inner: { line: number; name: string }[] = [];
      for (let l = first + 1; l <= closing; l++) {
        const found = SETTING_LINE.exec(lines[l] ?? '')?.[1];
        if (found) inner.push({ line: l + 1, name: found });
      }
      if (inner.length > 0) swallowed.push({ line: first + 1, name, lines: inner, closedAt: closing + 1 });
    }
    // What dotenv read (up to a `#` or the line's end), trimmed as it trims it: a quote there with
    // no other of its kind after it is the value's own first character. `A="x#y` is said to be
    // that alone: its fix (close the quote) is not the cut value's (quote the value).
    // Else `value # note` is a comment; `value#more` was most likely meant as one value.
    const read = value?.trim() ?? '';
    const quote = read[0];
    if ((quote === '"' || quote === "'" || quote === '`') && !read.includes(quote, 1)) unclosedQuotes.push({ line: first + 1, name, quote });
    else if (!quoted && text[valueEnd] === '#' && !/\s$/.test(value ?? '')) cutAtHash.push({ line: first + 1, name });
  }
  const ignored: IgnoredLine[] = [];
  lines.forEach((line, i) => {
    const trimmed = line.replace(/^\uFEFF/, '').trim();
    if (covered.has(i) || trimmed === '' || trimmed.startsWith('#')) return;
    const word = /^(?:export\s+)?([\w.-]{1,64})/.exec(trimmed)?.[1];
    ignored.push({ line: i + 1, begins: word !== undefined && looksLikeName(word) ? word : undefined });
  });
  return {
    lineOf: new Map([...seen].map(([name, at]) => [name, at[at.length - 1] ?? 0])),
    duplicates: [...seen].filter(([, at]) => at.length > 1).map(([name, at]) => ({ name, lines: at })),
    ignored,
    cutAtHash,
    unclosedQuotes,
    swallowed,
  };
}

/** A warning about the settings, with the file's line it is of (said in line order), if any. */
export interface LineWarning {
  readonly line: number | undefined;
  readonly text: string;
}

/**
 * What `lint` found, as warnings: every kind, with its line. `fileName`: the file as said; `env`:
 * the environment, whose value wins over a duplicated name's; `said`: the unclosed quotes already
 * refused with the setting read from them (load.ts), not warned of again.
 */
export function lintWarnings(lint: EnvLint, { fileName, env, said }: { fileName: string; env: NodeJS.ProcessEnv; said: ReadonlySet<UnclosedQuote> }): LineWarning[] {
  const warnings: LineWarning[] = [];
  const warnAt = (line: number | undefined, text: string): void => {
    warnings.push({ line, text });
  };
  for (const { line, begins } of lint.ignored) {
    warnAt(line, `line ${line} of ${fileName} is not NAME=value, so it is ignored${begins ? ` (it begins ${begins})` : ''}: write it as NAME=value, or comment it out with #`);
  }
  for (const u of lint.unclosedQuotes) {
    if (said.has(u)) continue;
    // Not the value of a setting corral reads (another program's name, a line set again later, a
    // value the environment overrides): the children get it as dotenv read it. Never shown.
    warnAt(u.line, `line ${u.line} of ${fileName}: the value of ${u.name} begins with ${u.quote}, never closed, so dotenv keeps the ${u.quote} as part of the value: close the quote or remove it`);
  }
  for (const w of lint.swallowed) {
    // Only names: the value and the lines may hold secrets.
    const held = w.lines.map((l) => `${l.name} on line ${l.line}`).join(', ');
    warnAt(
      w.line,
      `line ${w.line} of ${fileName}: the value of ${w.name} is quoted across lines ${w.line} to ${w.closedAt}, and holds lines that read as settings (${held}): dotenv takes them as part of that value, not as settings. If they are settings, close the quote on line ${w.line}`,
    );
  }
  for (const { line, name } of lint.cutAtHash) {
    // The value is never shown: it may be a secret (a token cut short is still refused as short).
    warnAt(line, `line ${line} of ${fileName}: the value of ${name} ends at its "#" (dotenv reads an unquoted value only up to a #), so what follows the # is dropped: if the # is part of the value, quote the value (${name}="..."); if it begins a comment, put a space before it`);
  }
  for (const d of lint.duplicates) {
    const which = env[d.name] !== undefined ? 'and in the environment, whose value is used' : `the last one (line ${d.lines[d.lines.length - 1]}) is used`;
    warnAt(d.lines[0], `${d.name} is set ${d.lines.length} times in ${fileName} (lines ${d.lines.join(', ')}); ${which}: delete the duplicate lines`);
  }
  return warnings;
}
