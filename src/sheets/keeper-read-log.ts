// A worker's lines about reads the keeper did not answer in time (worker-client.ts): served from
// this worker's copy instead (`sheets.keeper_read_fallback`) or failed with CORRAL_ERR_KEEPER_SLOW
// (`sheets.keeper_read_slow`), each said at the first, then at most once a minute per range with
// a count while it lasts; and `sheets.keeper_read_recovered` once the keeper answers reads of a
// range served from the copy meanwhile. A file of its own, like other-sheet-log.ts: the client
// decides what a read gets, this says it to the operator.

import { CorralError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RepeatedFailures } from '../log/repeated-failure.js';

export class KeeperReadLog {
  /**
   * Reads served from this worker's copy because the keeper did not answer, per range: while the
   * keeper is down or restarting that is every read of a range past its TTL.
   */
  private readonly fallbacks: RepeatedFailures;
  /** Reads failed with CORRAL_ERR_KEEPER_SLOW, per range (a keeper waiting for quota slows them all). */
  private readonly slowReads: RepeatedFailures;

  constructor(
    private readonly logger: Logger,
    /** How long a read with no copy to serve waits for the keeper (named in the slow read's error). */
    private readonly answerWaitMs: number,
    now: () => number,
  ) {
    this.fallbacks = new RepeatedFailures(now);
    this.slowReads = new RepeatedFailures(now);
  }

  /** A read of `range` served from this worker's copy; `why`: the keeper's error, or its silence. */
  fellBack(range: string, why: unknown): void {
    this.fallbacks.failed(range, (fallbacks, total) => {
      const err = describeError(why);
      this.logger.warn(
        { event: 'sheets.keeper_read_fallback', range, code: err.code ?? null, err, fallbacks, fallbacks_total: total },
        total === 1
          ? "sheets: keeper read failed; serving this worker's last copy"
          : `sheets: keeper read failed; serving this worker's last copy (${fallbacks} reads of this range served from it since the last such line)`,
      );
    });
  }

  /** The error of a read the keeper did not answer within answerWaitMs, said once a minute per range. */
  tooSlow(range: string): CorralError {
    const err = new CorralError('CORRAL_ERR_KEEPER_SLOW', `the keeper did not answer a read of ${range} within ${this.answerWaitMs} ms (waiting for Google or for the read quota); the read goes on`);
    this.slowReads.failed(range, (reads, total) =>
      this.logger.warn(
        { event: 'sheets.keeper_read_slow', code: err.code, range, wait_ms: this.answerWaitMs, reads, reads_total: total },
        total === 1 ? `sheets: ${err.message}` : `sheets: ${err.message} (${reads} reads of this range failed so since the last such line)`,
      ),
    );
    return err;
  }

  /** The keeper answered a read of `range`: what failed on that range is over. */
  answered(range: string): void {
    this.slowReads.ended(range, () => undefined);
    this.fallbacks.ended(range, (total) =>
      this.logger.info({ event: 'sheets.keeper_read_recovered', range, fallbacks: total }, `sheets: the keeper answers reads of ${range} again; ${total} were served from this worker's copy meanwhile`),
    );
  }
}
