// A setting written as a reference to a variable (`SHEET_ID=${MY_SHEET}`,
// `CORRAL_SESSION_SECRET=${SESSION_SECRET}`), as docker compose and dotenv-expand users write it, is
// refused: nothing expands variables in the settings (dotenv.parse does not, systemd's
// EnvironmentFile= and Environment= do not, the shell never reads the file), so the value was the
// text itself, accepted without a word. SHEET_ID=${MY_SHEET} had the keeper ask Google for a
// spreadsheet named `${MY_SHEET}` (404 at every call, behind a master that said ready), and a
// session secret or admin token "set" so was the template's text, known to whoever reads it.
// Path settings have their own check, which offers the expansion meant (path-variables.ts).

/** `${NAME}`, and the shell's `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}` forms. */
const BRACED = /\$\{[A-Za-z_][A-Za-z0-9_]*(?:[:]?[-=?+][^}]*)?\}/;
/** The whole value one bare `$NAME`. */
const BARE_WHOLE = /^\$[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * The same, for a secret: in the upper case of variable names only, as a generated token could
 * begin with `$` (`$ecret...`): refusing that would refuse a real token.
 */
const BARE_WHOLE_SECRET = /^\$[A-Z_][A-Z0-9_]*$/;

/**
 * Why `raw` cannot be taken as written, or undefined. A braced reference anywhere in the value
 * (none is in a real value: an id, a number, a token), or a value that is one bare `$NAME` alone:
 * a bare `$` inside a value is often its own (`Events!$A$1:$D`, a proxy password). A secret's
 * reference is not repeated: were it part of a real secret, it would be shown.
 */
export function variableReferenceProblem(raw: string, secret: boolean): string | undefined {
  const t = raw.trim();
  const braced = BRACED.exec(t)?.[0];
  const bare = (secret ? BARE_WHOLE_SECRET : BARE_WHOLE).test(t) ? t : undefined;
  const ref = braced ?? bare;
  if (ref === undefined) return undefined;
  const what = secret ? 'the $NAME or ${NAME} in it' : ref;
  return `the value itself, not a variable reference: nothing expands variables in the settings (not dotenv, not systemd's EnvironmentFile= or Environment=, not the shell, which never reads the file), so ${what} would be taken literally, as the value; write the value itself`;
}
