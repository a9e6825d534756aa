// Failures of the whole sheet, not of one range: the spreadsheet not found (404: SHEET_ID, or
// SHEETS_API_URL), the key refused (invalid_grant, an API key Google rejects, 401 after a fresh
// token), the sheet not shared with the account (403), a file that is no Google Sheet (an .xlsx in
// Drive: a 400 FAILED_PRECONDITION for every range). The read tier handled them range by range,
// with a backoff capped at the TTL: every range found the same 404 again (38 calls for 32 ranges
// in 25 s, and as many for a revoked key), each spending a quota token, and reads of ranges never
// read waited for the quota to make a call certain to fail.
//
// While such a failure holds, reads of ranges with no servable copy get its error at once (no
// Google call, no quota), ranges with a copy keep serving it (up to SHEET_CACHE_MAX_STALE), and
// one call at a time tries the sheet again on a backoff growing from 5 s to 60 s; a success
// anywhere ends it, and so does a range-specific answer (a 400 for a bad range is decided after
// the spreadsheet was found, shared, and read as a sheet). Errors of one range (a bad range, a tab
// that does not exist: 400) stay with the range. Said at the first, then at most once a minute with the count of
// reads answered without a call, and once when it ends.

import { describeError, codeOf } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import type { Clock } from './clock.js';

const FIRST_RETRY_MS = 5000;
export const SHEET_RETRY_MAX_MS = 60_000;

/** Whether `err` says the whole sheet cannot be read, whatever the range. */
export function isSheetWide(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (code === 'CORRAL_ERR_SHEETS_NOT_FOUND' || code === 'CORRAL_ERR_SHEETS_FORBIDDEN' || code === 'CORRAL_ERR_SHEETS_AUTH' || code === 'CORRAL_ERR_SHEETS_NOT_A_SHEET') return true;
  // The outbound proxy refusing (407, 403) refuses every range alike until an operator acts; one
  // unreachable for a moment is retried range by range, as Google unreachable is.
  return code === 'CORRAL_ERR_SHEETS_PROXY' && (err as { retryable?: unknown }).retryable === false;
}

/** The wait before the sheet is tried again after `failures` sheet-wide failures in a row. */
export function sheetRetryMs(failures: number): number {
  return Math.min(SHEET_RETRY_MAX_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1));
}

export class SheetFailure {
  private error: unknown;
  private failures = 0;
  private since = 0;
  private nextTryAt = 0;
  /** A call is out while failing: no other goes before its outcome. */
  private trying = false;
  private readonly said: RepeatedFailure;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.said = new RepeatedFailure(() => clock.now());
  }

  get failing(): boolean {
    return this.error !== undefined;
  }

  /** The error to answer instead of calling Google now; undefined when a call may go. */
  holds(now: number): unknown {
    if (this.error === undefined || (!this.trying && now >= this.nextTryAt)) return undefined;
    return this.error;
  }

  /** A read answered with holds()'s error, without a call: counted in the next line. */
  refused(): void {
    this.said.failed((refused) => this.say(refused));
  }

  /** Ms until the sheet is tried again while failing (undefined when it is not failing). */
  retryIn(now: number): number | undefined {
    return this.error === undefined ? undefined : Math.max(0, this.nextTryAt - now);
  }

  /** A call to Google starts: while failing, it is the one that tries the sheet again. */
  started(): void {
    if (this.error !== undefined) this.trying = true;
  }

  /** The call started last ended (after succeeded() or failed() when it reached Google). */
  ended(): void {
    this.trying = false;
  }

  succeeded(): void {
    if (this.error === undefined) return;
    const failedForSeconds = Math.round((this.clock.now() - this.since) / 1000);
    this.error = undefined;
    this.failures = 0;
    this.said.ended((refused) =>
      this.logger.info({ event: 'sheets.sheet_available', failedForSeconds, refused }, `sheets: the sheet answers again after ${failedForSeconds} s; reads go to Google as usual`),
    );
  }

  failed(err: unknown): void {
    const now = this.clock.now();
    const wasTry = this.trying;
    this.trying = false;
    if (!isSheetWide(err)) {
      // A range's own 400 comes after Google found the spreadsheet and let this account read it.
      if ((err as { code?: unknown }).code === 'CORRAL_ERR_SHEETS_BAD_RANGE') this.succeeded();
      return;
    }
    // A call already on its way when the sheet was found failing (cold ranges read at once) says
    // nothing new: counted, it pushed the next try from the 5 s it had been logged with to 10 s.
    if (this.error !== undefined && !wasTry) return;
    if (this.error === undefined) this.since = now;
    this.error = err;
    this.failures++;
    this.nextTryAt = now + sheetRetryMs(this.failures);
    this.said.failed((refused) => this.say(refused));
  }

  private say(refused: number): void {
    const inS = Math.ceil(Math.max(0, this.nextTryAt - this.clock.now()) / 1000);
    this.logger.error(
      { event: 'sheets.sheet_unavailable', code: codeOf(this.error, 'CORRAL_ERR_SHEETS_UPSTREAM'), err: describeError(this.error), failures: this.failures, refused, retryInS: inS },
      `sheets: Google refuses the whole sheet (${(this.error as Error).message}); until it is fixed, reads of ranges with no cached copy fail at once without calling Google, cached ranges are served up to SHEET_CACHE_MAX_STALE, and the sheet is tried again in ${inS} s (then every ${SHEET_RETRY_MAX_MS / 1000} s at most)`,
    );
  }
}
