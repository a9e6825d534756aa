// Where the keeper listens. A unix socket in the data dir when its path fits: sun_path holds
// 108 bytes on Linux (104 on macOS), so long data dirs fall back to a name in the temp dir
// derived from the data dir, the same for the keeper and every worker of that host.

import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const MAX_SOCKET_PATH_BYTES = 100;

export function keeperSocketPath(dataDir: string): string {
  const abs = resolve(dataDir);
  const inData = join(abs, 'keeper.sock');
  if (Buffer.byteLength(inData) < MAX_SOCKET_PATH_BYTES) return inData;
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 16);
  return join(tmpdir(), `corral-keeper-${hash}.sock`);
}

/** The data dir from settings (an empty CORRAL_DATA_DIR means the default, ./data). */
export function dataDirOf(settings: { readonly CORRAL_DATA_DIR: string | undefined }): string {
  return resolve(settings.CORRAL_DATA_DIR ?? 'data');
}
