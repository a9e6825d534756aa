// Writes a generated file in place of the one a service runs from (systemd-unit --output): to a
// temporary file beside it, fsynced, then renamed over it. A shell redirection (`> corral.service`,
// `| tee`) empties the installed file before the command can refuse its settings, and systemd
// then reads the empty unit as masked; a crash mid-write leaves half a unit. Here the old file
// stays as it was until the new one is whole.

import { constants, realpathSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CorralError } from '../errors.js';
import { fsyncDir } from '../fs-sync.js';

/**
 * Writes `text` to `path` (mode 0644, as unit files are), whole or not at all. A `path` that is a
 * symbolic link (`systemctl link` installs a unit so) is written through: its target gets the new
 * text, the link stays. Renamed over, the link became a file and its target kept the old unit.
 */
export async function replaceFile(given: string, text: string, flag: string): Promise<void> {
  let path = given;
  try {
    path = realpathSync(given);
  } catch {
    // Not there yet (or a link to nothing, written as itself): the path as given.
  }
  const fail = (why: string, cause?: unknown): never => {
    throw new CorralError('CORRAL_ERR_USAGE', `cannot write ${flag} ${given}${path === given ? '' : ` (a link to ${path})`}: ${why}`, cause === undefined ? undefined : { cause });
  };
  try {
    if (statSync(path).isDirectory()) fail('it is a directory: name the file itself (e.g. corral.service)');
  } catch (err) {
    if (err instanceof CorralError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') fail((err as Error).message, err);
  }
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      await fh.writeFile(text);
      await fh.chmod(0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await fsyncDir(dirname(path));
  } catch (err) {
    await rm(tmp, { force: true });
    fail((err as Error).message, err);
  }
}
