// gunicorn's own environment variables, which no setting of corral's reads: GUNICORN_CMD_ARGS
// (flags gunicorn adds to its command line) and WEB_CONCURRENCY (its default worker count). An
// operator moving a gunicorn deployment brings them along in its env file; the first was warned
// of as "unknown setting GUNICORN_CMD_ARGS: ignored", every flag in it left to translate, and the
// second not at all, the workers left at CPU count x 4. Each is said with the settings that stand in.

import type { EnvLint, LineWarning } from './env-lint.js';
import { settingForFlag } from './flag-settings.js';
import { schema, type SettingName } from './schema.js';
import type { SettingSpec } from './spec.js';

export const GUNICORN_VARIABLES: ReadonlySet<string> = new Set(['GUNICORN_CMD_ARGS', 'WEB_CONCURRENCY']);

/** The words of a command line as gunicorn splits GUNICORN_CMD_ARGS (Python's shlex.split): blanks apart, quotes kept together. */
function words(text: string): string[] {
  return [...text.matchAll(/(?:[^\s'"]+|'[^']*'|"(?:\\.|[^"\\])*")+/g)].map((m) => m[0].replace(/'([^']*)'|"((?:\\.|[^"\\])*)"/g, (_, single?: string, double?: string) => single ?? (double ?? '').replace(/\\(.)/g, '$1')));
}

/** "a", "a and b", "a, b and c". */
function listed(items: readonly string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** The settings GUNICORN_CMD_ARGS's flags name, as assignments (a secret's value not shown), and the flags that name none. */
function flagSettings(args: string): { settings: string[]; others: string[] } {
  const tokens = words(args);
  const settings: string[] = [];
  const others: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    if (!/^--?[A-Za-z]/.test(token)) continue;
    const long = token.startsWith('--');
    const eq = token.indexOf('=');
    // A short flag takes its value attached (`-w4`), as getopt does; a long one after `=`.
    const name = long ? token.slice(2, eq === -1 ? undefined : eq).toLowerCase() : token.slice(1, 2);
    let value = long ? (eq === -1 ? undefined : token.slice(eq + 1)) : token.length > 2 ? token.slice(2) : undefined;
    const next = tokens[i + 1];
    if (value === undefined && next !== undefined && !next.startsWith('-')) {
      value = next;
      i++;
    }
    const setting = settingForFlag(name);
    // gunicorn's -c is its Python config file: no settings file of corral's.
    if (setting === undefined || !(setting in schema)) {
      others.push(long ? `--${name}` : `-${name}`);
      continue;
    }
    const spec = schema[setting as SettingName] as SettingSpec<unknown>;
    const shown = value === undefined ? setting : spec.secret && !spec.show ? `${setting} (its value, not shown: a secret)` : `${setting}=${spec.show ? spec.show(value) : value}`;
    if (!settings.includes(shown)) settings.push(shown);
  }
  return { settings, others };
}

/**
 * The warnings of GUNICORN_CMD_ARGS and WEB_CONCURRENCY in `merged` (the file's values under the
 * environment's), each with the file's line it is on (none when the environment sets it).
 * `workers`: CORRAL_WORKERS as it stands, and whether the operator set it (by any name).
 */
export function gunicornVariableWarnings({ merged, env, lint, fileName, workers }: { merged: Readonly<Record<string, string>>; env: NodeJS.ProcessEnv; lint: EnvLint; fileName: string; workers: { readonly value: number | undefined; readonly set: boolean } }): LineWarning[] {
  const said: LineWarning[] = [];
  const lineOf = (key: string): number | undefined => (env[key] !== undefined ? undefined : lint.lineOf.get(key));
  const place = (key: string): string => {
    const line = lineOf(key);
    return env[key] !== undefined ? '(set in the environment)' : `(${fileName}${line ? ` line ${line}` : ''})`;
  };
  const args = merged.GUNICORN_CMD_ARGS;
  if (args !== undefined) {
    const { settings, others } = flagSettings(args);
    const instead = settings.length > 0 ? `: set ${listed(settings)} in the environment or the settings file instead` : ' (`corral config --example` lists them)';
    const none = others.length > 0 ? `; ${listed(others)} ${others.length === 1 ? 'has' : 'have'} no setting of corral's` : '';
    said.push({ line: lineOf('GUNICORN_CMD_ARGS'), text: `GUNICORN_CMD_ARGS ${place('GUNICORN_CMD_ARGS')} is ignored: corral takes no command-line flags, its settings are variables${instead}${none}` });
  }
  const concurrency = merged.WEB_CONCURRENCY;
  if (concurrency !== undefined) {
    const lead = `WEB_CONCURRENCY ${place('WEB_CONCURRENCY')} is ignored: gunicorn's default worker count is no setting of corral's`;
    const spec = schema.CORRAL_WORKERS;
    const text = workers.set
      ? `${lead}; CORRAL_WORKERS=${workers.value ?? '?'} is the count in force`
      : `${lead}: set CORRAL_WORKERS=${concurrency.trim()} instead (unset, corral runs ${spec.defaultText}${workers.value === undefined ? '' : `: ${workers.value} here`})`;
    said.push({ line: lineOf('WEB_CONCURRENCY'), text });
  }
  return said;
}
