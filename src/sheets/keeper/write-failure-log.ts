// Appends refused because the journal cannot be written (disk full, EIO, a read-only or
// unwritable data dir), as log lines an operator can grep: `journal.write_failed` names the file
// and the errno. The app's own line for each refused request says only that an append failed, and
// a full disk refuses every append: the keeper says it at the first refusal, then at most once a
// minute with how many were refused since, and `journal.write_recovered` once an append is
// journaled again.

import type { DataDirWriteError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';

/** While appends keep failing, the failure is said again at most this often. */
export const WRITE_FAILURE_REPEAT_MS = 60_000;

export class JournalWriteFailureLog {
  /** Refusals since the episode began, and since the last line. */
  private failures = 0;
  private unsaid = 0;
  private saidAt = -Infinity;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  failed(err: DataDirWriteError): void {
    this.failures++;
    this.unsaid++;
    const now = this.now();
    if (now - this.saidAt < WRITE_FAILURE_REPEAT_MS) return;
    this.logger.error(
      { event: 'journal.write_failed', code: err.code, path: err.path, errno: err.errno ?? null, refused: this.unsaid, message: err.message },
      `keeper: cannot write ${err.path} (${err.errno ?? err.message}): appends are refused, not acknowledged, until it can be written; free space there or make it writable`,
    );
    this.unsaid = 0;
    this.saidAt = now;
  }

  succeeded(): void {
    if (this.failures === 0) return;
    this.logger.info({ event: 'journal.write_recovered', refused: this.failures }, `keeper: the journal is written again; ${this.failures} appends were refused meanwhile`);
    this.failures = 0;
    this.unsaid = 0;
    this.saidAt = -Infinity;
  }
}
