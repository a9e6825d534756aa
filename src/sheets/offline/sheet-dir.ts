// Where the offline sheet's tabs live: a module of its own, light enough for the master, which
// reads the roster there at a reload (master/sample-roster-on-reload.ts) and loads no backend.

import { join } from 'node:path';
import type { Settings } from '../../config/schema.js';
import { dataDirOf } from '../keeper/socket-path.js';

export function offlineSheetDir(settings: Pick<Settings, 'CORRAL_DATA_DIR'>): string {
  return join(dataDirOf(settings), 'sheet');
}
