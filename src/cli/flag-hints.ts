// What to say of an unknown command-line option: the option meant (`--step` for `--steps`), or,
// for a command that reads corral's settings, the setting a flag names. corral takes its settings
// from the environment and its settings file only, and operators coming from gunicorn type its
// flags (`corral start --workers 8 --bind 0.0.0.0:8000`): "Unknown option" alone left them to find
// that CORRAL_WORKERS exists.

import { isIPv6 } from 'node:net';
import { editDistance } from '../edit-distance.js';
import { settingForFlag } from '../config/flag-settings.js';
import { schema } from '../config/schema.js';
import { shellWord } from './shell-word.js';

export { settingForFlag };

const UNDER_SYSTEMD = 'corral runs in the foreground: run it as a service under systemd (`corral systemd-unit` writes the unit)';
const ASYNC_WORKERS = "corral's workers are asynchronous, each serving many connections at once: there is no worker class or thread count to choose; CORRAL_WORKERS sets the processes, CORRAL_WORKER_CONNECTIONS the connections each takes";
const UNIT_USER = 'corral runs as the user that starts it: under systemd, User= and Group= in the unit (`corral systemd-unit` writes one)';
const NO_PRELOAD = 'each worker loads the app itself, as it starts (a reload loads the new code in new workers)';
const HEAD_BYTES = 'corral has no limit of the request line or of one header of its own: CORRAL_LIMIT_REQUEST_HEADER_BYTES (default 16384) bounds the request line and headers together, set in the environment or the settings file (.env, or CORRAL_ENV_FILE)';

/** gunicorn's flags with no setting, and what corral does instead. */
const GUNICORN_ONLY: Readonly<Record<string, string>> = {
  daemon: UNDER_SYSTEMD,
  D: UNDER_SYSTEMD,
  threads: ASYNC_WORKERS,
  'worker-class': ASYNC_WORKERS,
  k: ASYNC_WORKERS,
  user: UNIT_USER,
  u: UNIT_USER,
  group: UNIT_USER,
  g: UNIT_USER,
  chdir: 'corral runs in the directory it is started in: under systemd, WorkingDirectory= in the unit; the settings file is CORRAL_ENV_FILE',
  reload: 'corral does not watch files: `corral reload` (SIGHUP, `systemctl reload corral`) applies new code and settings with no downtime',
  preload: NO_PRELOAD,
  'preload-app': NO_PRELOAD,
  'limit-request-line': HEAD_BYTES,
  'limit-request-field_size': HEAD_BYTES,
  'limit-request-field-size': HEAD_BYTES,
};

/**
 * `--port 8000` and `--host 127.0.0.1` (common to other servers): half of CORRAL_BIND, which takes
 * both. The other half is left to the operator, not filled in with the default's: a settings file
 * binding 127.0.0.1 behind a proxy, told CORRAL_BIND=0.0.0.0:9000 for `--port 9000`, would serve
 * every interface. (Reading the settings here would load them for every command, `version` too.)
 */
function bindHint(flag: string, value: string | undefined): string | undefined {
  if (flag !== 'port' && flag !== 'host') return undefined;
  const spec = schema.CORRAL_BIND;
  const bindDefault = typeof spec.default === 'function' ? spec.default() : spec.default;
  const given = value === undefined ? 'HOST:PORT' : flag === 'port' ? `HOST:${value}` : hostWithPort(value);
  const half = value === undefined ? '' : flag === 'port' ? ', HOST the address to serve on (127.0.0.1 for this host alone, 0.0.0.0 for every interface)' : given.endsWith(':PORT') ? ', PORT the port to serve on' : '';
  return `corral takes host and port in one setting, from the environment or its settings file (.env, or CORRAL_ENV_FILE), not from options: set CORRAL_BIND=${shellWord(given)} there${half} (\`corral config\` shows the one in force; the default is ${spec.format(bindDefault)})`;
}

/**
 * `--host` given as an address, for CORRAL_BIND: an IPv6 one in brackets. Given with a port already
 * (`0.0.0.0:9000`, `[::1]:9000`) it is used as it is; bracketed again it was a CORRAL_BIND corral
 * refuses (`[0.0.0.0:9000]:PORT`, `[[::1]]:PORT`).
 */
function hostWithPort(value: string): string {
  if (isIPv6(value)) return `[${value}]:PORT`;
  if (/^\[[^\]]*\]$/.test(value) || !value.includes(':')) return `${value}:PORT`;
  return value;
}

