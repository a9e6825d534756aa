// The session secret: CORRAL_SESSION_SECRET, or one generated on first use and kept in
// CORRAL_DATA_DIR/session-secret (mode 0600). Several workers boot at once, so creation is a
// race: each writes its candidate to a private temp file and link()s it into place; link fails
// with EEXIST for every loser, and everyone then reads the one file that won.
//
// Only a generation's first boot may make it. A worker that joins a generation already serving
// (a crash's replacement, a recycle, TTIN: AppContext.generationReadyAt is set) used to make a new
// one when an operator had deleted the file to rotate but not yet reloaded: it then signed with a
// secret no other worker had, and a token passed or failed by which worker a request reached (the
// audit: {200:2, 401:10}). It has no copy of the secret the others hold, so it refuses to boot
// (CORRAL_ERR_SESSION_SECRET_CHANGED: reload to rotate) when the file is gone, or was written
// after the generation's first worker was ready (rewritten by hand, or made by a reload that was
// rolled back): the master's backoff retries it, the others keep serving, and the reload the
// operator meant to do makes the new secret for all the workers it starts. Decided in the worker
// from what the master tells every child (when its generation became ready): the master knows
// nothing of sessions, and the keeper outlives reloads, so it could not make a rotation's secret.
//
// The file is held to CORRAL_SESSION_SECRET's rule (at least 32 characters; the generated one has
// 64): a secret written by hand (`printf 'x\n'`) was used as it was, and a key of one character
// can be found by trying them all, letting anyone sign a token for any player. The worker refuses
// to boot instead, so a reload rolls back and a start exits, naming the file and the fix.

import { randomBytes } from 'node:crypto';
import { link, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CorralError } from '../errors.js';
import { makeDirs } from '../make-dirs.js';
import { processAlive } from '../process-alive.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-modes.js';

export const SECRET_FILE = 'session-secret';
/** The fewest characters a secret may have: CORRAL_SESSION_SECRET's minLength in the schema. */
export const SECRET_MIN_LENGTH = 32;

/**
 * `generationReadyAt`: AppContext.generationReadyAt, set for a worker joining a generation that
 * serves; that worker never makes the file, and takes it only as it was when the generation began.
 */
export async function loadSessionSecret(configured: string | undefined, dataDir: string, generationReadyAt?: number): Promise<Buffer> {
  if (configured !== undefined && configured !== '') return Buffer.from(configured, 'utf8');
  const file = join(dataDir, SECRET_FILE);
  const existing = await readSecret(file);
  if (generationReadyAt !== undefined) return joiningSecret(file, existing, generationReadyAt);
  // At every generation's first boot, not only when the file is made: a worker killed while the
  // file was being made by the others left its temp file behind a secret that then existed.
  await removeDeadTemps(dataDir);
  if (existing) return existing.secret;
  await makeDirs(dataDir, PRIVATE_DIR_MODE);
  const temp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const handle = await open(temp, 'wx', PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(`${randomBytes(48).toString('base64url')}\n`);
    await handle.sync();
  } catch (err) {
    // A full disk: each boot that retries would leave one more temp file holding its space.
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  const made = await readSecret(file);
  // Only a file removed again between the link and this read (by hand) can be missing here.
  if (!made) throw weakSecret(file, 0);
  return made.secret;
}

const TEMP_NAME = new RegExp(`^${SECRET_FILE}\\.tmp-(\\d+)-[0-9a-f]+$`);

/**
 * The temp files of workers killed between making theirs and linking it (SIGKILL, the OOM killer):
 * each held a secret candidate in the data dir for good. Those of a live pid are another worker's,
 * racing for the file now, and are left.
 */
async function removeDeadTemps(dataDir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dataDir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(TEMP_NAME.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || processAlive(pid)) continue;
    await unlink(join(dataDir, name)).catch(() => undefined);
  }
}

interface SecretFile {
  readonly secret: Buffer;
  /** When its contents were last written (epoch ms). */
  readonly mtimeMs: number;
}

/** The file's secret; undefined when there is no file; refused when it is too short (empty included). */
async function readSecret(file: string): Promise<SecretFile | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    // One open file for both: the time is that of the contents read, whatever replaces the name.
    const handle = await open(file, 'r');
    try {
      mtimeMs = (await handle.stat()).mtimeMs;
      text = (await handle.readFile('utf8')).trim();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadableSecret(file, err);
  }
  if (text.length < SECRET_MIN_LENGTH) throw weakSecret(file, text.length);
  return { secret: Buffer.from(text, 'utf8'), mtimeMs };
}

/**
 * A joining worker's secret: the file as the generation's first boot left it. Written later is
 * taken as another secret than the one the serving workers read (any write sets the time; a chmod
 * or chown does not). The times are one host's wall clock: only a file written within a step of
 * that clock of the generation's ready could be misjudged, and a reload ends either mistake.
 */
function joiningSecret(file: string, existing: SecretFile | undefined, readyAt: number): Buffer {
  const fix = 'reload corral (systemctl reload corral) to rotate the session secret: the reload starts workers that make a new one, if the file is gone, and all sign with it';
  const why =
    'this worker joins a generation that already serves (a crash\'s replacement, a recycle, a worker added), whose workers sign with the secret they read at its start; signing with another, its tokens would fail on them and theirs on it';
  if (!existing) {
    throw new CorralError('CORRAL_ERR_SESSION_SECRET_CHANGED', `the session secret file ${file} is gone, and ${why}, so it does not boot; ${fix}`);
  }
  // Whole milliseconds: the master's clock says when the generation was ready to the ms.
  if (Math.floor(existing.mtimeMs) > readyAt) {
    throw new CorralError(
      'CORRAL_ERR_SESSION_SECRET_CHANGED',
      `the session secret file ${file} was written at ${new Date(existing.mtimeMs).toISOString()}, after its generation's first worker was ready (${new Date(readyAt).toISOString()}), and ${why}, so it does not boot; ${fix}`,
    );
  }
  return existing.secret;
}

/**
 * A file that is there and cannot be read: one written by hand as root (`install -m 600`) for a
 * service running as its own user (EACCES), a directory in its place (EISDIR, whose message names
 * no file). Every worker failed its boot on the bare errno, the start exiting 3 with
 * 'EISDIR: illegal operation on a directory, read'. Left as it is: the operator's, maybe the
 * secret every host shares.
 */
function unreadableSecret(file: string, err: unknown): CorralError {
  return new CorralError(
    'CORRAL_ERR_SESSION_SECRET_UNREADABLE',
    `cannot read the session secret file ${file}: ${(err as Error)?.message ?? String(err)}. ` +
      'Make it a file readable by the user corral runs as (chown that user, chmod 600), or delete it to have a new one made (at the next start or reload; every session then ends)',
    { cause: err },
  );
}

function weakSecret(file: string, length: number): CorralError {
  return new CorralError(
    'CORRAL_ERR_SESSION_SECRET_WEAK',
    `the session secret file ${file} holds ${length} character(s); a session secret needs at least ${SECRET_MIN_LENGTH}, as CORRAL_SESSION_SECRET does. ` +
      `Delete the file to have a new one made (at the next start or reload), or write at least ${SECRET_MIN_LENGTH} random characters in it`,
  );
}
