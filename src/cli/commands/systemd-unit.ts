// `corral systemd-unit`: prints the systemd unit for this install, so operators never hand-edit
// paths, user or limits. Sizing (workers, connections, timeouts, port) comes from the settings
// file the unit will use, read exactly as the service will see it: that file alone, no shell env.

import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSettings, type LoadedSettings } from '../../config/load.js';
import { schema } from '../../config/schema.js';
import { CorralError } from '../../errors.js';
import { REFERENCE_UNIT_OPTIONS, renderUnit, type UnitOptions } from '../../systemd/unit.js';
import { hiddenPathWarnings } from '../../systemd/hidden-paths.js';
import { broadDirWarnings, missingDirWarnings, privateTmpPaths, unwritablePaths, writableDirsText } from '../../systemd/writable-paths.js';
import { parseFlags, type Command } from '../command.js';
import { integerFlag } from '../number-flag.js';
import { replaceFile } from '../unit-file.js';

/** The npm package root this CLI runs from (dist/src/cli/commands -> ../../../..). */
function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
}

/** An override of an integer setting, judged by that setting's own range in the schema. */
function settingFlag(flag: string, raw: string | undefined, setting: 'CORRAL_WORKERS' | 'CORRAL_WORKER_CONNECTIONS' | 'CORRAL_GRACEFUL_TIMEOUT' | 'CORRAL_TIMEOUT'): number | undefined {
  if (raw === undefined) return undefined;
  // The setting's parser trims (a value in .env may be padded), but an option is read as every
  // numeric option is (number-flag.ts), where " 5" is refused: padded, it is judged as the empty
  // text, which each of these integer settings refuses, so the message says what is accepted.
  const parsed = schema[setting].parse(raw === raw.trim() ? raw : '');
  if (!parsed.ok) throw new CorralError('CORRAL_ERR_USAGE', `--${flag} (${setting}) must be ${parsed.allowed}, got ${JSON.stringify(raw)}`);
  return parsed.value;
}

/** The option that sets each of the unit's fields, for the unit's refusals. */
const OPTION_OF_FIELD: Partial<Record<keyof UnitOptions, string>> = {
  installDir: '--install-dir',
  nodePath: '--node',
  envFile: '--settings-file',
  processEnvFile: '--node-env-file',
  dataDir: '--data-dir',
  logDir: '--log-dir',
  user: '--user',
  group: '--group',
};

/** The directives each path option is written into, for the refusal of a relative one. */
const PATH_FLAGS = {
  'install-dir': 'ExecStart= (its bin/corral)',
  node: 'ExecStart=',
  'settings-file': 'Environment=CORRAL_ENV_FILE= (the service would resolve it against its WorkingDirectory=, not this directory)',
  'node-env-file': 'EnvironmentFile=',
  'data-dir': 'WorkingDirectory= and ReadWritePaths=',
  'log-dir': 'ReadWritePaths=',
} as const;

/**
 * A path option, or its default. Empty is refused: resolve('') is the current directory, which
 * became the node binary or the working directory. So is a relative path: systemd takes only
 * absolute ones in WorkingDirectory=, EnvironmentFile=, ReadWritePaths= and for a program with a
 * slash in ExecStart= (systemd.exec(5), systemd.service(5)), and resolving it against the
 * directory this command runs in would write a path of this shell, not of the service.
 */
function pathFlag(flag: keyof typeof PATH_FLAGS, raw: string | undefined, fallback: string): string {
  if (raw === undefined) return resolve(fallback);
  if (raw.trim() === '') throw new CorralError('CORRAL_ERR_USAGE', `--${flag} is empty: give an absolute path`);
  if (!isAbsolute(raw)) throw new CorralError('CORRAL_ERR_USAGE', `--${flag} must be an absolute path, got ${JSON.stringify(raw)}: it is written into ${PATH_FLAGS[flag]}, which systemd reads from no directory of yours`);
  return resolve(raw);
}

/**
 * --node names a program: one that exists here and is a directory (--node /usr/bin) or not
 * executable is refused, as systemd would refuse it (203/EXEC) only at start. One missing here is
 * the caller's warning: the unit may be meant for another host.
 */
function checkNodeBinary(path: string): 'missing' | 'ok' {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
    throw new CorralError('CORRAL_ERR_USAGE', `--node ${path} cannot be checked: ${(err as Error).message}`, { cause: err });
  }
  if (!isFile) throw new CorralError('CORRAL_ERR_USAGE', `--node ${path} is not a file (a directory?): give the node binary itself, e.g. ${process.execPath}`);
  try {
    accessSync(path, constants.X_OK);
  } catch (err) {
    throw new CorralError('CORRAL_ERR_USAGE', `--node ${path} is not executable: give the node binary itself, e.g. ${process.execPath}`, { cause: err });
  }
  return 'ok';
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Settings as the service will load them: the env file only (systemd passes no shell environment). */
function serviceSettings(envFile: string, dataDir: string): { loaded: LoadedSettings; note?: string } {
  try {
    return { loaded: loadSettings({ env: { CORRAL_ENV_FILE: envFile }, cwd: dataDir, readFiles: false }) };
  } catch (err) {
    if (err instanceof CorralError && err.code === 'CORRAL_ERR_ENV_FILE') {
      // Not a file "not there yet": a directory never becomes one, and the service would exit 78.
      if ((err.cause as NodeJS.ErrnoException | undefined)?.code === 'EISDIR') {
        throw new CorralError('CORRAL_ERR_USAGE', `--settings-file ${envFile} is a directory: name the settings file itself (e.g. ${envFile}/corral.env)`, { cause: err });
      }
      return {
        loaded: loadSettings({ env: { CORRAL_ENV_FILE: 'none' }, cwd: dataDir, readFiles: false }),
        note: `${envFile} is not readable yet (${(err.cause as Error | undefined)?.message ?? err.message}); sized with the defaults`,
      };
    }
    throw err;
  }
}

