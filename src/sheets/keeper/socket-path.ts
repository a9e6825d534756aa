// Where the keeper listens. A unix socket in the data dir when its path fits: sun_path holds
// 108 bytes on Linux (104 on macOS), so long data dirs fall back to a name in the temp dir
// derived from the data dir, the same for the keeper and every worker of that host.
//
// The temp dir is shared by every local user (outside systemd's PrivateTmp=): whoever binds the
// keeper's name there first is the keeper for the workers, who would read the roster (the login
// codes) that user serves and send it every event. So the fallback name is in a directory of this
// user's alone, `corral-<uid>`, which the keeper creates with mode 0700 and both sides check before
// they use it: made by another user, a symlink, or open to others, it is refused
// (CORRAL_ERR_KEEPER_SOCKET_DIR). In the sticky temp dir nobody else can remove or rename it.

import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CorralError } from '../../errors.js';
import { PRIVATE_DIR_MODE } from '../../private-modes.js';

const MAX_SOCKET_PATH_BYTES = 100;

/** This process's uid, or undefined where there are none (Windows). */
function uid(): number | undefined {
  return process.getuid?.();
}

/** `tempDir` is for tests; every process of a corral uses the system's. */
export function keeperSocketPath(dataDir: string, tempDir: string = tmpdir()): string {
  const abs = resolve(dataDir);
  const inData = join(abs, 'keeper.sock');
  if (Buffer.byteLength(inData) < MAX_SOCKET_PATH_BYTES) return inData;
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 16);
  return join(tempDir, `corral-${uid() ?? 'user'}`, `keeper-${hash}.sock`);
}

/** True when the socket is not in the data dir: its directory is then checked (checkSocketDir). */
export function socketOutsideDataDir(socketPath: string, dataDir: string): boolean {
  return dirname(resolve(socketPath)) !== resolve(dataDir);
}

/**
 * Throws CORRAL_ERR_KEEPER_SOCKET_DIR unless the socket's directory is a directory (not a symlink)
 * of this user's, closed to others. `create`: the keeper makes it first (mode 0700); a worker
 * only looks, and a directory not there yet is no error (the keeper has not started: the connect
 * fails as for any keeper that is down). Returns whether the directory was there and checked.
 */
export function checkSocketDir(socketPath: string, options: { create: boolean }): boolean {
  const dir = dirname(socketPath);
  if (options.create) {
    try {
      mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if (!options.create && (err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const me = uid();
  const problem = st.isSymbolicLink()
    ? 'is a symlink'
    : !st.isDirectory()
      ? 'is not a directory'
      : me !== undefined && st.uid !== me
        ? `belongs to uid ${st.uid}, not to this user (uid ${me})`
        : (st.mode & 0o077) !== 0
          ? `is open to other users (mode ${(st.mode & 0o777).toString(8)})`
          : undefined;
  if (problem === undefined) return true;
  throw new CorralError(
    'CORRAL_ERR_KEEPER_SOCKET_DIR',
    `the keeper's socket ${socketPath} is outside CORRAL_DATA_DIR (whose path is too long for a unix socket), and its directory ${dir} ${problem}: another user could stand in for the keeper there, so it is not used. Remove ${dir} (another user's: as root), or give CORRAL_DATA_DIR a shorter path (under ${MAX_SOCKET_PATH_BYTES - 12} bytes)`,
  );
}

/** The data dir from settings (an empty CORRAL_DATA_DIR means the default, ./data). */
export function dataDirOf(settings: { readonly CORRAL_DATA_DIR: string | undefined }): string {
  return resolve(settings.CORRAL_DATA_DIR ?? 'data');
}
