// Real Google answers that corral once mapped to the wrong error (the wire audit's t3): each body is
// as Google sends it, quoted from the public threads named, and each test asserts the code and the
// fix the operator is told.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapApiError, type ErrorContext } from '../../src/sheets/google/error-map.js';
import type { HttpResponse } from '../../src/sheets/google/http.js';
import { isSheetWide } from '../../src/sheets/keeper/sheet-failure.js';

const sa: ErrorContext = {
  operation: 'values.get',
  spreadsheetId: '1AbCdEf',
  ranges: ['Players'],
  auth: { kind: 'service-account', clientEmail: 'bot@proj.iam.gserviceaccount.com', source: 'GOOGLE_APPLICATION_CREDENTIALS=/k.json' },
  write: false,
  host: 'sheets.googleapis.com',
};
const append: ErrorContext = { ...sa, operation: 'values.append', ranges: ['Events!A:A'], write: true };
const key: ErrorContext = { ...sa, auth: { kind: 'api-key' } };

function res(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: Buffer.from(JSON.stringify(body)) };
}

describe("Google's 10 million cell limit on an append", () => {
  // UoaWDCC/uasc-web#833, burnash/gspread#516.
  const full = res(400, { error: { code: 400, message: 'This action would increase the number of cells in the workbook above the limit of 10000000 cells.', status: 'INVALID_ARGUMENT' } });

  it('is CORRAL_ERR_SHEETS_WORKBOOK_FULL, saying the spreadsheet is full and how to make room, not a bad range', () => {
    const e = mapApiError(full, append);
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_WORKBOOK_FULL');
    assert.equal(
      e.message,
      "spreadsheet 1AbCdEf is full: an append to \"Events!A:A\" would take it past Google's limit of 10,000,000 cells (every tab's rows × columns, empty cells included), so Google refuses every append until cells are freed. Delete (not only clear) unused rows and columns and empty tabs, or move old events to another spreadsheet and delete their rows here (Google said: This action would increase the number of cells in the workbook above the limit of 10000000 cells.)",
    );
    assert.doesNotMatch(e.message, /\.\./);
    assert.deepEqual([e.status, e.reason, e.applied, e.retryable], [400, 'INVALID_ARGUMENT', 'no', false]);
  });
});

describe('a Google answer ending in a full stop, inside a sentence of ours', () => {
  it('is not followed by a second one', () => {
    const e = mapApiError(res(400, { error: { code: 400, message: 'Unable to parse range: Nope!A1.', status: 'INVALID_ARGUMENT' } }), { ...sa, ranges: ['Nope!A1'] });
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_BAD_RANGE');
    assert.match(e.message, /Unable to parse range: Nope!A1\. Check that the tab exists/);
    assert.doesNotMatch(e.message, /\.\./);
  });
});

describe('a document that is no Google Sheet (an .xlsx stored in Drive)', () => {
  // googleworkspace/php-samples#65, tidyverse/googlesheets4#275, theoephraim/node-google-spreadsheet#651.
  const xlsx = res(400, {
    error: {
      code: 400,
      message: 'This operation is not supported for this document',
      errors: [{ message: 'This operation is not supported for this document', domain: 'global', reason: 'failedPrecondition' }],
      status: 'FAILED_PRECONDITION',
    },
  });

  it('is CORRAL_ERR_SHEETS_NOT_A_SHEET, saying to save it as a Google Sheet and use the new id, and holds the whole sheet', () => {
    for (const ctx of [sa, append, key]) {
      const e = mapApiError(xlsx, ctx);
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_NOT_A_SHEET');
      assert.equal(
        e.message,
        'SHEET_ID 1AbCdEf names a file that is not a Google Sheets document (an Excel .xlsx or another Office file stored in Google Drive): the Sheets API cannot read or write it. Open it in Google Sheets, choose File > Save as Google Sheets, and set SHEET_ID to the new spreadsheet\'s id (Google said: This operation is not supported for this document)',
      );
      assert.deepEqual([e.status, e.reason, e.applied, e.retryable], [400, 'FAILED_PRECONDITION', 'no', false]);
      assert.equal(isSheetWide(e), true, 'the whole sheet fails, whatever the range');
    }
  });
});
