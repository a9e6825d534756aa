// A timed flush that threw (a journal record a read-back needs could not be written, say): the next
// comes one interval later and, while the cause lasts, throws the same way. `sheets.flush_failed`
// is said at the first, then at most once a minute with how many since; `sheets.flush_recovered`
// once a timed flush completes again.

import { describeError, codeOf } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';

export class FlushFailureLog {
  private readonly failure: RepeatedFailure;

  constructor(
    private readonly logger: Logger,
    now: () => number,
  ) {
    this.failure = new RepeatedFailure(now);
  }

  failed(err: unknown): void {
    this.failure.failed((failed, total) =>
      this.logger.error(
        { event: 'sheets.flush_failed', code: codeOf(err, 'CORRAL_ERR_JOURNAL'), err: describeError(err), failed, failed_total: total },
        total === 1 ? 'sheets: journal flush failed' : `sheets: journal flush failed (${failed} flushes since the last such line)`,
      ),
    );
  }

  succeeded(): void {
    this.failure.ended((failed) => this.logger.info({ event: 'sheets.flush_recovered', failed }, `sheets: journal flushes complete again after ${failed} failed`));
  }
}
