// `journal.sync_stuck` and `journal.sync_recovered`: a write of the journal in flight for
// SYNC_STUCK_MS (journal-sync-watch.ts), said while it lasts, once, and when it returns.
// journal.slow_sync is said only once a write returns, which on a dead network mount or a failing
// drive may be never: appends waited minutes behind it and nothing in the log said why. One line
// per hung write, not per refused append: the refusals are counted in the line of its return.

import { describeError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { secondsText } from '../../seconds-text.js';
import type { StuckWrite, SyncStuckListener } from './journal-sync-watch.js';

/** What the write was, as a message says it. */
function writeText(w: StuckWrite): string {
  if (w.what === 'rewrite') return `its rewrite (the file held ${w.bytes} bytes)`;
  if (w.what === 'check') return 'the check of its file before a write';
  return `${w.bytes} bytes of appends and their fsync`;
}

export class JournalSyncStuckLog implements SyncStuckListener {
  constructor(
    private readonly logger: Logger,
    private readonly path: string,
  ) {}

  stuck(w: StuckWrite): void {
    this.logger.warn(
      { event: 'journal.sync_stuck', path: this.path, what: w.what, ms: Math.round(w.ms), bytes: w.bytes },
      `keeper: a write of the journal ${this.path} (${writeText(w)}) has not returned for ${secondsText(w.ms)}: the data dir's disk hangs (a dead network mount, a failing drive?). ` +
        'New appends are refused at once (503 not_saved, nothing recorded) until it returns; those it carries wait for it. Look at the disk and its mount (dmesg, mount, the NFS or iSCSI server)',
    );
  }

  returned(w: StuckWrite, refused: number, err: Error | undefined): void {
    const fields = { path: this.path, what: w.what, ms: Math.round(w.ms), bytes: w.bytes, refused, failed: err !== undefined };
    const meanwhile = `appends are taken again; ${refused} were refused meanwhile`;
    if (err === undefined) {
      this.logger.info({ event: 'journal.sync_recovered', ...fields }, `keeper: the write of the journal ${this.path} that hung returned after ${secondsText(w.ms)}, written: ${meanwhile}`);
      return;
    }
    // Its appends were refused (journal.write_failed says with the errno); the next may succeed.
    this.logger.warn(
      { event: 'journal.sync_recovered', ...fields, err: describeError(err) },
      `keeper: the write of the journal ${this.path} that hung returned after ${secondsText(w.ms)} with an error (${err.message}): the appends it carried were refused; ${meanwhile}`,
    );
  }
}
