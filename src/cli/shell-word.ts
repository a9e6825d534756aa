// A value as a command prints it for pasting into a shell: quoted when it holds a blank or a
// character a shell reads (a path with a space was cut at it). A .env line takes it too, but for
// a value holding a single quote, whose escape dotenv does not undo (env-file-word.ts spells it
// for a .env).

export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
