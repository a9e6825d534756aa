// fsync of a path, for the files whose durability a promise rests on: the write journal and its
// rewrites, the offline sheet's tabs, the keeper's cache handoff. A rename or an unlink is
// durable only once its directory is fsynced.

import { constants, open } from 'node:fs/promises';

export async function fsyncPath(path: string, flags: number): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes the renames, creations and unlinks in `dir` durable. */
export function fsyncDir(dir: string): Promise<void> {
  return fsyncPath(dir, constants.O_RDONLY);
}
