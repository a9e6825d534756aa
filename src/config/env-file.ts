// The settings file itself: which one a process reads (CORRAL_ENV_FILE, or ./.env), reading it
// as dotenv does without touching process.env, and refusing it whole when it cannot be what the
// operator meant (a dangling link, a file gone since start, UTF-16 text); and whether it shows the
// secrets it holds to every user. Apart from the values' judging (setting-value.ts, load.ts): a
// command that finds a master by its file (master-by-settings-file.ts) shares the naming rule and
// nothing else.

import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import dotenv from 'dotenv';
import { CorralError } from '../errors.js';
import { lintEnvText, type EnvLint } from './env-lint.js';
import { pathVariables } from './path-variables.js';
import { schema, settingNames } from './schema.js';
import type { SettingSpec } from './spec.js';

const NO_LINT: EnvLint = { lineOf: new Map(), duplicates: [], ignored: [], cutAtHash: [], unclosedQuotes: [], swallowed: [] };

/** /dev/null's device number (Linux: major 1, minor 3), read once; undefined where there is none. */
const NULL_DEVICE = (() => {
  try {
    return statSync('/dev/null').rdev;
  } catch {
    return undefined;
  }
})();

/** Where the symlink at `file` points, when there is one (read after ENOENT: its target is missing). */
function danglingLinkTarget(file: string): string | undefined {
  try {
    return lstatSync(file).isSymbolicLink() ? readlinkSync(file) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why `bytes` cannot be read as the UTF-8 text dotenv expects, or undefined. A file saved as
 * UTF-16 (Windows editors, PowerShell's `>`) parsed as UTF-8 gave no setting at all, exit 0, and
 * warnings about lines of junk; NUL bytes are in no text file an operator meant.
 */
function notUtf8Text(bytes: Buffer): string | undefined {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) return 'it begins with a UTF-16 byte-order mark';
  if (bytes.includes(0)) return 'it holds NUL bytes (UTF-16 or UTF-32 text, or not text at all)';
  return undefined;
}

/**
 * A CORRAL_ENV_FILE not found that a shell would have expanded (`~/corral.env`, `$HOME/corral.env`):
 * what to do, or undefined. A unit's Environment= and a compose file expand neither, and "point
 * CORRAL_ENV_FILE at an existing file" left the operator looking at a file that exists.
 */
function unexpandedEnvFile(named: string, env: NodeJS.ProcessEnv): string | undefined {
  const home = env.HOME !== undefined && isAbsolute(env.HOME) ? env.HOME : undefined;
  const tilde = named.startsWith('~') ? { shown: '~', expanded: named.startsWith('~/') && home ? resolve(home, named.slice(2)) : undefined } : undefined;
  const found = tilde ?? pathVariables(named, env);
  if (found === undefined) return undefined;
  const meant = found.expanded !== undefined && isAbsolute(found.expanded) ? `: ${found.expanded}` : '';
  return `nothing expanded the ${found.shown} of CORRAL_ENV_FILE=${named} (a unit's Environment= or a compose file does not): write the absolute path${meant}`;
}

/** The settings file a process reads, by its CORRAL_ENV_FILE and working directory: undefined for `none`. */
function envFilePath(named: string | undefined, cwd: string): string | undefined {
  const name = envFileName(named);
  return name === undefined ? undefined : resolve(cwd, name);
}

/**
 * The settings file CORRAL_ENV_FILE names, as given (relative to the cwd unless absolute):
 * undefined for `none`. Also how a command finds the master that read a file
 * (cli/master-by-settings-file.ts, from that master's /proc environ): one rule, not two that
 * could drift apart.
 */
export function envFileName(named: string | undefined): string | undefined {
  if (named === 'none') return undefined;
  return named && named !== '' ? named : '.env';
}

/** The settings file named, its values as dotenv parses them, and what dotenv passed over (env-lint.ts). */
export function readEnvFile(env: NodeJS.ProcessEnv, cwd: string, readAtStart: string | undefined): { file: string | undefined; values: Record<string, string>; lint: EnvLint } {
  const named = env.CORRAL_ENV_FILE;
  const file = envFilePath(named, cwd);
  if (file === undefined) return { file: undefined, values: {}, lint: NO_LINT };
  let bytes: Buffer;
  let pipe = false;
  let device: 'block' | 'character' | undefined;
  try {
    // Judged before it is opened: opening a FIFO waits for a writer (a command beside corral hung).
    const st = statSync(file);
    pipe = st.isFIFO() || st.isSocket();
    // A device reads on for ever (/dev/zero, /dev/urandom) or waits for a terminal (/dev/tty):
    // no file of settings; /dev/null, read as empty, is one way of saying there are none.
    device = (st.isCharacterDevice() || st.isBlockDevice()) && st.rdev !== NULL_DEVICE ? (st.isBlockDevice() ? 'block' : 'character') : undefined;
    bytes = pipe || device !== undefined ? Buffer.alloc(0) : readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A link whose target is gone is a file the operator meant to be read, not "no file".
    const target = code === 'ENOENT' ? danglingLinkTarget(file) : undefined;
    if (target !== undefined) {
      throw new CorralError('CORRAL_ERR_ENV_FILE', `cannot read env file ${file}: it is a symbolic link to ${target}, which does not exist; restore ${target}, or point the link at the settings file (or remove it to read no file)`, { cause: err });
    }
    // Gone since the master read it at start: a reload with the defaults (8 workers, logs on
    // stdout...) in its place would be a silent change of every setting.
    if (code === 'ENOENT' && readAtStart === file) {
      throw new CorralError('CORRAL_ERR_ENV_FILE', `the env file ${file}, read at start, is gone; restore it, or create an empty file there (touch ${file}) to reload with the defaults`, { cause: err });
    }
    // A missing default ./.env is normal; a missing file the operator named is an error.
    if (code === 'ENOENT' && !named) return { file: undefined, values: {}, lint: NO_LINT };
    const fix =
      code === 'EACCES' || code === 'EPERM'
        ? // Read by the master, and by the commands that find it (status, reload, stop), often
          // run by an operator as themselves: the file is private to corral's user on purpose.
          `make it readable by the user corral runs as, and run corral's commands as that user or root (sudo -u <that user> corral …)`
        : code === 'EISDIR'
          ? named
            ? 'CORRAL_ENV_FILE must name a file, not a directory'
            : // Not named: the default ./.env is what is a directory, which no CORRAL_ENV_FILE set.
              'the settings are read from ./.env unless CORRAL_ENV_FILE names another file: move that directory away, or set CORRAL_ENV_FILE to the settings file (none: read no file)'
          : code === 'ENOENT' && named
            ? (unexpandedEnvFile(named, env) ?? 'point CORRAL_ENV_FILE at an existing file, or set CORRAL_ENV_FILE=none to read no file')
            : 'point CORRAL_ENV_FILE at an existing file, or set CORRAL_ENV_FILE=none to read no file';
    throw new CorralError('CORRAL_ERR_ENV_FILE', `cannot read env file ${file}: ${(err as Error).message}; ${fix}`, { cause: err });
  }
  // `CORRAL_ENV_FILE=<(sops -d corral.env)`: /dev/fd/N, a pipe, read whole at start; a reload
  // re-reads the file it named, found it empty, and went back to every default without a word
  // (the admin token, the sheet, the rate limit...). A file is what a reload can read again.
  if (device !== undefined) {
    throw new CorralError('CORRAL_ERR_ENV_FILE', `cannot read env file ${file}: it is a ${device} device, not a file of settings; point CORRAL_ENV_FILE at a regular file, or set CORRAL_ENV_FILE=none to read no file`);
  }
  if (pipe) {
    throw new CorralError(
      'CORRAL_ERR_ENV_FILE',
      `cannot read env file ${file}: it is a pipe (a shell's <(...), or a FIFO), which can be read once at most: a reload would read it empty and put every setting back to its default; point CORRAL_ENV_FILE at a regular file (e.g. the decrypted settings written to /etc/corral/corral.env, chmod 600), or set CORRAL_ENV_FILE=none and pass the settings in the environment`,
    );
  }
  const why = notUtf8Text(bytes);
  if (why) throw new CorralError('CORRAL_ERR_ENV_FILE', `cannot read env file ${file}: ${why}; save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 ${file} > ${file}.utf8, then move that into place)`);
  const text = bytes.toString('utf8');
  return { file, values: dotenv.parse(text), lint: lintEnvText(text) };
}

/**
 * A settings file every user of the host may read, that holds a secret (the admin token, the
 * session secret, a service-account key, a Redis or proxy password): said, with the fix. `echo ... >> .env`
 * under the usual umask 022 makes it 0644; the data dir's files corral writes itself are 0600.
 */
export function secretsOpenToOthers(file: string, values: Record<string, string>): string | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o004) === 0) return undefined;
  const held = settingNames.filter((name) => {
    const spec = schema[name] as SettingSpec<unknown>;
    // A setting only part of which is secret (REDIS_URL's password) holds one only with that part;
    // so does one whose shown value masks a part (a proxy URL's password): only with that part.
    if (spec.secret !== true && spec.show === undefined) return false;
    const masks = (raw: string): boolean => !raw.includes('***') && spec.show?.(raw).includes('***') === true;
    const holds = (raw: string): boolean => spec.holdsSecret?.(raw) ?? (spec.secret === true || masks(raw));
    return [name, ...(spec.aliases ?? []), ...(spec.lowercase ? [name.toLowerCase()] : [])].some((n) => {
      const raw = values[n] ?? '';
      return raw !== '' && holds(raw);
    });
  });
  if (held.length === 0) return undefined;
  return `${file} is readable by every user of this host (mode ${(mode & 0o777).toString(8).padStart(4, '0')}) and holds ${held.join(', ')}: chmod 600 ${file} (or 640, owned by root and the service's group, as the Deploy steps install it)`;
}
