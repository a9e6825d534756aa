// The sample roster's warning (sheets/offline/sample-roster.ts) is said by the keeper at its start.
// A reload that moves CORRAL_BIND from loopback to beyond it keeps the keeper (the bind is no
// setting of its), so the published sample codes were served to the network with nothing said:
// the master says it then.

import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { isLoopbackHost } from '../loopback.js';
import { sampleRosterExposure } from '../sheets/offline/sample-roster.js';
import { offlineSheetDir } from '../sheets/offline/sheet-dir.js';

type BindSettings = Pick<Settings, 'CORRAL_BIND' | 'SHEET_ID' | 'CORRAL_DATA_DIR'>;

/** Says the exposure when `applied` moved the app beyond loopback while the offline sheet holds the sample's roster. */
export async function sayExposedByReload(logger: Logger, before: BindSettings, applied: BindSettings): Promise<void> {
  if (applied.SHEET_ID !== undefined || !isLoopbackHost(before.CORRAL_BIND.host) || isLoopbackHost(applied.CORRAL_BIND.host)) return;
  const exposure = await sampleRosterExposure(offlineSheetDir(applied), applied.CORRAL_BIND);
  if (exposure) logger.warn({ event: 'sheets.sample_roster_exposed', code: 'CORRAL_ERR_SAMPLE_ROSTER', bind: applied.CORRAL_BIND }, exposure);
}
