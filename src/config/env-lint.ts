// What dotenv passes over without a word, said to the operator. dotenv keeps the last of names set
// twice, so one who edits the first of two `CORRAL_WORKERS=` lines sees no effect and no reason;
// and it skips a line that is not an assignment (`CORRAL_WORKERS 8`, `CORRAL WORKERS=8`), so a
// typo leaves the default in force as if the line were not there. Both are named with their lines.

/** A `NAME=` or `NAME: ` line start, as dotenv reads it (optional `export `). */
const ASSIGNMENT = /^\s*(?:export\s+)?([\w.-]+)(?:\s*=|:\s)\s*(.*)$/;

export interface DuplicateKey {
  readonly name: string;
  /** 1-based line numbers, in file order; dotenv uses the last. */
  readonly lines: readonly number[];
}

export interface IgnoredLine {
  /** 1-based. */
  readonly line: number;
  /** The word the line begins with, when it looks like a name; the rest may be a secret, never shown. */
  readonly begins: string | undefined;
}

export interface EnvLint {
  /** The line each name's value comes from (the last that sets it, as dotenv keeps), 1-based. */
  readonly lineOf: ReadonlyMap<string, number>;
  readonly duplicates: readonly DuplicateKey[];
  readonly ignored: readonly IgnoredLine[];
}

export function lintEnvText(text: string): EnvLint {
  const seen = new Map<string, number[]>();
  const ignored: IgnoredLine[] = [];
  let openQuote: string | undefined;
  // dotenv reads \r\n and a lone \r as line ends.
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n?|\n/);
  lines.forEach((line, i) => {
    // Lines inside a multi-line quoted value are part of that value, whatever they look like.
    if (openQuote !== undefined) {
      if (line.includes(openQuote)) openQuote = undefined;
      return;
    }
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const m = ASSIGNMENT.exec(line);
    if (!m) {
      const word = /^(?:export\s+)?([\w.-]{1,64})/.exec(trimmed)?.[1];
      ignored.push({ line: i + 1, begins: word });
      return;
    }
    const [, name = '', value = ''] = m;
    const quote = value[0];
    if ((quote === '"' || quote === "'" || quote === '`') && !value.slice(1).includes(quote)) openQuote = quote;
    seen.set(name, [...(seen.get(name) ?? []), i + 1]);
  });
  return { lineOf: new Map([...seen].map(([name, at]) => [name, at[at.length - 1] ?? 0])), duplicates: [...seen].filter(([, at]) => at.length > 1).map(([name, at]) => ({ name, lines: at })), ignored };
}
