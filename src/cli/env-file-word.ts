// A value as a settings file (.env, read by dotenv) takes it back unchanged, or undefined when no
// spelling does. The emulator's `use:` line is pasted into a shell or a .env, and the shell's
// quoting of a single quote ('\'') is not undone by dotenv, which keeps a quoted value's text as
// it is: a .env needs a spelling of its own.

import dotenv from 'dotenv';

/**
 * The first spelling dotenv reads back as `value`: `preferred` (the shell's, so that one line
 * serves both where it can), bare, then in single, double or back quotes
 * (it strips one pair and changes nothing inside, except `\n` and `\r` in double quotes). Each is
 * tried with dotenv itself, the parser corral reads its settings file with (config/env-file.ts),
 * rather than by rules of ours about its grammar (a backslash before the closing quote, a ` #`).
 */
export function envFileWord(value: string, preferred?: string): string | undefined {
  const spellings = [...(preferred === undefined ? [] : [preferred]), value, `'${value}'`, `"${value}"`, `\`${value}\``];
  return spellings.find((spelling) => dotenv.parse(`K=${spelling}\n`).K === value);
}
