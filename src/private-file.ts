// The temporary files corral writes in CORRAL_DATA_DIR before renaming them into place (the quota
// ledger, the cache handoff, the journal's compaction, the offline sheet's tabs). open()'s mode
// applies only to a file it creates: a temporary file of the same name already there (left by a
// crash mid-write, or by an older version, which wrote them 0644) was opened as it was, and the
// file renamed into place kept its mode, readable by every local user. Whatever is at the name is
// removed first and the file created exclusively, so it is always new and PRIVATE_FILE_MODE.

import { constants, unlinkSync, writeFileSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { PRIVATE_FILE_MODE } from './private-modes.js';

function rethrowUnlessAbsent(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

/**
 * Opens `path` as a new, empty file of mode 0600 (less what the umask takes), removing a file
 * already there. `flags`: the access mode and any other flags (O_APPEND); O_CREAT and O_EXCL are
 * added, so another file that appears at the name meanwhile is an error (EEXIST), never reused.
 */
export async function openNewPrivateFile(path: string, flags: number = constants.O_WRONLY): Promise<FileHandle> {
  await unlink(path).catch(rethrowUnlessAbsent);
  return open(path, flags | constants.O_CREAT | constants.O_EXCL, PRIVATE_FILE_MODE);
}

/** Writes `data` to `path` as a new file of mode 0600, as openNewPrivateFile, synchronously. */
export function writeNewPrivateFileSync(path: string, data: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    rethrowUnlessAbsent(err);
  }
  writeFileSync(path, data, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
}
