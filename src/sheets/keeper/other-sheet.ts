// The keeper's check that a worker appends to the sheet it serves (destination.ts says why), and
// the keeper's line about the workers it refused. A worker names its destination's digest in the
// `corral-destination` header of every request (keeper/protocol.ts).

import { CorralError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';

/** CORRAL_ERR_KEEPER_OTHER_SHEET, with what the keeper said of itself (sent in WireError). */
export class OtherSheetError extends CorralError {
  constructor(
    message: string,
    /** The digest of the sheet the keeper serves. */
    readonly keeperDestination: string,
    /** The pid of the keeper's master: the worker's own during a reload's overlap, else another corral's. */
    readonly keeperMasterPid: number | undefined,
  ) {
    super('CORRAL_ERR_KEEPER_OTHER_SHEET', message);
    this.name = 'OtherSheetError';
  }
}

/**
 * The refusal of a request whose header names another destination than `own` (both digests),
 * else undefined: a request without the header is served (protocol.ts).
 */
export function otherSheetRefusal(asked: string | string[] | undefined, own: string, masterPid: number): OtherSheetError | undefined {
  if (asked === undefined) return undefined;
  const named = Array.isArray(asked) ? asked.join(',') : asked;
  if (named === own) return undefined;
  return new OtherSheetError(
    `the keeper on this socket serves another sheet (digest ${own}) than this worker's SHEET_ID and SHEETS_API_URL name (digest ${named}); nothing was read or written`,
    own,
    masterPid,
  );
}

/**
 * `keeper.other_sheet_refused` (warn): the first refusal at once, then at most once a minute with
 * a count. Said by the keeper that serves: its operator learns that another corral uses its data dir.
 */
export class OtherSheetRefusals {
  private readonly failure: RepeatedFailure;

  constructor(
    private readonly logger: Logger,
    private readonly socketPath: string,
    now?: () => number,
  ) {
    this.failure = new RepeatedFailure(now);
  }

  refused(err: OtherSheetError, asked: string | string[] | undefined): void {
    this.failure.failed((refused, total) =>
      this.logger.warn(
        { event: 'keeper.other_sheet_refused', code: err.code, socket: this.socketPath, destination: err.keeperDestination, worker_destination: String(asked), refused, refused_total: total },
        `keeper: refused ${refused} request${refused === 1 ? '' : 's'} from workers configured for another sheet (digest ${String(asked)}; this keeper's is ${err.keeperDestination}): ` +
          'another corral uses this CORRAL_DATA_DIR and its workers reach this keeper. Nothing was read or written for them; give each corral its own CORRAL_DATA_DIR',
      ),
    );
  }
}
