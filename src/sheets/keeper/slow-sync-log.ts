// `journal.slow_sync`: the journal's group writes whose write and fsync took a second or more.
// An append is acknowledged once fsynced, so the requests that added rows waited as long, and
// nothing said why: a disk taking 45 s per fsync answered POSTs after 45 and 90 s, with `corral
// status` reading "journal empty" meanwhile. Said at the first, then at most once a minute with
// how many since and the longest.

import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import { secondsText } from '../../seconds-text.js';

export class JournalSlowSyncLog {
  private readonly repeat: RepeatedFailure;
  private longestMs = 0;

  constructor(
    private readonly logger: Logger,
    private readonly path: string,
    now: () => number,
  ) {
    this.repeat = new RepeatedFailure(now);
  }

  said(ms: number, bytes: number): void {
    this.longestMs = Math.max(this.longestMs, ms);
    this.repeat.failed((since, total) => {
      this.logger.warn(
        { event: 'journal.slow_sync', path: this.path, ms: Math.round(ms), bytes, slow: since, slow_total: total, longest_ms: Math.round(this.longestMs) },
        since === 1
          ? `keeper: writing and fsyncing the journal ${this.path} took ${secondsText(ms)}: the appends of that write, and the requests that added them, waited as long for their acknowledgement; the data dir's disk is slow (saturated, failing, or a network filesystem): find what else writes there, or move CORRAL_DATA_DIR to a faster local disk`
          : `keeper: ${since} more journal writes took a second or more since the last such line, the longest ${secondsText(this.longestMs)}: appends waited as long; the data dir's disk is slow`,
      );
      this.longestMs = 0;
    });
  }
}
