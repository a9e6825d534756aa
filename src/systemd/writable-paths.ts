// Which of corral's own paths the generated unit would leave read-only. The unit sets
// ProtectSystem=strict: only the data dir, the log dir, /run/corral (RuntimeDirectory=) and the
// private /tmp are writable, so a CORRAL_LOG_FILE, CORRAL_DATA_DIR or CORRAL_PIDFILE elsewhere
// makes the service fail at start (the log file: exit 78, not restarted) however right the
// settings file looks to `corral config`.

import { posix } from 'node:path';

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
