// Names set more than once in a .env file. dotenv keeps the last value without a word, so an
// operator who appends `CORRAL_WORKERS=8` below an old `CORRAL_WORKERS=4` is right, but one who
// edits the first of two lines sees no effect and no reason; the warning names both lines.

/** A `NAME=` or `NAME: ` line start, as dotenv reads it (optional `export `). */
const ASSIGNMENT = /^\s*(?:export\s+)?([\w.-]+)(?:\s*=|:\s)\s*(.*)$/;

export interface DuplicateKey {
  readonly name: string;
  /** 1-based line numbers, in file order; dotenv uses the last. */
  readonly lines: readonly number[];
}

export function duplicateKeys(text: string): DuplicateKey[] {
  const seen = new Map<string, number[]>();
  let openQuote: string | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, i) => {
    // Lines inside a multi-line quoted value are part of that value, whatever they look like.
    if (openQuote !== undefined) {
      if (line.includes(openQuote)) openQuote = undefined;
      return;
    }
    const m = ASSIGNMENT.exec(line);
    if (!m) return;
    const [, name = '', value = ''] = m;
    const quote = value[0];
    if ((quote === '"' || quote === "'" || quote === '`') && !value.slice(1).includes(quote)) openQuote = quote;
    seen.set(name, [...(seen.get(name) ?? []), i + 1]);
  });
  return [...seen].filter(([, at]) => at.length > 1).map(([name, at]) => ({ name, lines: at }));
}
