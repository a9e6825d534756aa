// One setting's value as given: which name gave it (its own, its lower case form, a deprecated
// alias) and what its text makes, a value or the reason it is refused. The refusals here are of
// mistakes no setting's own parser can know: a quote dotenv kept, a variable nothing expands, a ~,
// a word meant as the default. Judged per value, so that a command that needs only some settings
// (judgeOnly) warns of the others like of any invalid value.

import { isAbsolute, resolve } from 'node:path';
import type { UnclosedQuote } from './env-lint.js';
import { pathVariableProblem } from './path-variables.js';
import type { SettingName } from './schema.js';
import { shownRaw } from './shown-value.js';
import type { ParseResult, SettingSpec } from './spec.js';
import { variableReferenceProblem } from './value-variables.js';

export type SettingSource = 'default' | '.env' | 'environment' | `alias ${string}`;

/** Settings holding file paths, resolved against the working directory at load time. */
export const PATH_SETTINGS: readonly SettingName[] = ['CORRAL_PIDFILE', 'CORRAL_LOG_FILE', 'CORRAL_DATA_DIR', 'GOOGLE_APPLICATION_CREDENTIALS', 'REDIS_TLS_CA_FILE'];

/**
 * Settings whose ~ and $NAME are refused as a path's: the paths, and CORRAL_APP, which may name a
 * file (not resolved here: it may be a package name). CORRAL_APP=~/app.mjs was refused as a
 * package "~" to `npm install`, and $HOME/app.mjs as a package "$HOME".
 */
const UNEXPANDED_CHECKED: readonly SettingName[] = [...PATH_SETTINGS, 'CORRAL_APP'];

/**
 * A path as a shell would have expanded it (~, $HOME), refused as an invalid value: nothing here
 * expands it. Judged with the value, so that `corral stop` or `status` (judgeOnly) warn of it in a
 * setting they do not need, as of any invalid value, rather than refuse to stop the master.
 */
function unexpandedPath(name: SettingName, parsed: ParseResult<unknown>, env: NodeJS.ProcessEnv): ParseResult<unknown> {
  if (!parsed.ok || !UNEXPANDED_CHECKED.includes(name) || typeof parsed.value !== 'string') return parsed;
  const literally = name === 'CORRAL_APP' ? 'so it would be read as the name of a package, "~"' : 'so it would be a directory named "~" under the working directory';
  const why = blankEndsProblem(parsed.value) ?? tildeProblem(parsed.value, env.HOME, literally) ?? pathVariableProblem(parsed.value, env);
  return why ? { ok: false, allowed: why } : parsed;
}

/**
 * Why a path may not begin or end with blank space, or undefined. dotenv trims an unquoted value,
 * but keeps the space inside quotes (`CORRAL_DATA_DIR="/var/lib/corral "`), and so does the
 * environment (a unit's Environment=, a container's env file with Windows line ends: `\r`): the
 * space was part of the name, and the journal went to a directory beside the one meant, where it
 * stayed when the value was corrected; the log to a file logrotate does not name.
 */
function blankEndsProblem(path: string): string | undefined {
  const trimmed = path.trim();
  if (trimmed === path) return undefined;
  if (trimmed === '') return 'a path, and this one is blank space alone: leave it empty for the default, or unset it';
  const [blank, end] = path.startsWith(trimmed) ? [path.slice(trimmed.length), 'end'] : [path.slice(0, path.indexOf(trimmed)), 'start'];
  return `a path without blank space at either end: the ${JSON.stringify(blank)} at its ${end} would be part of the name (${JSON.stringify(path)} is not ${JSON.stringify(trimmed)}); remove it`;
}

/**
 * Why a path setting may not begin with `~`, or undefined. Nothing expands it in .env (neither
 * dotenv, nor systemd's EnvironmentFile=, nor the shell, which never reads the file): it was
 * taken literally, CORRAL_DATA_DIR=~/corral-data becoming ./~/corral-data under the working directory.
 */