/** The value given with the unknown flag, if any: `--workers=8`, `--workers 8`, or `-w8`. */
function valueGiven(argv: readonly string[], flag: string): string | undefined {
  const dashes = flag.length === 1 ? '-' : '--';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg.startsWith(`${dashes}${flag}=`)) return arg.slice(dashes.length + flag.length + 1);
    if (arg === `${dashes}${flag}`) {
      const next = argv[i + 1];
      return next !== undefined && !next.startsWith('-') ? next : undefined;
    }
    // gunicorn's short flags take their value attached too (`-w4`, `-b0.0.0.0:8000`), as getopt does.
    if (dashes === '-' && arg.startsWith(`-${flag}`) && arg.length > 2) return arg.slice(2);
  }
  return undefined;
}

/** `=value` as a refusal may show it: a secret is never echoed (`--admin-token s3cret`), a proxy URL's password hidden. */
function shownValue(setting: string, value: string | undefined): string {
  if (value === undefined) return '';
  const spec = (schema as Record<string, { secret?: boolean; show?: (text: string) => string }>)[setting];
  if (spec?.secret && !spec.show) return '=<the value given, not shown: a secret>';
  return `=${shellWord(spec?.show ? spec.show(value) : value)}`;
}

/**
 * `-port 8000`, `-workers=8`, `-fast`: a long flag given one dash, as Go's flags take them. getopt
 * reads `-p` with the value `ort`, and the hint said "set CORRAL_PIDFILE=ort"; `-fast` was
 * "Unknown option '-f'" alone. A word after one dash that is one of the command's own options, or,
 * for a command that reads the settings, names a setting (or `port`, `host`, a gunicorn flag), is
 * read as that word after two.
 */
function longFlagWithOneDash(unknown: string, argv: readonly string[], options: readonly string[], readsSettings: boolean): { unknown: string; argv: readonly string[] } | undefined {
  if (!/^-[^-]$/.test(unknown)) return undefined;
  const index = argv.findIndex((a) => a.startsWith(unknown) && a.length > 2);
  const m = index === -1 ? null : /^-([A-Za-z][\w-]+)(=.*)?$/.exec(argv[index] ?? '');
  const word = m?.[1]?.toLowerCase();
  if (!m || word === undefined) return undefined;
  const own = word.length > 1 && options.includes(word);
  const named = readsSettings && (word === 'port' || word === 'host' || Object.hasOwn(GUNICORN_ONLY, word) || settingForFlag(word) !== undefined);
  if (!own && !named) return undefined;
  return { unknown: `--${m[1]}`, argv: argv.map((a, i) => (i === index ? `-${a}` : a)) };
}

/**
 * What a command says of a flag that names a setting, by the setting (every spelling of the flag:
 * `--graceful-timeout`, `--graceful_timeout`), given the assignment the flag asked for
 * (`CORRAL_GRACEFUL_TIMEOUT=60`): for a setting that editing the settings file does not apply to
 * what the command does (stop drains by the graceful timeout the master runs with).
 */
export type SettingFlagHints = Readonly<Record<string, (assignment: string) => string>>;

/**
 * The hint after "Unknown option '--x'" (empty when there is none to give): the closest option of
 * the command within two edits, or the one it abbreviates; else, where the command reads the
 * settings, the setting the flag names.
 */
