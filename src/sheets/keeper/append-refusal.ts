// What the flusher makes of an append Google refused for good (retryable: false): whether it may be
// one row's fault, worth isolating (see append-halves.ts), and the line an operator reads.
// A 400 is not always a row's: a spreadsheet at Google's 10 million cell limit (400
// INVALID_ARGUMENT), a file that is no Google Sheet (400 FAILED_PRECONDITION) or a protected range
// (400 "You are trying to edit a protected cell or object.") refuses every append alike, and
// isolating sent each batch again at once in halves, each refused too, at every retry, logged as a
// bad range (for a protected range, every row then "refused alone": fix or remove it by hand).

import { codeOf } from '../../errors.js';

/**
 * Whether a refused append may be refused for one of its rows (a 400 Google gave the request
 * itself). Not one whose range Google could not parse ("Unable to parse range: Nope!A:A", a tab
 * deleted or renamed): no row causes that, and isolating sent the batch again in parts for nothing.
 */
export function mayBeOneRow(err: unknown, applied: 'no' | 'maybe'): boolean {
  if (applied !== 'no' || (err as { status?: unknown }).status !== 400 || codeOf(err, 'CORRAL_ERR_SHEETS_UPSTREAM') !== 'CORRAL_ERR_SHEETS_BAD_RANGE') return false;
  const e = err as { googleMessage?: unknown; message?: unknown };
  return !/unable to parse range/i.test(String(e.googleMessage ?? e.message ?? ''));
}

/** The message of `sheets.append_failed` for an append to `range` that retrying will not help. */
export function refusalMessage(range: string, err: unknown): string {
  switch (codeOf(err, 'CORRAL_ERR_SHEETS_UPSTREAM')) {
    case 'CORRAL_ERR_SHEETS_WORKBOOK_FULL':
      return `sheets: Google refuses appends to ${range}: the spreadsheet is at Google's limit of 10 million cells; the rows stay in the journal and are tried again on the backoff until cells are freed (delete, not only clear, unused rows, columns and tabs, or move old events to another spreadsheet)`;
    case 'CORRAL_ERR_SHEETS_PROTECTED':
      return `sheets: Google refuses appends to ${range}: it is protected and the service account is not among the protection's editors; the rows stay in the journal and are tried again on the backoff (in Google Sheets, Data > Protect sheets and ranges: add the service account's client_email to the protection's editors, or remove it)`;
    case 'CORRAL_ERR_SHEETS_NOT_A_SHEET':
      return `sheets: Google refuses appends to ${range}: SHEET_ID names a file that is not a Google Sheets document (an .xlsx in Drive); the rows stay in the journal and are tried again on the backoff (open it in Google Sheets and use File > Save as Google Sheets)`;
    default:
      return 'sheets: append refused and retrying will not help until the sheet is fixed; rows stay in the journal';
  }
}
