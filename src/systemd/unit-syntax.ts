// How a path is written into a unit file so that systemd reads back the same path.
//
// systemd.unit(5) "Specifiers": every directive the unit writes a path into expands `%x`, so a
// literal `%` is `%%` (a path containing `%h` would otherwise become the home directory).
// systemd.syntax(7) and systemd.service(5) "Command lines": ExecStart= and the list directives
// (ReadWritePaths=, Environment=) split words on whitespace and remove quotes and backslash escapes,
// so such a word is double-quoted; ExecStart= also expands `$NAME`, so a literal `$` is `$$`.
// WorkingDirectory= and EnvironmentFile= take the rest of the line verbatim (no quote removal) but
// trim it, as every value is trimmed. A line ends at a newline, so control characters, and a path
// ending in whitespace, cannot be written at all: assertUnitPath refuses them.

import { posix } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Refuses what no directive could carry: relative paths, control characters, trailing whitespace. */
export function assertUnitPath(name: string, value: string): void {
  if (!posix.isAbsolute(value)) throw new TypeError(`${name} must be an absolute path, got ${JSON.stringify(value)}`);
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new TypeError(`${name} contains a control character (newline, tab...), which a systemd unit file cannot hold: ${JSON.stringify(value)}`);
  }
  if (/\s$/.test(value)) throw new TypeError(`${name} ends in whitespace, which systemd trims from every value: ${JSON.stringify(value)}`);
  // Written verbatim (WorkingDirectory=, EnvironmentFile=), a line ending in a backslash continues
  // on the next: the directive after it was swallowed, and systemd-analyze verify said nothing.
  if (value.endsWith('\\')) throw new TypeError(`${name} ends in a backslash, which systemd reads as a line continuation, swallowing the next line: ${JSON.stringify(value)}`);
}

/** A value of a directive that expands specifiers and takes the line verbatim (WorkingDirectory=, EnvironmentFile=). */
export function verbatim(value: string): string {
  return value.replaceAll('%', '%%');
}

/** One word of a whitespace-separated list (ReadWritePaths=, Environment=): quoted only when it needs to be. */
export function listWord(value: string): string {
  const word = /[\s"'\\]/.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : value;
  return verbatim(word);
}

/** One argument of an ExecStart= command line: a list word in which `$` is not a variable. */
export function execWord(value: string): string {
  return listWord(value).replaceAll('$', '$$$$');
}

/**
 * The executable of an ExecStart= command line (its first word). systemd expands `$VAR` in the
 * arguments only, not in the executable's path: written `$$` like an argument, the path named no
 * file (`Command ... is not executable`, status=203/EXEC at start). A path holding a quote or a
 * backslash it refuses outright ("Executable name contains special characters": the unit does not
 * load), which assertExecutablePath says before a unit is written.
 */
export function execProgram(value: string): string {
  return listWord(value);
}

/** Refuses an executable path systemd would not run (string_is_safe in its config_parse_exec). */
export function assertExecutablePath(name: string, value: string): void {
  if (/["'\\]/.test(value)) {
    throw new TypeError(`${name} holds a quote or a backslash, which systemd refuses in the path of a command it runs ("Executable name contains special characters": the unit would not load): ${JSON.stringify(value)}; use a path without them (a symbolic link to it will do)`);
  }
}

/**
 * A Documentation= URL for a local file: percent-encoded (the list splits on spaces and quotes:
 * pathToFileURL leaves `'` as it is, and a line holding one was "Invalid syntax"), then
 * specifier-escaped.
 */
export function fileUrl(path: string): string {
  return verbatim(`file:${pathToFileURL(path).pathname.replaceAll("'", '%27')}`);
}
