// Names in the settings that set nothing: a misspelt setting (CORRAL_WORKER), one in lower case, a
// misspelt prefix (CORAL_WORKERS), a near miss of ours among other tools' names (REDIS_ULR). Each
// left its setting at the default without a word; each is warned of where it was set, with the
// setting it most likely meant.

import { editDistance } from '../edit-distance.js';
import type { EnvLint, LineWarning } from './env-lint.js';
import { GUNICORN_VARIABLES } from './gunicorn-variables.js';
import { IGNORED_WITH_NOTE, META_SETTINGS, schema, settingNames, type SettingName } from './schema.js';
import type { SettingSpec } from './spec.js';

const KNOWN_PREFIXES = ['CORRAL_', 'GUNICORN_', 'SHEET_', 'SHEETS_'];
/** Prefixes other tools use too: an unknown name there is warned about only when it is a near miss of ours. */
const SHARED_PREFIXES = ['GOOGLE_', 'REDIS_'];

const aliasOf = new Map<string, SettingName>();
for (const name of settingNames) for (const alias of (schema[name] as SettingSpec<unknown>).aliases ?? []) aliasOf.set(alias, name);
for (const name of settingNames) if ((schema[name] as SettingSpec<unknown>).lowercase) aliasOf.set(name.toLowerCase(), name);

function nearest(unknown: string): { name: string; d: number } | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of [...settingNames, ...aliasOf.keys(), ...Object.keys(META_SETTINGS)]) {
    const d = editDistance(unknown, name);
    if (!best || d < best.d) best = { name, d };
  }
  return best;
}

/** The setting an unknown name under one of our prefixes most likely meant. */
function suggest(unknown: string): string | undefined {
  const best = nearest(unknown);
  return best && best.d <= Math.max(2, Math.floor(unknown.length / 4)) ? best.name : undefined;
}

/**
 * The setting a name under no prefix of ours meant, when it is a near miss: a prefix misspelt
 * (CORAL_WORKERS, CORRALWORKERS, CORRAL-TIMEOUT, SHEETID). Closer than suggest() asks, as such a
 * file may hold other programs' names too: one edit for a short name, two from 10 characters.
 */
function nearMiss(unknown: string): string | undefined {
  if (unknown.length < 5) return undefined;
  const best = nearest(unknown);
  return best && best.d <= (unknown.length >= 10 ? 2 : 1) ? best.name : undefined;
}

/**
 * The warnings of unknown names in `merged` (the file's values under the environment's), each with
 * the file's line it is on (none when the environment sets it). `fileName`: the file as said.
 */
export function unknownNameWarnings({ merged, fileValues, env, lint, fileName }: { merged: Readonly<Record<string, string>>; fileValues: Readonly<Record<string, string>>; env: NodeJS.ProcessEnv; lint: EnvLint; fileName: string }): LineWarning[] {
  const said: LineWarning[] = [];
  const warnAt = (line: number | undefined, text: string): void => {
    said.push({ line, text });
  };
  const known = (key: string) => key in schema || aliasOf.has(key) || key in IGNORED_WITH_NOTE || key in META_SETTINGS || GUNICORN_VARIABLES.has(key);
  // The file's line a name was read from (none when the environment sets it).
  const fileLine = (key: string): number | undefined => (env[key] !== undefined ? undefined : lint.lineOf.get(key));
  // Where an unknown name was set, to fix it there: the file's line, or the environment.
  const setAt = (key: string, cased = ''): string => {
    const line = lint.lineOf.get(key);
    const place = env[key] !== undefined ? 'set in the environment' : `${fileName}${line ? ` line ${line}` : ''}`;
    return ` (${place}${cased})`;
  };
  for (const key of Object.keys(merged)) {
    // Names are case-sensitive: `corral_workers=4` sets nothing, and must not pass unnoticed.
    const upper = key.toUpperCase();
    if (!KNOWN_PREFIXES.some((p) => upper.startsWith(p))) continue;
    if (known(key) || key.startsWith('CORRAL_INTERNAL_')) continue;
    const guess = known(upper) ? upper : suggest(upper);
    const cased = key !== upper ? '; setting names are upper case' : '';
    warnAt(fileLine(key), `unknown setting ${key}${setAt(key, cased)}${guess ? `: did you mean ${guess}?` : ': ignored'}`);
  }
  // A name under none of the prefixes (a misspelt prefix), from the file only: the environment
  // holds every other program's variables, and is not where an operator types corral's settings.
  for (const key of Object.keys(fileValues)) {
    const upper = key.toUpperCase();
    if (known(key) || [...KNOWN_PREFIXES, ...SHARED_PREFIXES].some((p) => upper.startsWith(p))) continue;
    const guess = known(upper) ? upper : nearMiss(upper);
    if (guess) warnAt(fileLine(key), `unknown setting ${key}${setAt(key)}: did you mean ${guess}?`);
  }
  // GOOGLE_* and REDIS_* names belong to other tools too (GOOGLE_CLOUD_PROJECT, an app's
  // REDIS_HOST...): only a near miss of one of ours is worth a word, and it is:
  // GOOGLE_APPLICATION_CREDENTIAL leaves corral without a key, REDIS_ULR leaves the host unshared.
  for (const key of Object.keys(merged)) {
    const upper = key.toUpperCase();
    const prefix = SHARED_PREFIXES.find((p) => upper.startsWith(p));
    if (prefix === undefined || key in schema) continue;
    const guess = upper in schema ? upper : suggest(upper);
    const cased = key !== upper ? '; setting names are upper case' : '';
    if (guess?.startsWith(prefix)) warnAt(fileLine(key), `unknown setting ${key}${setAt(key, cased)}: did you mean ${guess}?`);
  }
  return said;
}
