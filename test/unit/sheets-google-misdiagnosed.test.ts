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

/** A 403 for an API key whose restrictions refuse the call (google.rpc.ErrorInfo, domain googleapis.com). */
function keyBlocked(reason: string, message: string, metadata: Record<string, string> = {}) {
  return res(403, {
    error: {
      code: 403,
      message,
      errors: [{ message, domain: 'global', reason: 'forbidden' }],
      status: 'PERMISSION_DENIED',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com', metadata: { consumer: 'projects/155477220882', service: 'sheets.googleapis.com', ...metadata } }],
    },
  });
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

describe("an API key whose restrictions refuse the call (403 with an API_KEY_*_BLOCKED reason)", () => {
  const where = 'Google Cloud console > APIs & Services > Credentials > the key';

  it("a referrer restriction: says the key's application restrictions refuse it, not that the sheet is not public", () => {
    // FranzDiebold/ng-google-sheets-db-library#15, spenwall/gridsome-source-google-sheets#10.
    const e = mapApiError(keyBlocked('API_KEY_HTTP_REFERRER_BLOCKED', 'Requests from referer <empty> are blocked.', { httpReferrer: '<empty>' }), key);
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
    assert.equal(
      e.message,
      `SHEETS_API_KEY's restrictions refuse this values.get: the key is restricted to websites (HTTP referrers), and corral calls from a server, which sends none. In ${where} > Application restrictions, choose None or IP addresses (this host's) (Google said: Requests from referer <empty> are blocked.)`,
    );
    assert.doesNotMatch(e.message, /not public|share/);
    assert.deepEqual([e.applied, e.retryable], ['no', false]);
  });

  it('an API restriction: says the key is not allowed the Sheets API, and where to allow it', () => {
    // The shape of google/google-api-javascript-client#708, for sheets.googleapis.com.
    const e = mapApiError(
      keyBlocked('API_KEY_SERVICE_BLOCKED', 'Requests to this API sheets.googleapis.com method google.apps.sheets.v4.SpreadsheetsService.GetValues are blocked.'),
      key,
    );
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
    assert.equal(
      e.message,
      `SHEETS_API_KEY's restrictions refuse this values.get: the key's API restrictions do not include the Google Sheets API. In ${where} > API restrictions, add "Google Sheets API" or choose Don't restrict key (Google said: Requests to this API sheets.googleapis.com method google.apps.sheets.v4.SpreadsheetsService.GetValues are blocked.)`,
    );
  });

  it("an IP address restriction, and an Android or iOS app restriction, each name theirs", () => {
    const ip = mapApiError(keyBlocked('API_KEY_IP_ADDRESS_BLOCKED', 'The provided API key has an IP address restriction. The originating IP address of the call (203.0.113.7) violates this restriction.'), key);
    assert.match(ip.message, new RegExp(`^SHEETS_API_KEY's restrictions refuse this values\\.get: the key is restricted to IP addresses that do not include this host's address \\(as Google sees it, behind any NAT or proxy\\)\\. In ${where} > Application restrictions, add it \\(Google said: `));
    for (const [reason, app] of [
      ['API_KEY_ANDROID_APP_BLOCKED', 'Android apps'],
      ['API_KEY_IOS_APP_BLOCKED', 'iOS apps'],
    ] as const) {
      const e = mapApiError(keyBlocked(reason, 'Requests from this Android client application <empty> are blocked.'), key);
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
      assert.match(e.message, new RegExp(`^SHEETS_API_KEY's restrictions refuse this values\\.get: the key is restricted to ${app}, and corral is none\\. In ${where} > Application restrictions, choose None or IP addresses \\(this host's\\) \\(Google said: `));
    }
  });

  it('a key that is not restricted, on a sheet that is not public, is still told to share it', () => {
    const e = mapApiError(res(403, { error: { code: 403, message: 'The caller does not have permission', status: 'PERMISSION_DENIED' } }), key);
    assert.match(e.message, /^the sheet 1AbCdEf is not public/);
  });
});
