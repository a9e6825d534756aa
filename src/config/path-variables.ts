// A path setting naming a shell variable ($HOME, ${STATE_DIRECTORY}) is refused, as one beginning
// with ~ is (setting-value.ts): nothing expands variables in the settings file (dotenv does not,
// and the shell never reads the file), so CORRAL_DATA_DIR=$HOME/corral-data was taken literally and
// start made a directory named "$HOME" under the working directory, with the journal in it.

/**
 * `$NAME` or `${NAME}`, as a shell would expand them, and the shell's (and docker compose's)
 * `${NAME:-default}`, `${NAME-default}`, `${NAME:=default}`, `${NAME:?message}`, `${NAME:+alt}`
 * forms: `CORRAL_DATA_DIR=${STATE_DIRECTORY:-/var/lib/corral}` was taken literally too, a
 * directory named `${STATE_DIRECTORY:-` made under the working directory, the journal in it.
 */
const VARIABLE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** What a shell makes of one reference, or undefined where it would fail (`${NAME:?}` unset). */
function expandOne(env: NodeJS.ProcessEnv, name: string, op: string | undefined, word: string): string | undefined {
  const value = env[name];
  const set = op?.startsWith(':') ? value !== undefined && value !== '' : value !== undefined;
  switch (op?.replace(':', '')) {
    case undefined:
      return value;
    case '-':
    case '=':
      return set ? value : word;
    case '?':
      return set ? value : undefined;
    case '+':
      return set ? word : '';
    default:
      return undefined;
  }
}

/**
 * Why `path` may not be used as written, or undefined when it names no variable. Where a shell
 * would expand every reference to something (to an absolute path where it begins the path), the
 * expansion the operator meant is offered.
 */
export function pathVariableProblem(path: string, env: NodeJS.ProcessEnv): string | undefined {
  const found = pathVariables(path, env);
  if (found === undefined) return undefined;
  const { shown, expanded } = found;
  const example = expanded !== undefined && expanded.startsWith('/') ? `: ${expanded}` : '';
  return `a path without ${shown}: nothing expands variables in the settings (not dotenv, not the shell, which never reads the file), so ${shown} would be taken literally, as a part of the path; write the absolute path${example}`;
}

/**
 * The variables `path` names (`$HOME, $X`), and what a shell would make of it where it would
 * expand every one (undefined: not known here); undefined when it names none. Also for
 * CORRAL_ENV_FILE not found (env-file.ts).
 */
export function pathVariables(path: string, env: NodeJS.ProcessEnv): { shown: string; expanded: string | undefined } | undefined {
  const refs = [...path.matchAll(VARIABLE)].map((m) => ({ name: m[1] ?? m[4] ?? '', op: m[2], word: m[3] ?? '' }));
  if (refs.length === 0) return undefined;
  const shown = [...new Set(refs.map((r) => `$${r.name}`))].join(', ');
  // A plain reference to a variable unset or empty here offers nothing (as before); a default
  // written in it (`${X:-/var/lib/corral}`) is what the shell would use.
  const known = refs.every((r) => (r.op === undefined ? env[r.name] !== undefined && env[r.name] !== '' : expandOne(env, r.name, r.op, r.word) !== undefined));
  const expanded = known
    ? path.replace(VARIABLE, (_m, braced: string | undefined, op: string | undefined, word: string | undefined, bare: string | undefined) => expandOne(env, braced ?? bare ?? '', op, word ?? '') ?? '')
    : undefined;
  return { shown, expanded };
}
