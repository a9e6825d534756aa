// Appends refused because the journal cannot be written (disk full, EIO, a read-only or
// unwritable data dir), as log lines an operator can grep: `journal.write_failed` names the file
// and the errno. The app's own line for each refused request says only that an append failed, and
// a full disk refuses every append: the keeper says it at the first refusal, then at most once a
// minute with how many were refused since, and `journal.write_recovered` once an append is
// journaled again, or, when the cause was a full disk, once a probe finds room there. The
// flusher's own records (a batch's send record, an append's done record) that cannot be written
// are said the same way, each kind with its own events and words.

import { DataDirWriteError, describeError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { FAILURE_REPEAT_MS, RepeatedFailure } from '../../log/repeated-failure.js';
import { SPACE_PROBE_BYTES } from './space-probe.js';

/** What a log line says of a failed journal write: the file and errno when the data dir refused it. */
function whereWriteFailed(err: unknown): { code: string | null; path: string | null; errno: string | null; message: string } {
  const known = err instanceof DataDirWriteError ? err : undefined;
  const { code, message } = describeError(err);
  return { code: code ?? null, path: known?.path ?? null, errno: known?.errno ?? null, message };
}

/** While appends keep failing, the failure is said again at most this often. */
export const WRITE_FAILURE_REPEAT_MS = FAILURE_REPEAT_MS;

export class JournalWriteFailureLog {
  private readonly failure: RepeatedFailure;
  /** Appends refused since the keeper started, for the admin figures (journalAppendsRefused). */
  private refusedTotal = 0;

  constructor(
    private readonly logger: Logger,
    now: () => number,
  ) {
    this.failure = new RepeatedFailure(now, WRITE_FAILURE_REPEAT_MS);
  }

  /** Whether the last append failed to be written: the journal is unwritable, as far as anyone knows. */
  get failing(): boolean {
    return this.failure.failing;
  }

  get refused(): number {
    return this.refusedTotal;
  }

  failed(err: DataDirWriteError): void {
    this.refusedTotal++;
    this.failure.failed((refused) =>
      this.logger.error(
        { event: 'journal.write_failed', code: err.code, path: err.path, errno: err.errno ?? null, refused, message: err.message },
        `keeper: cannot write ${err.path} (${err.errno ?? err.message}): appends are refused, not acknowledged, until it can be written; free space there or make it writable`,
      ),
    );
  }

  succeeded(): void {
    this.failure.ended((refused) =>
      this.logger.info({ event: 'journal.write_recovered', by: 'append', refused }, `keeper: the journal is written again; ${refused} appends were refused meanwhile`),
    );
  }

  /**
   * A refusal for want of room is over without an append: a probe wrote and synced a block in the
   * data dir (space-probe.ts). Said with the same event, `by` telling the two apart.
   */
  roomFound(): void {
    this.failure.ended((refused) =>
      this.logger.info(
        { event: 'journal.write_recovered', by: 'probe', refused },
        `keeper: the data dir has room again (a probe wrote and synced ${SPACE_PROBE_BYTES} bytes there): appends are taken again; ${refused} were refused meanwhile`,
      ),
    );
  }
}

/** What a line can say of one failed write. */
type WriteFailure = ReturnType<typeof whereWriteFailed>;

interface RecordWords {
  failed(w: WriteFailure, range: string, sinceLastLine: number, total: number): { fields: Record<string, unknown>; msg: string };
  recovered(total: number): { fields: Record<string, unknown>; msg: string };
}

/** The flusher's own journal records, whose failed writes are logged by JournalRecordFailureLog. */
export type FlusherRecord = 'send' | 'done';

const RECORD_WORDS: Readonly<Record<FlusherRecord, RecordWords>> = {
  // A batch is only sent once its send record is durable, so while the journal cannot be written
  // nothing reaches the sheet either: the rows wait in the journal.
  send: {
    failed: (w, range, postponed) => ({
      fields: { event: 'journal.send_postponed', code: w.code, path: w.path, errno: w.errno, range, postponed, message: w.message },
      msg: `keeper: cannot write ${w.path ?? 'the journal'} (${w.errno ?? w.message}): journaled rows are not sent to the sheet until it can be written (they stay in the journal); free space there or make it writable`,
    }),
    recovered: (postponed) => ({
      fields: { event: 'journal.send_resumed', postponed },
      msg: `keeper: send records are written again; ${postponed} sends were postponed meanwhile`,
    }),
  },
  // After an append Google took, its done record could not be written. Nothing is lost (the entry
  // is done in memory; after a restart the journal still says "sent", which costs a read-back, not
  // a second row), but on a full disk it is every append.
  done: {
    failed: (w, range, failed, total) => ({
      fields: { event: 'journal.done_failed', code: w.code, path: w.path, errno: w.errno, range, failed, failed_total: total, message: w.message },
      msg: `sheets: append applied but its done record failed (${w.errno ?? w.message}); a restart will read back`,
    }),
    recovered: (failed) => ({
      fields: { event: 'journal.done_recovered', failed },
      msg: `keeper: done records are written again; ${failed} could not be written meanwhile (those appends are read back after a restart)`,
    }),
  },
};

/**
 * The flusher's failed writes of one kind of journal record (`send`: `journal.send_postponed`,
 * then `journal.send_resumed`; `done`: `journal.done_failed`, then `journal.done_recovered`), each
 * naming the file and the errno: at the first failure, then at most once a minute with how many
 * since, and once when a record of that kind is written again.
 */
export class JournalRecordFailureLog {
  private readonly failure: RepeatedFailure;
  private readonly words: RecordWords;

  constructor(
    private readonly logger: Logger,
    now: () => number,
    record: FlusherRecord,
  ) {
    this.failure = new RepeatedFailure(now, WRITE_FAILURE_REPEAT_MS);
    this.words = RECORD_WORDS[record];
  }

  failed(err: unknown, range: string): void {
    this.failure.failed((sinceLastLine, total) => {
      const { fields, msg } = this.words.failed(whereWriteFailed(err), range, sinceLastLine, total);
      this.logger.error(fields, msg);
    });
  }

  succeeded(): void {
    this.failure.ended((total) => {
      const { fields, msg } = this.words.recovered(total);
      this.logger.info(fields, msg);
    });
  }
}
