// Where a JSON file edited by hand (a --profile, a --users-file) stops being JSON. Node 20's
// JSON.parse says only "at position 67", a count of characters nobody can find in an editor; Node 22
// adds "(line 3 column 5)". The line and column are said either way.

/**
 * JSON.parse's message for `text`, with the line and column (both from 1) of the position it names
 * when it does not say them already.
 */
export function jsonSyntaxMessage(text: string, err: unknown): string {
  const message = (err as Error).message;
  const at = /at position (\d+)/.exec(message);
  if (at === null || /\bline \d+/.test(message)) return message;
  const position = Math.min(Number(at[1]), text.length);
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - (before.lastIndexOf('\n') + 1) + 1;
  return `${message} (line ${line} column ${column})`;
}
