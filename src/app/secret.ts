// The session secret: CORRAL_SESSION_SECRET, or one generated on first use and kept in
// CORRAL_DATA_DIR/session-secret (mode 0600). Several workers boot at once, so creation is a
// race: each writes its candidate to a private temp file and link()s it into place; link fails
// with EEXIST for every loser, and everyone then reads the one file that won.
//
// The file is held to CORRAL_SESSION_SECRET's rule (at least 32 characters; the generated one has
// 64): a secret written by hand (`printf 'x\n'`) was used as it was, and a key of one character
// can be found by trying them all, letting anyone sign a token for any player. The worker refuses
// to boot instead, so a reload rolls back and a start exits, naming the file and the fix.

import { randomBytes } from 'node:crypto';
import { link, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CorralError } from '../errors.js';
import { makeDirs } from '../make-dirs.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-modes.js';

export const SECRET_FILE = 'session-secret';
/** The fewest characters a secret may have: CORRAL_SESSION_SECRET's minLength in the schema. */
export const SECRET_MIN_LENGTH = 32;

export async function loadSessionSecret(configured: string | undefined, dataDir: string): Promise<Buffer> {
  if (configured !== undefined && configured !== '') return Buffer.from(configured, 'utf8');
  const file = join(dataDir, SECRET_FILE);
  const existing = await readSecret(file);
  if (existing) return existing;
  await makeDirs(dataDir, PRIVATE_DIR_MODE);
  const temp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const handle = await open(temp, 'wx', PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(`${randomBytes(48).toString('base64url')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  const secret = await readSecret(file);
  // Only a file removed again between the link and this read (by hand) can be missing here.
  if (!secret) throw weakSecret(file, 0);
  return secret;
}

/** The file's secret; undefined when there is no file; refused when it is too short (empty included). */
async function readSecret(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (text.length < SECRET_MIN_LENGTH) throw weakSecret(file, text.length);
  return Buffer.from(text, 'utf8');
}

function weakSecret(file: string, length: number): CorralError {
  return new CorralError(
    'CORRAL_ERR_SESSION_SECRET_WEAK',
    `the session secret file ${file} holds ${length} character(s); a session secret needs at least ${SECRET_MIN_LENGTH}, as CORRAL_SESSION_SECRET does. ` +
      `Delete the file to have a new one made (at the next start or reload), or write at least ${SECRET_MIN_LENGTH} random characters in it`,
  );
}