function tildeProblem(path: string, home: string | undefined, literally: string): string | undefined {
  if (!path.startsWith('~')) return undefined;
  const example = path.startsWith('~/') && home && isAbsolute(home) ? `: ${resolve(home, path.slice(2))}` : ' (e.g. /home/<user>/...)';
  return `an absolute path, without ~: nothing expands ~ in the settings (not dotenv, not systemd), ${literally}; write the absolute path${example}`;
}

/**
 * Why a value whose opening quote nothing closes is refused. dotenv keeps the quote in the value,
 * without a word: CORRAL_PIDFILE="/run/x.pid became the relative path `"/run/x.pid` (start made a
 * directory named `"`), CORRAL_BIND="127.0.0.1:80 a host name `"127.0.0.1`, refused for the wrong
 * reason. A value that does begin with a quote of its own is quoted whole ('"x').
 */
function unclosedQuoteProblem({ quote }: UnclosedQuote): string {
  return `its opening ${quote} is never closed, so dotenv keeps the ${quote} as part of the value: close the quote or remove it (a quoted value may span lines; it ends at its closing ${quote}, followed by nothing but a # comment)`;
}

/**
 * Why a value holding U+FFFD is refused: what UTF-8 decoding, the file's and node's of the
 * environment, makes of bytes that are not UTF-8. A settings file saved as Latin-1 or
 * Windows-1252 (Notepad's "ANSI") had `SHEET_PLAYERS_RANGE=Jöueurs` read as "J\uFFFDueurs", a tab
 * Google does not have, without a word. `fileName`: where the value was read; undefined: the
 * environment.
 */
export function notUtf8Problem(raw: string, fileName: string | undefined): string | undefined {
  if (!raw.includes('\uFFFD')) return undefined;
  return fileName === undefined
    ? 'UTF-8 text, and this value holds bytes that are not UTF-8 (Latin-1 or Windows-1252?): set it as UTF-8 text where the environment sets it (the unit\'s Environment=, the shell)'
    : `UTF-8 text, and this value holds bytes that are not UTF-8 (the file saved as Latin-1 or Windows-1252?): save the file as UTF-8 (e.g. iconv -f WINDOWS-1252 -t UTF-8 ${fileName} > ${fileName}.utf8, then move that into place)`;
}

/** Quotes of typesetting, which word processors, wikis and chats put in place of " and '. */
const TYPOGRAPHIC_QUOTES = '“”„‟‘’‚‛«»‹›';

/**
 * Why a value between typographic quotes is refused, or undefined. A line pasted from a document or
 * a chat (`CORRAL_LOG_FILE=“/var/log/corral/corral.log”`) keeps them: dotenv strips ' " and `
 * only, so the log was a relative path beginning with “, a file made in the working directory, and
 * `SHEET_PLAYERS_RANGE=‘Players’` a tab Google does not have. Within a value they are its own.
 */
function typographicQuotesProblem(raw: string): string | undefined {
  const t = raw.trim();
  const first = t[0];
  const last = t.at(-1);
  if (t.length < 2 || first === undefined || last === undefined || !TYPOGRAPHIC_QUOTES.includes(first) || !TYPOGRAPHIC_QUOTES.includes(last)) return undefined;
  return `a value without typographic quotes: ${first} and ${last} are no quotes to dotenv, so they would be part of the value; write straight quotes ("...") or none`;
}

/**
 * Words written for the default by operators used to other tools (gunicorn's `workers = auto`,
 * `CORRAL_TIMEOUT=default`). `CORRAL_WORKERS=auto` was told "an integer from 1 to 512" alone, not
 * that leaving it out gives CPU count x 4.
 */
const DEFAULT_WORDS = new Set(['auto', 'default']);

/**
 * An empty value refused says why: `CORRAL_TIMEOUT=` is not the default, as `CORRAL_DATA_DIR=` is
 * for a setting whose empty value means it (spec.ts), and "an integer from 1 to 3600" alone read
 * as if the line held something else. So does `auto` or `default` refused.
 */
