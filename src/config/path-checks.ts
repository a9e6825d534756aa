// Settings that name a file or a directory are judged by what is there, not only by their shape:
// a service-account key that is missing, unreadable, a directory or no key, and a CORRAL_DATA_DIR
// that is a file, were found by the keeper after the master said ready, the keeper failing over and
// over (exit 7, or 1 and a bare EEXIST) while `corral config --check` said "settings OK". Judged
// where the settings load (load.ts), as REDIS_TLS_CA_FILE is, so that config --check reports them,
// start exits 78 and a reload is refused, all with the same message. Local and cheap: one stat, or
// one read and parse of the key, never the network; nothing is created (config --check changes
// nothing on disk, and a missing data dir is fine: the keeper creates it).

import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { pseudoFilesystem } from '../file-creatable.js';
import { dataDirOwnerProblem } from './shared-dir-owner.js';
import { loadServiceAccount } from '../sheets/google/credentials.js';

function kindOf(st: Stats): string {
  if (st.isFile()) return 'a file';
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a directory';
}

/** The nearest ancestor of `path` that exists (the one that is not a directory, after ENOTDIR). */
function nearestExisting(path: string): { path: string; st: Stats } | undefined {
  for (let p = dirname(path); ; p = dirname(p)) {
    try {
      return { path: p, st: statSync(p) };
    } catch {
      if (dirname(p) === p) return undefined;
    }
  }
}

/** Why this process could not write in `dir` (make, remove and rename files), or undefined. */
function notWritable(dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

/**
 * A data dir on /proc, /sys or a cgroup filesystem, where nothing can be created, or undefined.
 * Root passes access(W_OK) there: CORRAL_DATA_DIR=/sys/corral passed `corral config` and start as
 * root, and the keeper then failed at every boot (EPERM), its message saying to chown -R /sys.
 */
function onPseudoFilesystem(dir: string, existing: string): string | undefined {
  const pseudo = pseudoFilesystem(existing);
  if (pseudo === undefined) return undefined;
  return `${dir} is on ${pseudo}, a kernel filesystem where no file can be created, whoever runs corral: point CORRAL_DATA_DIR at a directory on a disk, e.g. /var/lib/corral`;
}

function userOfProcess(): string {
  return process.getuid ? `uid ${process.getuid()}` : 'this user';
}

/**
 * Why `dir` (CORRAL_DATA_DIR, absolute) cannot be the data dir, or undefined: it exists and is not
 * a directory, or a parent is a file so it can never be created, or it is another user's in a
 * shared temp dir (shared-dir-owner.ts). Missing is fine. With `writable`
 * (start, a reload, `corral config`: the user who runs them is the one the keeper runs as), also
 * a data dir this user cannot write in, or a missing one it could not create: the keeper's lock
 * and journal live there, and without them it fails at boot, over and over, with exit 7.
 */
export function dataDirProblem(dir: string, options: { writable?: boolean } = {}): string | undefined {
  // Before anything else: such a directory passes every other check, writable to root or by an ACL.
  const owner = dataDirOwnerProblem(dir);
  if (owner !== undefined) return owner;
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const parent = options.writable ? nearestExisting(dir) : undefined;
      const why = parent?.st.isDirectory() ? notWritable(parent.path) : undefined;
      if (parent?.st.isDirectory() && options.writable) {
        const pseudo = onPseudoFilesystem(dir, parent.path);
        if (pseudo !== undefined) return pseudo;
      }
      if (parent === undefined || why === undefined) return undefined;
      return `${dir} does not exist, and ${userOfProcess()} cannot create it in ${parent.path} (${why}): create it for the user corral runs as (mkdir -m 0700 ${dir} && chown <user> ${dir}), or point CORRAL_DATA_DIR elsewhere`;
    }
    if (code === 'ENOTDIR') {
      const parent = nearestExisting(dir);
      const what = parent ? `${parent.path} is ${kindOf(parent.st)}, so ${dir} cannot be created under it` : `a parent of ${dir} is not a directory`;
      return `${what}: point CORRAL_DATA_DIR at a directory (corral creates a missing one, mode 0700), e.g. /var/lib/corral`;
    }
    return `${dir} cannot be reached (${code ?? (err as Error).message}): make it and its parents usable by the user corral runs as, or point CORRAL_DATA_DIR elsewhere`;
  }
  if (st.isDirectory()) {
    // Every local user may write in it (0777, made by hand or under a umask of 000; a sticky bit
    // changes nothing for a file not there yet): one could put a session secret of their own there
    // before a start or a rotation, then sign a token for any player, or bind the keeper's socket
    // first. Refused as the temp dir's socket directory is (CORRAL_ERR_KEEPER_SOCKET_DIR); only
    // reading it is left to the keeper's warning (datadir.open_to_others).
    if ((st.mode & 0o002) !== 0) {
      const mode = (st.mode & 0o7777).toString(8);
      return `${dir} is writable by every local user (mode ${mode}), who could put a session secret of their own there (then sign a token for any player) or stand in for the keeper's socket: make it the service's alone (chmod 0700 ${dir}), or point CORRAL_DATA_DIR elsewhere`;
    }
    const pseudo = options.writable ? onPseudoFilesystem(dir, dir) : undefined;
    if (pseudo !== undefined) return pseudo;
    const why = options.writable ? notWritable(dir) : undefined;
    if (why === undefined) return undefined;
    return `${dir} is not writable by ${userOfProcess()} (${why}), and the keeper keeps its lock and write journal there: give the user corral runs as the directory (chown <user> ${dir}; chmod 0700 ${dir}), or point CORRAL_DATA_DIR elsewhere`;
  }
  return `${dir} is ${kindOf(st)}, not a directory: point CORRAL_DATA_DIR at a directory (corral creates a missing one, mode 0700), e.g. /var/lib/corral, or move the file away`;
}

