// Google's limit on a cell's text: 50,000 characters. A write with a longer cell is refused whole
// with 400 INVALID_ARGUMENT "Your input contains more than the maximum of 50000 characters in a
// single cell." (freelabz/secator#96, moevm/github_repo_commitment_calc#67), nothing written. The
// emulator took any length, so the journal's own check of the limit (validateRows) was never met
// by the answer it stands for, and the client's words for that answer were never seen.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GOOGLE_MAX_CELL_CHARS, validateRows } from '../../src/sheets/keeper/journal-rows.js';
import { rejection, withHarness } from '../fixtures/sheets/harness.js';

const GOOGLE_SAID = 'Your input contains more than the maximum of 50000 characters in a single cell.';

describe("emulator: Google's 50,000 characters in a cell", () => {
  it('takes a cell of exactly 50,000 characters, as the journal does', () =>
    withHarness(async (h) => {
      const cell = 'x'.repeat(GOOGLE_MAX_CELL_CHARS);
      assert.doesNotThrow(() => validateRows([['ev-full', cell]]));
      const b = h.backend();
      const res = await b.appendValues('Events!A:A', [['ev-full', cell]]);
      assert.equal(res.updatedRows, 1);
      assert.equal(h.emulator.getSheet(h.emulator.spreadsheetId, 'Events')?.at(-1)?.[1]?.length, GOOGLE_MAX_CELL_CHARS);
    }));

  it("refuses an append with one cell longer, writing nothing; corral's client says which limit, not a bad range", () =>
    withHarness(async (h) => {
      const cell = 'x'.repeat(GOOGLE_MAX_CELL_CHARS + 1);
      // The journal refuses such a row before it is acknowledged, by the same count.
      assert.throws(() => validateRows([['ev-long', cell]]), /50000 in a cell/);
      const before = h.emulator.getSheet(h.emulator.spreadsheetId, 'Events');
      const b = h.backend();
      const err = await rejection(b.appendValues('Events!A:A', [['ev-ok', 'short'], ['ev-long', cell]]));
      assert.deepEqual([err.status, err.applied, err.retryable, err.googleMessage], [400, 'no', false, GOOGLE_SAID]);
      // Still CORRAL_ERR_SHEETS_BAD_RANGE, the code of a refusal that may be one row's (the flusher
      // sends such a batch in halves to find it), but it names the cell limit and the fix.
      assert.equal(err.code, 'CORRAL_ERR_SHEETS_BAD_RANGE');
      assert.match(err.message, /a cell of the rows is longer than Google's limit of 50,000 characters/);
      assert.doesNotMatch(err.message, /Check that the tab exists/);
      assert.deepEqual(h.emulator.getSheet(h.emulator.spreadsheetId, 'Events'), before, 'nothing written');
      assert.equal(h.emulator.counters().rowsAppended, 0);
    }));

  it('refuses an update and a batchUpdate alike, counting characters as Google (UTF-16 units) does', () =>
    withHarness(async (h) => {
      // 25,001 characters outside the BMP are 50,002 UTF-16 units: over the limit, as the journal counts.
      const wide = '😀'.repeat(25_001);
      assert.throws(() => validateRows([['ev-wide', wide]]), /50002 characters/);
      const b = h.backend();
      const update = await rejection(b.updateValues('Events!F1', [[wide]]));
      assert.equal(update.googleMessage, GOOGLE_SAID);
      const batch = await rejection(b.batchUpdateValues([{ range: 'Events!F1', values: [['ok']] }, { range: 'Events!G1', values: [[wide]] }]));
      assert.match(String(batch.googleMessage), /maximum of 50000 characters in a single cell/);
      assert.equal(h.emulator.getSheet(h.emulator.spreadsheetId, 'Events')?.[0]?.[5], undefined, 'nothing written');
    }));
});
