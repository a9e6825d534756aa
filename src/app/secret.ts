// The session secret: CORRAL_SESSION_SECRET, or one generated on first use and kept in
// CORRAL_DATA_DIR/session-secret (mode 0600). Several workers boot at once, so creation is a
// race: each writes its candidate to a private temp file and link()s it into place; link fails
// with EEXIST for every loser, and everyone then reads the one file that won.

import { randomBytes } from 'node:crypto';
import { link, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs } from '../make-dirs.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-modes.js';

export const SECRET_FILE = 'session-secret';

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
  if (!secret) throw new Error(`session secret file ${file} is empty`);
  return secret;
}

async function readSecret(file: string): Promise<Buffer | undefined> {
  try {
    const text = (await readFile(file, 'utf8')).trim();
    return text === '' ? undefined : Buffer.from(text, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