function withDefaultNote(spec: SettingSpec<unknown>, raw: string, parsed: ParseResult<unknown>, fromEnvironment = false): ParseResult<unknown> {
  if (parsed.ok) return parsed;
  const word = raw.trim();
  const what = word === '' ? 'it is empty, which does not mean the default' : DEFAULT_WORDS.has(word.toLowerCase()) ? `"${word}" is not a name of the default` : undefined;
  if (what === undefined) return parsed;
  const d = spec.defaultText ?? (typeof spec.default === 'function' || spec.default === undefined ? undefined : spec.format(spec.default));
  // Set in the environment, there is no line to delete: `Environment=CORRAL_TIMEOUT=` in a unit.
  const fix = fromEnvironment ? "unset it where the environment sets it (the unit's Environment=, the shell)" : 'delete the line (or comment it out)';
  return { ok: false, allowed: `${parsed.allowed}; ${what}: ${fix} to use the default${d !== undefined && d !== '' ? ` (${d})` : ''}` };
}

/** Applies a setting's default (literal or computed). */
export function defaultOf<T>(spec: SettingSpec<T>): T {
  return typeof spec.default === 'function' ? (spec.default as () => T)() : spec.default;
}

/**
 * The text a setting is given, and where: by its own name, by its lower case form, which wins (a
 * proxy's), or by a deprecated alias; with the warnings the choice calls for.
 */
export function givenValue(
  name: SettingName,
  spec: SettingSpec<unknown>,
  merged: Readonly<Record<string, string>>,
  fromFile: (key: string) => boolean,
): { raw: string | undefined; source: SettingSource; warnings: string[] } {
  const warnings: string[] = [];
  let raw = merged[name];
  let source: SettingSource = fromFile(name) ? '.env' : 'environment';
  const lower = spec.lowercase ? name.toLowerCase() : undefined;
  if (lower !== undefined && merged[lower] !== undefined) {
    // curl and undici read https_proxy before HTTPS_PROXY: the same proxy as the other tools on the host.
    if (raw !== undefined && raw.trim() !== merged[lower].trim()) {
      warnings.push(`${lower} and ${name} are both set, to different values: ${lower} (${shownRaw(spec, merged[lower])}) is used, as curl and undici do; unset one of them`);
    }
    raw = merged[lower];
    source = `alias ${lower}`;
  } else if (raw === undefined) {
    for (const alias of spec.aliases ?? []) {
      if (merged[alias] !== undefined) {
        raw = merged[alias];
        source = `alias ${alias}`;
        warnings.push(`${alias} is a deprecated alias of ${name}; rename it ${fromFile(alias) ? 'in your env file' : 'where the environment sets it (the unit\'s Environment=, the shell)'} (value used: ${raw})`);
        break;
      }
    }
  } else {
    for (const alias of spec.aliases ?? []) {
      if (merged[alias] !== undefined) warnings.push(`${alias} is ignored because ${name} is also set`);
    }
  }
  return { raw, source, warnings };
}

/**
 * What a setting's text makes: its value, or why it is refused. `unclosed`: the opening quote
 * dotenv kept in it; `fromEnvironment`: not read from the file (no line to delete).
 */
export function judgeValue(
  name: SettingName,
  spec: SettingSpec<unknown>,
  raw: string,
  { unclosed, fromEnvironment, env, fileName = '.env' }: { unclosed: UnclosedQuote | undefined; fromEnvironment: boolean; env: NodeJS.ProcessEnv; fileName?: string },
): ParseResult<unknown> {
  // A reference to a variable is judged before the value's own parser, which accepted it as
  // text (SHEET_ID, a secret) or refused it for something else ("an integer from 1 to 512").
  const reference = UNEXPANDED_CHECKED.includes(name) ? undefined : variableReferenceProblem(raw, spec.secret === true);
  const notUtf8 = notUtf8Problem(raw, fromEnvironment ? undefined : fileName);
  const typographic = typographicQuotesProblem(raw);
  return unclosed
    ? { ok: false, allowed: unclosedQuoteProblem(unclosed) }
    : notUtf8
      ? { ok: false, allowed: notUtf8 }
      : typographic
        ? { ok: false, allowed: typographic }
        : reference
      ? { ok: false, allowed: reference }
      : unexpandedPath(name, withDefaultNote(spec, raw, spec.parse(raw), fromEnvironment), env);
}
