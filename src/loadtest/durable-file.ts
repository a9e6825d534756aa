// Writing a file so that it survives a power cut: its data flushed before it is renamed into place,
// and the directory flushed after the rename, since a rename is a change to the directory that
// the kernel may otherwise keep in memory, and lose, for several seconds after it returns. A new
// directory is such a change to its parent too: unflushed, a power cut can take it away with all
// that was flushed inside it.

import { closeSync, fsyncSync, openSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** fsync(2); a parameter so that tests can make a disk fail. */
export type Fsync = (fd: number) => void;

/** Writes the whole text to a new file and flushes it to disk, so a rename publishes it complete. */
export function writeDurably(path: string, text: string, fsync: Fsync = fsyncSync): void {
  const fd = openSync(path, 'wx');
  try {
    writeFileSync(fd, text);
    fsync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Some filesystems cannot fsync a directory and say so (EINVAL on Linux's proc and sys and some
 * network filesystems; EISDIR where a directory cannot be opened as a file): there is nothing
 * more to flush that this process could ask for, and it is no failure of the write.
 */
const REFUSED_BY_FILESYSTEM = new Set(['EINVAL', 'EISDIR']);

/**
 * Flushes the directory's entries (the renames into it) to disk: opened read-only, fsynced,
 * closed. A refusal by the filesystem is ignored; any other failure (EIO: the disk) is thrown, as
 * the renames may then not survive a power cut.
 */
export function syncDirectory(dir: string, fsync: Fsync = fsyncSync): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (err) {
    if (REFUSED_BY_FILESYSTEM.has((err as NodeJS.ErrnoException).code ?? '')) return;
    throw err;
  }
  try {
    fsync(fd);
  } catch (err) {
    if (!REFUSED_BY_FILESYSTEM.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    closeSync(fd);
  }
}

/**
 * Flushes each new directory's entry in its parent (makeDirsSync's list), topmost first: the parent of the topmost one,
 * then each new one that holds the next. A refusal by the filesystem is ignored, as in
 * syncDirectory; any other failure is thrown, naming the directory that could not be flushed.
 */
export function syncNewDirectories(created: readonly string[], fsync: Fsync = fsyncSync): void {
  for (const dir of created) {
    const parent = dirname(dir);
    try {
      syncDirectory(parent, fsync);
    } catch (err) {
      throw new Error(`cannot flush ${parent} to disk after creating ${dir} in it: ${(err as Error).message}`, { cause: err });
    }
  }
}
