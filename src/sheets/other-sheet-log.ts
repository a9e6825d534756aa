// A worker's line about a keeper that refused it for serving another sheet (keeper/other-sheet.ts):
// `sheets.keeper_other_sheet` (error, CORRAL_ERR_KEEPER_OTHER_SHEET) at the first refusal, then at
// most once a minute with a count while it lasts, and `sheets.keeper_other_sheet_over` once the
// keeper on the socket serves this worker's sheet again (the other corral stopped, and this one's
// keeper took the data dir). Every request that needed the keeper meanwhile was answered 503
// (the app's sheets_unavailable): a misconfiguration to fix, not an outage to ride out on old copies.

import type { Logger } from '../log/logger.js';
import { RepeatedFailure } from '../log/repeated-failure.js';
import type { OtherSheetError } from './keeper/other-sheet.js';

export class OtherSheetLog {
  private readonly failure: RepeatedFailure;

  constructor(
    private readonly logger: Logger,
    private readonly socketPath: string,
    /** The digest of this worker's sheet. */
    private readonly destination: string,
    now?: () => number,
    /** This worker's master (the keeper's too, when they are of one corral). */
    private readonly masterPid: number = process.ppid,
  ) {
    this.failure = new RepeatedFailure(now);
  }

  refused(err: OtherSheetError): void {
    this.failure.failed((refused, total) => {
      // The keeper of this very corral: a reload that changed SHEET_ID or SHEETS_API_URL started the
      // new keeper, and this worker, of the generation being replaced, still has the old settings.
      const reload = err.keeperMasterPid !== undefined && err.keeperMasterPid === this.masterPid;
      const why = reload
        ? 'it is the keeper of this corral, restarted by a reload that changed SHEET_ID or SHEETS_API_URL; this worker, of the generation being replaced, stops in a moment'
        : `it is another corral's (its master pid ${err.keeperMasterPid ?? 'unknown'}): two corrals share CORRAL_DATA_DIR, and this one's keeper waits for the data dir's lock (keeper.lock_wait). ` +
          "Give each corral its own CORRAL_DATA_DIR (the data dir holds one keeper's journal, lock and socket)";
      this.logger.error(
        {
          event: 'sheets.keeper_other_sheet',
          code: err.code,
          socket: this.socketPath,
          destination: this.destination,
          keeper_destination: err.keeperDestination,
          keeper_master_pid: err.keeperMasterPid ?? null,
          refused,
          refused_total: total,
        },
        `sheets: the keeper at ${this.socketPath} serves another sheet (digest ${err.keeperDestination}) than this worker's SHEET_ID and SHEETS_API_URL name (digest ${this.destination}); ` +
          `it refuses this worker's reads and writes (${refused} refused${total > refused ? `, ${total} in all` : ''}; requests that need the sheet are answered 503), so nothing goes to the other sheet: ${why}`,
      );
    });
  }

  /** An answer from a keeper of this worker's sheet. */
  answered(): void {
    if (!this.failure.failing) return;
    this.failure.ended((total) =>
      this.logger.info(
        { event: 'sheets.keeper_other_sheet_over', socket: this.socketPath, destination: this.destination, refused_total: total },
        `sheets: the keeper at ${this.socketPath} serves this worker's sheet again; ${total} requests were refused meanwhile`,
      ),
    );
  }
}
