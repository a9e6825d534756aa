// The setting a command-line flag names: gunicorn's (`-w`, `--bind`, `--pid`) and the settings' own
// names spelled as flags (`--max-requests`, `--keep-alive`, `--sheet-id`). corral takes no flags
// for its settings; what an operator typed as one is said as the setting to set instead, by the
// CLI of an unknown option (cli/flag-hints.ts) and by the settings of GUNICORN_CMD_ARGS
// (gunicorn-variables.ts).

import { META_SETTINGS, schema, settingNames } from './schema.js';

/** gunicorn's flags that no setting's name spells, by the setting they set. */
const GUNICORN_FLAGS: Readonly<Record<string, string>> = {
  w: 'CORRAL_WORKERS',
  b: 'CORRAL_BIND',
  t: 'CORRAL_TIMEOUT',
  pid: 'CORRAL_PIDFILE',
  p: 'CORRAL_PIDFILE',
  'access-logfile': 'CORRAL_ACCESS_LOG',
  'error-logfile': 'CORRAL_LOG_FILE',
  'log-file': 'CORRAL_LOG_FILE',
  'env-file': 'CORRAL_ENV_FILE',
  c: 'CORRAL_ENV_FILE',
  config: 'CORRAL_ENV_FILE',
};

const squash = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9]/g, '');

/** The setting a flag's name spells (`--workers`, `--max-requests`, `--keep-alive`, `--sheet-id`, `-w`). */
export function settingForFlag(flag: string): string | undefined {
  // Own keys only: `--constructor` read Object's constructor, a function, as a setting's name.
  if (Object.hasOwn(GUNICORN_FLAGS, flag)) return GUNICORN_FLAGS[flag];
  const want = squash(flag);
  if (want.length < 2) return undefined;
  const names: string[] = [...settingNames, ...Object.keys(META_SETTINGS)];
  for (const name of names) {
    const aliases = (schema as Record<string, { aliases?: readonly string[] }>)[name]?.aliases ?? [];
    const spellings = [name, name.replace(/^CORRAL_/, ''), ...aliases, ...aliases.map((a) => a.replace(/^GUNICORN_/, ''))];
    if (spellings.some((s) => squash(s) === want)) return name;
  }
  return undefined;
}
