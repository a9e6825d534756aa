// Which of corral's own paths the generated unit would leave read-only. The unit sets
// ProtectSystem=strict: only the data dir, the log dir, /run/corral (RuntimeDirectory=) and the
// private /tmp are writable, so a CORRAL_LOG_FILE, CORRAL_DATA_DIR or CORRAL_PIDFILE elsewhere
// makes the service fail at start (the log file: exit 78, not restarted) however right the
// settings file looks to `corral config`. And one in /tmp or /var/tmp, though writable, is in the
// service's own private copy (PrivateTmp=yes), which no process outside it sees and which systemd
// removes when the service stops.

import { posix } from 'node:path';
import { shellWord } from '../cli/shell-word.js';
import { underPrivateTmp } from './hidden-paths.js';
import { unmanagedDirs, type UnitOptions } from './unit.js';

export interface PathSettings {
  readonly CORRAL_DATA_DIR: string | undefined;
  readonly CORRAL_LOG_FILE: string | undefined;
  readonly CORRAL_PIDFILE: string | undefined;
}

export interface UnwritablePath {
  readonly setting: keyof PathSettings;
  readonly path: string;
  /** What to change: a flag of `corral systemd-unit`, or the setting. */
  readonly fix: string;
}

/** The directories the unit makes writable for a given --data-dir and --log-dir. */
export function writableDirs(dataDir: string, logDir: string): readonly string[] {
  return [dataDir, logDir, '/run/corral', '/tmp', '/var/tmp'];
}

/** writableDirs for a message: /tmp and /var/tmp said to be private, so they are not taken for a fix. */
export function writableDirsText(dataDir: string, logDir: string): string {
  return `${dataDir}, ${logDir}, /run/corral, and /tmp, /var/tmp private to the service`;
}

function inside(path: string, dir: string): boolean {
  const rel = posix.relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !posix.isAbsolute(rel));
}

/** Settings (already resolved to absolute paths) the service could not write to. */
export function unwritablePaths(s: PathSettings, dataDir: string, logDir: string): UnwritablePath[] {
  const dirs = writableDirs(dataDir, logDir);
  const writable = (path: string) => dirs.some((d) => inside(posix.normalize(path), posix.normalize(d)));
  const out: UnwritablePath[] = [];
  if (s.CORRAL_DATA_DIR !== undefined && !writable(s.CORRAL_DATA_DIR)) {
    out.push({ setting: 'CORRAL_DATA_DIR', path: s.CORRAL_DATA_DIR, fix: `pass --data-dir ${s.CORRAL_DATA_DIR}, or remove CORRAL_DATA_DIR from the settings file` });
  }
  if (s.CORRAL_LOG_FILE !== undefined && !writable(posix.dirname(s.CORRAL_LOG_FILE))) {
    out.push({ setting: 'CORRAL_LOG_FILE', path: s.CORRAL_LOG_FILE, fix: `pass --log-dir ${posix.dirname(s.CORRAL_LOG_FILE)}, or set CORRAL_LOG_FILE=${posix.join(logDir, 'corral.log')}` });
  }
  if (s.CORRAL_PIDFILE !== undefined && !writable(posix.dirname(s.CORRAL_PIDFILE))) {
    out.push({ setting: 'CORRAL_PIDFILE', path: s.CORRAL_PIDFILE, fix: 'set CORRAL_PIDFILE=/run/corral/corral.pid' });
  }
  return out;
}

export interface PrivatePath {
  readonly setting: keyof PathSettings;
  readonly path: string;
  /** What breaks because the path is in the service's private /tmp. */
  readonly loss: string;
  readonly fix: string;
}

/**
 * Settings (already resolved to absolute paths) in /tmp or /var/tmp: writable, but the unit's
 * PrivateTmp=yes gives the service its own, which nothing outside it sees and which systemd
 * removes when the service stops (systemd.exec(5)).
 */