export interface KeySettings {
  readonly SHEET_ID: string | undefined;
  readonly GOOGLE_APPLICATION_CREDENTIALS: string | undefined;
  readonly GOOGLE_SERVICE_ACCOUNT_JSON: string | undefined;
}

/**
 * The service-account key the keeper will use, read and parsed as it will read it
 * (credentials.ts): the setting it comes from and why it cannot be used, or undefined (usable, or
 * not used: no SHEET_ID, or only SHEETS_API_KEY). GOOGLE_SERVICE_ACCOUNT_JSON, when set, wins
 * over the file, as in the keeper. `keyFile` is GOOGLE_APPLICATION_CREDENTIALS made absolute.
 */
export function serviceAccountKeyProblem(s: KeySettings, keyFile: string | undefined): { setting: 'GOOGLE_APPLICATION_CREDENTIALS' | 'GOOGLE_SERVICE_ACCOUNT_JSON'; why: string } | undefined {
  if (s.SHEET_ID === undefined) return undefined;
  const inline = s.GOOGLE_SERVICE_ACCOUNT_JSON !== undefined && s.GOOGLE_SERVICE_ACCOUNT_JSON.trim() !== '';
  try {
    loadServiceAccount({ GOOGLE_APPLICATION_CREDENTIALS: keyFile, GOOGLE_SERVICE_ACCOUNT_JSON: s.GOOGLE_SERVICE_ACCOUNT_JSON });
    return undefined;
  } catch (err) {
    const setting = inline ? 'GOOGLE_SERVICE_ACCOUNT_JSON' : 'GOOGLE_APPLICATION_CREDENTIALS';
    const message = (err as Error).message;
    // A file that could not be read says what to do already (credentials.ts); so does a damaged
    // private_key. The rest (not JSON, another kind of credential, a field missing) get the fix here.
    const read = message.startsWith('cannot read ') || /download a new JSON key/.test(message);
    const fix = inline ? "GOOGLE_SERVICE_ACCOUNT_JSON must hold a service account's JSON key" : "GOOGLE_APPLICATION_CREDENTIALS must name a service account's JSON key file";
    return { setting, why: read ? message : `${message}; ${fix} (Cloud console: IAM & Admin > Service accounts > Keys > Add key > JSON)` };
  }
}
