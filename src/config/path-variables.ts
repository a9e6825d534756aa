// A path setting naming a shell variable ($HOME, ${STATE_DIRECTORY}) is refused, as one beginning
// with ~ is (setting-value.ts): nothing expands variables in the settings file (dotenv does not,
// and the shell never reads the file), so CORRAL_DATA_DIR=$HOME/corral-data was taken literally and
// start made a directory named "$HOME" under the working directory, with the journal in it.

/** `$NAME` or `${NAME}`, as a shell would expand them. */
const VARIABLE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Why `path` may not be used as written, or undefined when it names no variable. With every
 * variable it names set (to an absolute path where it begins the path), the expansion the
 * operator meant is offered.
 */
export function pathVariableProblem(path: string, env: NodeJS.ProcessEnv): string | undefined {
  const names = [...path.matchAll(VARIABLE)].map((m) => m[1] ?? m[2] ?? '');
  if (names.length === 0) return undefined;
  const shown = [...new Set(names.map((n) => `$${n}`))].join(', ');
  const known = names.every((n) => env[n] !== undefined && env[n] !== '');
  const expanded = known ? path.replace(VARIABLE, (_, braced: string | undefined, bare: string | undefined) => env[braced ?? bare ?? ''] ?? '') : undefined;
  const example = expanded !== undefined && expanded.startsWith('/') ? `: ${expanded}` : '';
  return `a path without ${shown}: nothing expands variables in the settings (not dotenv, not the shell, which never reads the file), so ${shown} would be taken literally, as a part of the path; write the absolute path${example}`;
}
