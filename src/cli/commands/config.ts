import { bindHostProblems, bindPortProblems } from '../../config/bind-check.js';
import { privilegedPortWarnings } from '../../config/port-privilege.js';
import { renderEnvExample } from '../../config/env-example.js';
import { loadSettings } from '../../config/load.js';
import { displayValue } from '../../config/shown-value.js';
import { schema, settingNames, type SettingName, type Settings } from '../../config/schema.js';
import { ConfigError, CorralError, type ConfigProblem } from '../../errors.js';
import { parseFlags, type Command } from '../command.js';
import { findMaster } from '../master-process.js';

export const configCommand: Command = {
  name: 'config',
  help: `Usage: corral config [--check | --json | --example]

Reads .env (or CORRAL_ENV_FILE) and the environment exactly as \`corral start\` would, and prints
every setting with its value and source (default, .env, environment, alias NAME). Secrets are
redacted. Exits 78 when \`corral start\` or a reload would refuse the settings: listing every
invalid setting (with SHEET_ID, the service-account key is read and parsed, without the network;
CORRAL_DATA_DIR must be a directory this user can write in, or not exist yet under one it can
write in; nothing is created; CORRAL_BIND's and CORRAL_ADMIN_BIND's hosts must be addresses of
this host, tried by listening on a free port of each for a moment, and, when no corral runs for
these settings (the pidfile names none), their ports must be free: one another process listens
on is refused, naming it), or saying the admin
API would listen beyond loopback without CORRAL_ADMIN_TOKEN or on the workers' port, or that
CORRAL_LOG_FILE cannot be opened or CORRAL_PIDFILE cannot be written (checked without creating
them): every problem in one run, with the warnings.

Options:
  --check    print one line (settings OK), or the refusal (a line per problem), instead of the table: for scripts and
             before \`systemctl restart corral\`
  --json     machine-readable output: {"valid": true, "envFile", "settings" (each "name", "value"
             as the file spells it, null when unset, "source", "description"), "warnings"}, or
             when refused {"valid": false, "error": {"code", "message"}, "problems": [{"name",
             "value", "source", "allowed", "code"?}], "warnings"} (a refused command line too, its
             "problems" empty; the exit code and stderr as without it)
  --example  print a commented .env with every setting and its default (config/.env.example)
  -h, --help this text

Exit codes: 0 the settings would be accepted (warnings, if any, on stderr), 64 an unknown option
or more than one of --check, --json and --example, 78 the settings are refused or CORRAL_ENV_FILE
cannot be read.`,
  // A script reading --json gets a refusal (of the command line or the settings) as JSON too;
  // stderr and the exit code say it as without --json.
  jsonRefusal: (err) => ({ valid: false, error: { code: err.code, message: err.message }, problems: err instanceof ConfigError ? err.problems : [], warnings: err instanceof ConfigError ? err.warnings : [] }),
  async run(argv) {
    const { values } = parseFlags(argv, { check: { type: 'boolean' }, json: { type: 'boolean' }, example: { type: 'boolean' } }, { readsSettings: true });
    const modes = (['check', 'json', 'example'] as const).filter((m) => values[m]);
    if (modes.length > 1) throw new CorralError('CORRAL_ERR_USAGE', `${modes.map((m) => `--${m}`).join(' and ')} cannot be combined: --check prints a verdict, --json the effective settings, --example the commented .env`);
    if (values.example) {
      process.stdout.write(renderEnvExample());
      return 0;
    }
    let loaded: ReturnType<typeof loadSettings>;
    let addressWarnings: string[] = [];
    try {
      loaded = acceptedSettings();
      addressWarnings = await bindAddressWarnings(loaded.settings, loaded.where, loaded.warnings);
    } catch (caught) {
      throw await withAddressProblems(caught);
    }
    // Said as the master says it at start and at each reload (config.env_overrides), where an
    // operator checks an edit: `corral config` showed the environment's value with the source
    // "environment" alone, and the edited line of the file read as taken.
    const warnings = [...loaded.warnings, ...addressWarnings, ...loaded.envOverrides.map((o) => `${o.setting}${o.aliasOf ? ` (an alias of ${o.aliasOf})` : ''} is set in ${loaded.envFile ?? 'the settings file'} (${o.file}) and in the environment (${o.environment}), whose value is used: the file's line has no effect; unset it in the environment (the shell's export, the unit's Environment=) to manage it in the file`)];
    if (values.check) {
      const n = warnings.length;
      process.stdout.write(`settings OK (env file: ${loaded.envFile ?? '(none)'}${n > 0 ? `; ${n} warning${n === 1 ? '' : 's'} on stderr` : ''})\n`);
      for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
      return 0;
    }
    const rows = settingNames.map((name) => ({
      name,
      value: displayValue(name, loaded.settings[name]),
      source: loaded.sources[name],
      description: schema[name].description,
    }));
    if (values.json) {
      // An unset setting's value is null, not the table's "(unset)", which a script cannot tell
      // from a value. The others as the settings file spells them (secrets redacted).
      const settings = rows.map((r) => (loaded.settings[r.name] === undefined ? { ...r, value: null } : r));
      process.stdout.write(`${JSON.stringify({ valid: true, envFile: loaded.envFile ?? null, settings, warnings }, null, 2)}\n`);
      return 0;
    }
    const w = Math.max(...rows.map((r) => r.name.length));
    const v = Math.min(40, Math.max(...rows.map((r) => r.value.length)));
    process.stdout.write(`# env file: ${loaded.envFile ?? '(none)'}\n`);
    // An empty list (CORRAL_TRUSTED_PROXIES' default) was a blank cell.
    for (const r of rows) process.stdout.write(`${r.name.padEnd(w)}  ${(r.value === '' ? '(none)' : r.value).padEnd(v)}  ${r.source}\n`);
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
    return 0;
  },
};