export function privateTmpPaths(s: PathSettings, dataDir: string, logDir: string): PrivatePath[] {
  const out: PrivatePath[] = [];
  if (s.CORRAL_DATA_DIR !== undefined && underPrivateTmp(s.CORRAL_DATA_DIR)) {
    out.push({
      setting: 'CORRAL_DATA_DIR',
      path: s.CORRAL_DATA_DIR,
      loss: 'what corral keeps there (the write journal, the offline sheet, generated secrets) is lost at every restart',
      fix: underPrivateTmp(dataDir) ? 'set CORRAL_DATA_DIR=/var/lib/corral and pass --data-dir /var/lib/corral' : `remove CORRAL_DATA_DIR from the settings file (the service then uses --data-dir ${dataDir}), or set it outside /tmp`,
    });
  }
  if (s.CORRAL_LOG_FILE !== undefined && underPrivateTmp(s.CORRAL_LOG_FILE)) {
    out.push({
      setting: 'CORRAL_LOG_FILE',
      path: s.CORRAL_LOG_FILE,
      loss: 'logrotate and tail -F outside the service never see the file, and it is lost at every restart',
      fix: `set CORRAL_LOG_FILE=${posix.join(underPrivateTmp(logDir) ? '/var/log/corral' : logDir, 'corral.log')}`,
    });
  }
  if (s.CORRAL_PIDFILE !== undefined && underPrivateTmp(s.CORRAL_PIDFILE)) {
    out.push({
      setting: 'CORRAL_PIDFILE',
      path: s.CORRAL_PIDFILE,
      loss: '`corral stop`, `corral status` and `corral reload` run outside the service never find it, nor the master',
      fix: 'set CORRAL_PIDFILE=/run/corral/corral.pid',
    });
  }
  return out;
}

/**
 * Warnings (without the "warning: " prefix) for the --data-dir and --log-dir the unit lists in
 * ReadWritePaths= that are not on this host. systemd creates only what StateDirectory= and
 * LogsDirectory= name (under /var/lib and /var/log); a ReadWritePaths= directory that is missing
 * fails the namespace set-up (systemd.exec(5): "status=226/NAMESPACE") before node even runs, so
 * corral cannot say why, and Restart=on-failure retries it every 2 s until the start limit. One
 * under /tmp or /var/tmp is warned about already (hidden-paths.ts).
 */
export function missingDirWarnings(o: Pick<UnitOptions, 'dataDir' | 'logDir' | 'user' | 'group'>, exists: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const { flag, dir } of unmanagedDirs(o)) {
    if (underPrivateTmp(dir) || exists(dir)) continue;
    // The data dir holds the login codes, the journal and the session secret (StateDirectoryMode=0700);
    // the log dir, like LogsDirectory='s, is readable, the files in it 0640.
    const mode = flag === '--data-dir' ? '0700' : '0755';
    // A command to paste: a path with a space (which the unit quotes for systemd) quoted for the shell.
    out.push(
      `${flag} ${dir} does not exist on this host: systemd creates only the unit's directories under /var/lib and /var/log, and a missing ReadWritePaths= directory makes the service fail with status=226/NAMESPACE before corral runs (retried every 2 s): create it for the service's user: install -d -m ${mode} -o ${o.user} -g ${o.group} ${shellWord(dir)}`,
    );
  }
  return out;
}

/**
 * Directories far broader than corral's own that a --data-dir or --log-dir made writable
 * (ReadWritePaths=): `--log-dir /var/log/` gave the service every log of the host to write, which
 * ProtectSystem=strict is there to prevent. A warning: the unit is still what was asked for.
 */
const SHARED_DIRS = new Set(['/', '/etc', '/usr', '/opt', '/srv', '/var', '/var/lib', '/var/log', '/var/cache', '/home', '/root', '/run', '/tmp', '/var/tmp']);

export function broadDirWarnings(o: Pick<UnitOptions, 'dataDir' | 'logDir'>): string[] {
  return unmanagedDirs(o)
    .filter(({ dir }) => SHARED_DIRS.has(dir))
    .map(({ flag, dir }) => `${flag} ${dir} makes all of ${dir} writable by the service (ReadWritePaths=${dir}), not a directory of corral's own: give it one, e.g. ${flag} ${dir === '/' ? '' : dir}/corral`);
}
