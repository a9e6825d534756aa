// A range protected in the sheet (Data > Protect sheets and ranges) whose editors leave the service
// account out refuses every write with a 400, whatever its rows: "You are trying to edit a
// protected cell or object. Please contact the spreadsheet owner to remove protection if you need
// to edit." (quoted from the API in public code: gspread's APIError [400], and "Invalid data[0]: "
// before it from values:batchUpdate). The client took it for a bad range, and the flusher for a
// bad row: it sent each batch again in halves down to single rows, and logged every row as
// "refused alone: fix or remove the row by hand". Now it is CORRAL_ERR_SHEETS_PROTECTED, saying
// what to change in the sheet, and the rows wait in the journal on the range's backoff.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { mapApiError, type ErrorContext } from '../../src/sheets/google/error-map.js';
import type { Journal } from '../../src/sheets/keeper/journal.js';
import type { CapturedLogger } from '../fixtures/capture-logger.js';
import type { FakeClock } from '../fixtures/fake-clock.js';
import type { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { openFlusherRig, type FlusherRig } from '../fixtures/test-flusher.js';

const PROTECTED = 'You are trying to edit a protected cell or object. Please contact the spreadsheet owner to remove protection if you need to edit.';
const append: ErrorContext = {
  operation: 'values.append',
  spreadsheetId: 'sheet1',
  ranges: ['Events'],
  auth: { kind: 'service-account', clientEmail: 'bot@proj.iam.gserviceaccount.com', source: 'GOOGLE_APPLICATION_CREDENTIALS=/k.json' },
  write: true,
  host: 'sheets.googleapis.com',
};

function googleSaid(message: string) {
  const body = { error: { code: 400, message, status: 'INVALID_ARGUMENT' } };
  return { status: 400, headers: {}, body: Buffer.from(JSON.stringify(body)) };
}

describe("the client: Google's answer to a write into a protected range", () => {
  it('is CORRAL_ERR_SHEETS_PROTECTED, naming the range, the account and where to change the protection; not a bad range', () => {
    const e = mapApiError(googleSaid(PROTECTED), append);
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_PROTECTED');
    assert.equal(
      e.message,
      `Google refused values.append of "Events": the range is protected in spreadsheet sheet1 and bot@proj.iam.gserviceaccount.com is not among the protection's editors. In Google Sheets, open Data > Protect sheets and ranges, and add bot@proj.iam.gserviceaccount.com to the editors of the protection covering it, or remove the protection (Google said: ${PROTECTED})`,
    );
    assert.deepEqual([e.status, e.applied, e.retryable], [400, 'no', false]);
  });

  it('is recognised behind the "Invalid data[i]: " of values:batchUpdate', () => {
    const e = mapApiError(googleSaid(`Invalid data[0]: ${PROTECTED}`), { ...append, operation: 'values.batchUpdate', ranges: ['Events!A2'] });
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_PROTECTED');
  });
});

describe('flusher: appends to a protected range', () => {
  let rig: FlusherRig;
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let journal: Journal;
  let locked: boolean;
  let refused: number[];

  beforeEach(async () => {
    rig = await openFlusherRig('corral-flusher-protected-');
    ({ clock, backend, log, journal } = rig);
    locked = true;
    refused = [];
    const appendValues = backend.appendValues.bind(backend);
    backend.appendValues = async (range, rows) => {
      if (!locked) return appendValues(range, rows);
      backend.calls.push({ op: 'append', range, rows: rows.length });
      refused.push(clock.now());
      throw mapApiError(googleSaid(PROTECTED), append);
    };
  });
  afterEach(() => rig.close());

  it('sends no halves and blames no row: one append per retry on the backoff, said with the code and the fix; all rows go out once the protection lets them', async () => {
    await rig.traffic(10 * 60_000, 'e');
    assert.equal(new Set(refused).size, refused.length, `no append sent again at once in halves (${refused.length} appends at ${new Set(refused).size} times)`);
    assert.deepEqual(log.lines().filter((l) => l.event === 'sheets.append_refused_alone'), [], 'no row is blamed');
    assert.equal(journal.backlogRows(), 600, 'every acknowledged row is kept');
    const failed = log.lines().filter((l) => l.event === 'sheets.append_failed');
    assert.ok(failed.length >= 1, 'said');
    assert.equal(failed[0]?.level, 'error');
    assert.equal(failed[0]?.code, 'CORRAL_ERR_SHEETS_PROTECTED');
    assert.match(String(failed[0]?.msg), /^sheets: Google refuses appends to Events: it is protected and the service account is not among the protection's editors/);

    locked = false;
    await rig.traffic(40_000, 'late');
    assert.equal(journal.backlogRows(), 0);
    const ids = backend.ids('Events').slice(1);
    assert.equal(ids.length, 640);
    assert.equal(new Set(ids).size, 640, 'each row once');
  });
});