/**
 * The settings as start would take them, or the refusal start would make, every problem at once:
 * the command operators run to check an edited .env before `systemctl restart` or `reload`.
 */
function acceptedSettings(): ReturnType<typeof loadSettings> {
  return loadSettings({ judgePidfile: true });
}

/**
 * Whether no corral master runs for these settings, for certain: only then are their ports tried,
 * since a running corral's own would read as taken. Without a pidfile (under systemd, whose unit
 * then runs `config --check` before each reload) whether one runs is not known, and they are not.
 */
function certainlyNotRunning(settings: Partial<Pick<Settings, 'CORRAL_PIDFILE'>>): boolean {
  if (!settings.CORRAL_PIDFILE) return false;
  try {
    findMaster({ CORRAL_PIDFILE: settings.CORRAL_PIDFILE });
    return false;
  } catch (err) {
    return err instanceof CorralError && err.code === 'CORRAL_ERR_NOT_RUNNING';
  }
}

/**
 * The addresses this host cannot listen on, and, when no corral runs for these settings, the ports
 * another process holds, as problems (where each was read, as the others say it).
 */
async function addressProblems(settings: Partial<Pick<Settings, 'CORRAL_BIND' | 'CORRAL_ADMIN_BIND' | 'CORRAL_PIDFILE'>>, where: (name: SettingName) => string) {
  const binds = { ...(settings.CORRAL_BIND ? { CORRAL_BIND: settings.CORRAL_BIND } : {}), ...(settings.CORRAL_ADMIN_BIND ? { CORRAL_ADMIN_BIND: settings.CORRAL_ADMIN_BIND } : {}) };
  const found = await bindHostProblems(binds);
  const consequence = { CORRAL_BIND: 'every worker would fail its listen (corral start exits 3 after its boot attempts)', CORRAL_ADMIN_BIND: 'corral would start without its admin API (admin.failed)' };
  const fix = { CORRAL_BIND: 'point CORRAL_BIND at an address of this host (or 0.0.0.0)', CORRAL_ADMIN_BIND: 'point CORRAL_ADMIN_BIND at an address of this host (127.0.0.1 by default)' };
  const refused: ConfigProblem[] = found
    .filter((p) => p.check.kind === 'refused')
    .map((p) => ({ name: p.name, value: p.value, source: where(p.name), allowed: `an address this host can listen on: ${p.check.why}, so ${consequence[p.name]}; ${fix[p.name]}` }));
  if (certainlyNotRunning(settings)) {
    // An address refused above says its own problem; its port is no question then.
    const listenable = Object.fromEntries(Object.entries(binds).filter(([name]) => !refused.some((p) => p.name === name)));
    for (const p of await bindPortProblems(listenable)) {
      refused.push({ name: p.name, value: p.value, source: where(p.name), allowed: `a port no other process listens on: ${p.why}, so ${consequence[p.name]}; stop it, or point ${p.name} at a free port` });
    }
  }
  return { found, refused };
}

/**
 * CORRAL_BIND's and CORRAL_ADMIN_BIND's addresses listened on for a moment (bind-check.ts):
 * throws the refusal for one this host cannot listen on, where `corral start` would fail every
 * worker's listen (or start without its admin API); returns a warning for one not known now.
 */
async function bindAddressWarnings(settings: Settings, where: (name: SettingName) => string, warnings: readonly string[]): Promise<string[]> {
  const { found, refused } = await addressProblems(settings, where);
  if (refused.length > 0) throw new ConfigError(refused, warnings);
  return [...found.map((p) => `${p.name}=${p.value}: ${p.check.why}; corral start needs it to resolve to an address of this host`), ...privilegedPortWarnings(settings)];
}

/**
 * A refusal of other settings, with the addresses judged too: every problem in one run. A
 * mistyped CORRAL_ADMIN_BIND host without a token was refused as an admin API open to other
 * hosts, and that it does not resolve came only once a token was set.
 */
async function withAddressProblems(err: unknown): Promise<unknown> {
  if (!(err instanceof ConfigError) || err.read === undefined) return err;
  const { refused } = await addressProblems(err.read.valid as Partial<Settings>, err.read.where);
  return refused.length === 0 ? err : new ConfigError([...err.problems, ...refused], err.warnings, err.read);
}