export const systemdUnitCommand: Command = {
  name: 'systemd-unit',
  help: `Usage: corral systemd-unit [options] --output /etc/systemd/system/corral.service
       corral systemd-unit [options]            (prints the unit)

Prints a Type=notify unit with hardening, for the install this command runs from. Workers,
connections per worker, timeouts (CORRAL_TIMEOUT, CORRAL_GRACEFUL_TIMEOUT, CORRAL_RELOAD_SETTLE)
and the ports (CORRAL_BIND's, CORRAL_ADMIN_BIND's) are read from the settings file (--settings-file)
the way the service will read it, to size LimitNOFILE, TimeoutStartSec, TimeoutStopSec,
WatchdogSec and the capability for ports below 1024. Regenerate after changing those settings.

Options:
  --install-dir DIR         package root holding bin/corral (default: this install, ${packageRoot()})
  --node PATH               node binary, an executable file (default: the one running this
                            command, ${process.execPath})
  --user NAME               service user (default ${REFERENCE_UNIT_OPTIONS.user})
  --group NAME              service group (default: same as --user)
  --settings-file PATH      corral settings file, CORRAL_ENV_FILE of the service (default ${REFERENCE_UNIT_OPTIONS.envFile})
  --node-env-file PATH      optional extra variables for node (NODE_OPTIONS...) (default ${REFERENCE_UNIT_OPTIONS.processEnvFile})
  --data-dir DIR            working and state directory (default ${REFERENCE_UNIT_OPTIONS.dataDir})
  --log-dir DIR             directory of CORRAL_LOG_FILE (default ${REFERENCE_UNIT_OPTIONS.logDir})
  --workers N               override CORRAL_WORKERS from the settings file
  --worker-connections N    override CORRAL_WORKER_CONNECTIONS
  --graceful-timeout S      override CORRAL_GRACEFUL_TIMEOUT
  --timeout S               override CORRAL_TIMEOUT
  --port N                  override the port of CORRAL_BIND
  --output FILE             write the unit to FILE, replacing it only once the new one is whole
                            (a shell redirection empties an installed unit before a refusal, and
                            systemd reads an empty unit as masked); without it, stdout
  -h, --help                this text

Paths must be absolute (systemd reads the unit from no directory of yours); an empty one is refused.
Exit codes: 0 printed (a settings file not there yet sizes with the defaults, said on stderr),
64 an unknown or invalid option or an --output it cannot write (an empty or relative path, a --node here that is a directory or
not executable, a --settings-file or --node-env-file here that is a directory), 78 the settings
file holds invalid settings.`,
  async run(argv) {
    const { values } = parseFlags(argv, {
      'install-dir': { type: 'string' },
      node: { type: 'string' },
      user: { type: 'string' },
      group: { type: 'string' },
      'settings-file': { type: 'string' },
      'node-env-file': { type: 'string' },
      'data-dir': { type: 'string' },
      'log-dir': { type: 'string' },
      workers: { type: 'string' },
      'worker-connections': { type: 'string' },
      'graceful-timeout': { type: 'string' },
      timeout: { type: 'string' },
      port: { type: 'string' },
      output: { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(`${this.help}\n`);
      return 0;
    }
    const envFile = pathFlag('settings-file', values['settings-file'], REFERENCE_UNIT_OPTIONS.envFile);
    const dataDir = pathFlag('data-dir', values['data-dir'], REFERENCE_UNIT_OPTIONS.dataDir);
    const installDir = pathFlag('install-dir', values['install-dir'], packageRoot());
    const nodePath = pathFlag('node', values.node, process.execPath);
    const processEnvFile = pathFlag('node-env-file', values['node-env-file'], REFERENCE_UNIT_OPTIONS.processEnvFile);
    const logDir = pathFlag('log-dir', values['log-dir'], REFERENCE_UNIT_OPTIONS.logDir);
    const node = checkNodeBinary(nodePath);
    // The node options file is optional in the unit (EnvironmentFile=-, which skips a file it
    // cannot load): missing is fine, but a directory is never the file meant, and its options
    // would be skipped without a word.
    if (isDirectory(processEnvFile)) throw new CorralError('CORRAL_ERR_USAGE', `--node-env-file ${processEnvFile} is a directory: name the file itself (e.g. ${processEnvFile}/node.env)`);
    const { loaded, note } = serviceSettings(envFile, dataDir);
    const s = loaded.settings;
    const user = values.user ?? REFERENCE_UNIT_OPTIONS.user;
    const options: UnitOptions = {
      installDir,
      nodePath,
      user,
      group: values.group ?? user,
      envFile,
      processEnvFile,
      dataDir,
      logDir,
      workers: settingFlag('workers', values.workers, 'CORRAL_WORKERS') ?? s.CORRAL_WORKERS,
      workerConnections: settingFlag('worker-connections', values['worker-connections'], 'CORRAL_WORKER_CONNECTIONS') ?? s.CORRAL_WORKER_CONNECTIONS,
      gracefulTimeout: settingFlag('graceful-timeout', values['graceful-timeout'], 'CORRAL_GRACEFUL_TIMEOUT') ?? s.CORRAL_GRACEFUL_TIMEOUT,
      timeout: settingFlag('timeout', values.timeout, 'CORRAL_TIMEOUT') ?? s.CORRAL_TIMEOUT,
      reloadSettle: s.CORRAL_RELOAD_SETTLE,
      bindPort: integerFlag('port', values.port, 1, 65535) ?? s.CORRAL_BIND.port,
      adminPort: s.CORRAL_ADMIN_BIND.port,
      reloadWait: Boolean(s.CORRAL_PIDFILE),
    };
    let text: string;
    try {
      text = renderUnit(options);
    } catch (err) {
      // The unit's own check names its fields (dataDir); the operator typed the option (--data-dir).
      const message = (err as Error).message.replace(/^(\w+)/, (field) => OPTION_OF_FIELD[field as keyof typeof OPTION_OF_FIELD] ?? field);
      throw new CorralError('CORRAL_ERR_USAGE', message, { cause: err });
    }
    if (note) process.stderr.write(`note: ${note}\n`);
    // ProtectHome=yes hides /home, /root and /run/user from the service, and PrivateTmp=yes gives it
    // a /tmp and /var/tmp of its own: it could not even start node, or read its settings (exit 78).
    // Warnings, not refusals: the unit may be generated for another host, or before the files move.
    for (const warning of hiddenPathWarnings([
      ['--install-dir', options.installDir],
      ['--node', options.nodePath],
      ['--settings-file', options.envFile],
      ['--node-env-file', options.processEnvFile],
      ['--data-dir', options.dataDir],
      ['--log-dir', options.logDir],
    ])) {
      process.stderr.write(`warning: ${warning}\n`);
    }
    // Generating for another host is allowed, but on this one a typo would give a unit whose
    // ExecStart fails (status 203/EXEC) only when systemd starts it.
    const corralBin = join(options.installDir, 'bin', 'corral');
    for (const [flag, path, what, missing] of [
      ['--install-dir', corralBin, 'bin/corral', !existsSync(corralBin)],
      ['--node', options.nodePath, 'node', node === 'missing'],
    ] as const) {
      if (missing) process.stderr.write(`warning: ${flag}: there is no ${what} at ${path} on this host; the unit's ExecStart fails unless it exists on the host the unit is installed on\n`);
    }
    for (const warning of [...broadDirWarnings(options), ...missingDirWarnings(options, existsSync)]) process.stderr.write(`warning: ${warning}\n`);
    for (const u of unwritablePaths(s, options.dataDir, options.logDir)) {
      process.stderr.write(
        `warning: ${u.setting}=${u.path} (in ${envFile}) is outside what the unit makes writable (${writableDirsText(options.dataDir, options.logDir)}), so the service would fail at start: ${u.fix}\n`,
      );
    }
    // Only the settings the file sets: a default (corral.pid, data) lies in --data-dir, which is
    // warned about itself when under /tmp.
    const fromFile = (name: 'CORRAL_DATA_DIR' | 'CORRAL_LOG_FILE' | 'CORRAL_PIDFILE') => (loaded.sources[name] === 'default' ? undefined : s[name]);
    const set = { CORRAL_DATA_DIR: fromFile('CORRAL_DATA_DIR'), CORRAL_LOG_FILE: fromFile('CORRAL_LOG_FILE'), CORRAL_PIDFILE: fromFile('CORRAL_PIDFILE') };
    for (const p of privateTmpPaths(set, options.dataDir, options.logDir)) {
      process.stderr.write(
        `warning: ${p.setting}=${p.path} (in ${envFile}) is under /tmp or /var/tmp, which the unit's PrivateTmp=yes makes private to the service, removed when it stops: ${p.loss}: ${p.fix}\n`,
      );
    }
    for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
    if (values.output === '') throw new CorralError('CORRAL_ERR_USAGE', '--output is empty: name the unit file (e.g. /etc/systemd/system/corral.service)');
    if (values.output === undefined) process.stdout.write(text);
    else {
      await replaceFile(resolve(values.output), text, '--output');
      process.stderr.write(`wrote ${resolve(values.output)}\n`);
    }
    return 0;
  },
};
