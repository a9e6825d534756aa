// While a keeper waits for the data dir's lock, it asks the keeper that holds it which sheet it
// serves. The wait is meant for this corral's previous keeper, still draining; but a second corral
// started on the same CORRAL_DATA_DIR waits for the first one's keeper, which never lets go, and
// its `keeper.lock_wait` read as a restart in progress. A holder of another sheet refuses the
// question as it refuses such workers (other-sheet.ts), and that answer names the mistake:
// `keeper.lock_other_sheet` (error, CORRAL_ERR_KEEPER_OTHER_SHEET), once per start attempt.

import { request } from 'node:http';
import type { Logger } from '../../log/logger.js';
import { DESTINATION_HEADER } from '../destination.js';
import type { WireError } from './protocol.js';

/** What the holder said of itself when it refused: its sheet's digest and its master's pid. */
export interface OtherSheetHolder {
  readonly destination: string;
  readonly masterPid: number | undefined;
}

/**
 * The holder's refusal of a request naming `destination` (this keeper's digest), or undefined:
 * it serves this sheet, does not answer within `timeoutMs`, or nothing listens (it is starting or
 * stopping). Never fails.
 */
export function askLockHolder(socketPath: string, destination: string, timeoutMs = 1000): Promise<OtherSheetHolder | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/figures', method: 'GET', headers: { [DESTINATION_HEADER]: destination }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => resolve(undefined));
      res.on('end', () => {
        if (res.statusCode !== 421) return resolve(undefined);
        try {
          const wire = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WireError;
          if (wire.code !== 'CORRAL_ERR_KEEPER_OTHER_SHEET') return resolve(undefined);
          resolve({ destination: String(wire.destination ?? 'unknown'), masterPid: typeof wire.master_pid === 'number' ? wire.master_pid : undefined });
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * Asks the holder (pid `holderPid`) and logs when it serves another sheet. A holder of this
 * corral's master is the keeper a reload that changed the sheet replaces: that wait is expected.
 */
export async function reportOtherSheetHolder(logger: Logger, socketPath: string, destination: string, holderPid: number, masterPid: number = process.ppid): Promise<void> {
  const holder = await askLockHolder(socketPath, destination);
  if (!holder || holder.masterPid === masterPid) return;
  logger.error(
    {
      event: 'keeper.lock_other_sheet',
      code: 'CORRAL_ERR_KEEPER_OTHER_SHEET',
      pid: holderPid,
      socket: socketPath,
      destination,
      holder_destination: holder.destination,
      holder_master_pid: holder.masterPid ?? null,
    },
    `keeper: the data dir's lock is held by a keeper (pid ${holderPid}, master pid ${holder.masterPid ?? 'unknown'}) of another sheet (digest ${holder.destination}; this one's is ${destination}): ` +
      'two corrals share CORRAL_DATA_DIR, and this one cannot open its journal while the other runs; its workers are refused by that keeper (requests that need the sheet answer 503). ' +
      'Give each corral its own CORRAL_DATA_DIR',
  );
}