export function unknownOptionHint(
  unknown: string,
  argv: readonly string[],
  options: readonly string[],
  readsSettings: boolean,
  own: Readonly<Record<string, string>> = {},
  ownBySetting: SettingFlagHints = {},
): string {
  const oneDash = longFlagWithOneDash(unknown, argv, options, readsSettings);
  if (oneDash) return unknownOptionHint(oneDash.unknown, oneDash.argv, options, readsSettings, own, ownBySetting);
  const typed = unknown.replace(/^-+/, '').replace(/=.*$/, '');
  // A long flag's case is no part of its name (`--Port`, `--WORKERS`); a short one's is (`-D`, `-d`).
  const flag = typed.length > 1 ? typed.toLowerCase() : typed;
  const longOptions = options.filter((o) => o.length > 1);
  const near = longOptions.map((o) => ({ o, d: editDistance(flag, o) })).sort((a, b) => a.d - b.d)[0];
  if (flag.length > 2 && near && near.d <= 2) return `: did you mean --${near.o}?`;
  const abbreviates = longOptions.filter((o) => flag.length >= 2 && o.startsWith(flag));
  if (abbreviates.length === 1) return `: did you mean --${abbreviates[0]}? (options are spelled out in full)`;
  // What the command says of a flag it does not take (reload's --timeout is no CORRAL_TIMEOUT).
  const ownHint = Object.hasOwn(own, flag) ? own[flag] : undefined;
  if (ownHint !== undefined) return `: ${ownHint}`;
  if (!readsSettings) return '';
  const instead = Object.hasOwn(GUNICORN_ONLY, flag) ? GUNICORN_ONLY[flag] : undefined;
  if (instead) return `: ${instead}`;
  const bind = bindHint(flag, valueGiven(argv, typed));
  if (bind) return `: ${bind}`;
  const setting = settingForFlag(flag);
  if (!setting) return '';
  const assignment = `${setting}${shownValue(setting, valueGiven(argv, typed))}`;
  const settingHint = Object.hasOwn(ownBySetting, setting) ? ownBySetting[setting] : undefined;
  if (settingHint !== undefined) return `: ${settingHint(assignment)}`;
  // The settings file's own path can only come from the environment.
  if (setting === 'CORRAL_ENV_FILE') return `: the settings file is named by the environment: ${assignment} (default ./.env)`;
  return `: corral takes its settings from the environment or its settings file (.env, or CORRAL_ENV_FILE), not from options: set ${assignment} there (\`corral config\` lists every setting)`;
}

/**
 * An argument given to `corral start`, which takes none: most likely the app to serve, as gunicorn
 * takes it (`gunicorn app:app`) and `node app.mjs` does. "does not take positional arguments" alone
 * did not say that the app is a setting. A path is offered as CORRAL_APP reads one: a file named
 * alone (`server.js`) with `./`, since a bare name is a package's; gunicorn's `module:variable`
 * is Python's, and no value is offered for it.
 */
export function appArgumentHint(arg: string): string {
  const lead = ': the app corral serves is the setting CORRAL_APP, in the environment or the settings file (.env, or CORRAL_ENV_FILE)';
  const isPath = /^\.{0,2}\//.test(arg);
  if (isPath || /^[\w.@-]+\.(?:[cm]?js|[cm]?ts)$/.test(arg)) {
    return `${lead}: set CORRAL_APP=${shellWord(isPath ? arg : `./${arg}`)} there (unset: the bundled app)`;
  }
  return `${lead}: set CORRAL_APP there to the app's module (a file as ./app.mjs, exporting createApp or a default request listener; unset: the bundled app)`;
}

/** Options of corral's own commands whose values are secrets (loadtest's and recommend's token, the emulator's key). */
const SECRET_OPTIONS: ReadonlySet<string> = new Set(['admin-token', 'api-key']);

/**
 * A command line as a refusal may repeat it: the value of an option that is a secret (an option's
 * own, or one naming a secret setting: `--admin-token`, `--session-secret`) is not shown, and a
 * proxy or Redis URL's password is hidden, as unknownOptionHint says them. `corral
 * --admin-token=…` with no command echoed the token twice, in "unknown command" and its hint.
 */
export function shownArgs(argv: readonly string[]): string[] {
  const hidden = (flag: string, value: string): string => {
    const name = flag.replace(/^-+/, '').toLowerCase();
    const setting = settingForFlag(name);
    const spec = setting === undefined ? undefined : (schema as Record<string, { secret?: boolean; show?: (text: string) => string }>)[setting];
    if (SECRET_OPTIONS.has(name) || (spec?.secret === true && !spec.show)) return '<secret, not shown>';
    // A setting shown with its secret part masked, whether or not it counts as a secret whole:
    // a proxy URL's password (HTTPS_PROXY is not `secret`) was repeated as given.
    return spec?.show ? spec.show(value) : value;
  };
  return argv.map((arg, i) => {
    const attached = /^(--?[A-Za-z][\w-]*)=([\s\S]*)$/.exec(arg);
    if (attached) return `${attached[1]}=${hidden(attached[1] ?? '', attached[2] ?? '')}`;
    const flag = argv[i - 1];
    if (i > 0 && flag !== undefined && /^--?[A-Za-z][\w-]*$/.test(flag) && !arg.startsWith('-')) return hidden(flag, arg);
    return arg;
  });
}
