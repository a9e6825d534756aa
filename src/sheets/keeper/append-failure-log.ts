// The flusher's failed appends and read-backs of a range, as an operator reads them during an
// outage or while a tab stays deleted: each failure was a line, at every backoff retry of every
// range (about 80 error lines in 10 minutes for one deleted tab, its halves included). Now the
// first failure of a range is said at once with its error, then at most once a minute with how
// many failed since, and `sheets.append_recovered` once a send to the range succeeds again.

import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';

export class AppendFailureLog {
  /** Per range: its failure, and the cause its lines are of (level and code). */
  private readonly ranges = new Map<string, { readonly failure: RepeatedFailure; readonly cause: string }>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /**
   * A send or read-back of `range` failed; `fields` and `msg` describe this one. Another cause
   * than the last line's (another level or code: a workbook full after a blip of 503s) is said at
   * once: within the minute after a line of the blip, the error that needs an operator waited for
   * the minute's end.
   */
  failed(range: string, level: 'warn' | 'error', fields: Record<string, unknown>, msg: string): void {
    const cause = `${level} ${typeof fields.code === 'string' ? fields.code : ''}`;
    let entry = this.ranges.get(range);
    if (!entry || entry.cause !== cause) {
      entry = { failure: new RepeatedFailure(this.now), cause };
      this.ranges.set(range, entry);
    }
    entry.failure.failed((failures) =>
      this.logger[level](
        { event: 'sheets.append_failed', range, ...fields, failures },
        failures === 1 ? msg : `${msg} (${failures} failed sends or read-backs of this range since the last such line)`,
      ),
    );
  }

  /** A send to `range` succeeded: said once if it had failed. */
  succeeded(range: string): void {
    // Kept after its end (the ranges are the few the app appends to): a range whose appends fail
    // and succeed in turn (one row Google refuses, sent again with newer rows) stays at a line a
    // minute.
    const failure = this.ranges.get(range)?.failure;
    if (!failure) return;
    failure.ended((failures) =>
      this.logger.info({ event: 'sheets.append_recovered', range, failures }, `sheets: appends to ${range} reach the sheet again after ${failures} failed sends or read-backs`),
    );
  }
}
