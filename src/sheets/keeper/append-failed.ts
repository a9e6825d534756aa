// What a failed append is said as, for the flusher (flusher.ts), once its entries are marked for
// their retry: cancelled by the keeper's own close (`sheets.append_cancelled`, info), refused for
// good (`sheets.append_failed` at error, with append-refusal.ts's words), or to be tried again
// (warn); and whether Google's refusal may be one row's, worth sending in halves
// (append-halves.ts). A file of its own: the flusher's send only hands over what it knows of the
// failure, the words an operator reads are chosen here.

import { codeOf, describeError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { AppendFailureLog } from './append-failure-log.js';
import { mayBeOneRow, refusalMessage } from './append-refusal.js';

export interface FailedAppend {
  readonly range: string;
  readonly rows: number;
  readonly err: unknown;
  /** Whether Google may have applied it (flush-retry.ts's appliedOf). */
  readonly applied: 'no' | 'maybe';
  readonly retryInMs: number;
  /** Our own close() cancelled the call. */
  readonly cancelled: boolean;
}

/** Says a failed append: 'invalid' when it may be refused for one of its rows, else 'failed'. */
export function sayAppendFailed(logger: Logger, appendFailures: AppendFailureLog, f: FailedAppend): 'invalid' | 'failed' {
  const { range, applied, err } = f;
  const said = { range, rows: f.rows, applied, err: describeError(err) };
  const fields = { ...said, retryInMs: f.retryInMs };
  if (f.cancelled) {
    // Our own close() cancelled the call (a stop, a reload, the master gone). The client calls
    // that a timeout that retrying cannot help (retryable: false), which read as a sheet to fix,
    // at error level, on every ordinary stop with an append in flight. The rows are safe: the
    // send record makes them unsure, and the next keeper reads the sheet back before any resend.
    logger.info(
      { event: 'sheets.append_cancelled', ...said },
      applied === 'no'
        ? 'sheets: append cancelled by the keeper stopping, before it was sent; its rows stay in the journal for the next keeper'
        : 'sheets: append cancelled by the keeper stopping, its outcome unknown; its rows stay in the journal and the next keeper reads the sheet back before resending them',
    );
    return 'failed';
  }
  if ((err as { retryable?: unknown }).retryable === false) {
    // 403/404/400: waiting will not help until the operator fixes sharing, SHEET_ID, the tab or
    // the sheet's size.
    appendFailures.failed(range, 'error', { ...fields, code: codeOf(err, 'CORRAL_ERR_SHEETS_UPSTREAM') }, refusalMessage(range, err));
    // A request Google finds invalid may be so for one row of it (see append-halves.ts).
    if (mayBeOneRow(err, applied)) return 'invalid';
  } else {
    appendFailures.failed(
      range,
      'warn',
      fields,
      applied === 'no'
        ? 'sheets: append refused; rows stay in the journal and are resent later'
        : 'sheets: append outcome unknown; the sheet will be read back before any resend',
    );
  }
  return 'failed';
}
