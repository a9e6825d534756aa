// The data dir as the keeper's start (keeper.ts) makes it: private to the service's user, a data
// dir that cannot be made said as the operator's to fix (exit 7), and one made open to others
// before said at every start while it lasts. A file of its own: what the data dir holds, and who
// may read it, is no part of the composition that follows (lock, backend, journal).

import { stat } from 'node:fs/promises';
import { DataDirWriteError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { makeDirs } from '../../make-dirs.js';
import { PRIVATE_DIR_MODE } from '../../private-modes.js';

/**
 * mkdir's mode applies only to a directory it creates: a data dir made before corral set its
 * modes, or by hand, keeps what it had, and other local users may read the login codes (offline
 * sheet), the journal and the session secret in it. Said at each keeper start while it lasts.
 */
async function warnIfOpenToOthers(dataDir: string, logger: Logger): Promise<void> {
  const mode = (await stat(dataDir)).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  logger.warn(
    { event: 'datadir.open_to_others', dataDir, mode: mode.toString(8) },
    `keeper: the data dir ${dataDir} is open to other local users (mode ${mode.toString(8)}), and holds the login codes (offline sheet), the journal and the session secret: run chmod -R go= ${dataDir}`,
  );
}

/** Makes the data dir (private), or fails naming it; then warns if it is open to others. */
export async function makePrivateDataDir(dataDir: string, logger: Logger): Promise<void> {
  // Private to the service's user: the offline sheet (players' codes), the journal (their
  // events) and the session secret live here, and other local users have no business listing it.
  // A data dir that cannot be made (a file there, or above it; read-only, full) is the operator's
  // to fix, as a journal that cannot be written is: exit 7 naming it, not a bare EEXIST and an
  // exit 1 the master restarts as if it could pass. Settings judge this first (path-checks.ts).
  await makeDirs(dataDir, PRIVATE_DIR_MODE).catch((err: unknown) => {
    throw new DataDirWriteError('the data dir (CORRAL_DATA_DIR)', dataDir, err);
  });
  await warnIfOpenToOthers(dataDir, logger);
}
