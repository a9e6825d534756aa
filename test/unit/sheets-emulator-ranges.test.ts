// How the emulator reads a range's text, against what Google answered to the same text: a tab
// named like a cell, with its row written with leading zeros (`P01`, `d09037`), is a cell of the
// first tab unless quoted (googleapis/google-api-ruby-client#715: a bare `d09037` answered
// "Range (Sheet1!D9037) exceeds grid limits. Max rows: 1000, max columns: 26"); a quote inside a
// quoted name may be left single (googleapis/google-api-python-client#2702).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/sheets/emulator/api-error.js';
import { Store } from '../../src/sheets/emulator/store.js';

const ID = 'ranges';

function store(): Store {
  const s = new Store();
  s.setSheet(ID, 'Sheet1', [['first tab']]);
  s.setSheet(ID, 'P01', [['name', 'code'], ['Ann', 'A1']]);
  s.setSheet(ID, 'd09037', [['x']]);
  return s;
}

describe('emulator ranges: a tab named like a cell with a zero-padded row', () => {
  it('a bare P01 reads the first tab\'s cell P1, as Google does; quoted, the tab', () => {
    const s = store();
    const sheet = s.spreadsheet(ID);
    assert.deepEqual(s.get(sheet, 'P01', 'ROWS'), { range: 'Sheet1!P1', majorDimension: 'ROWS' });
    assert.deepEqual(s.get(sheet, "'P01'", 'ROWS'), { range: "'P01'!A1:Z1000", majorDimension: 'ROWS', values: [['name', 'code'], ['Ann', 'A1']] });
    assert.deepEqual(s.get(sheet, 'P01!A01:B02', 'ROWS').values, [['name', 'code'], ['Ann', 'A1']]);
  });

  it("a bare d09037 is refused past the first tab's grid, with Google's words", () => {
    const s = store();
    assert.throws(
      () => s.get(s.spreadsheet(ID), 'd09037', 'ROWS'),
      (err: unknown) => err instanceof ApiError && err.code === 400 && err.message === 'Range (Sheet1!D9037) exceeds grid limits. Max rows: 1000, max columns: 26',
    );
  });
});

describe('emulator ranges: a quoted name', () => {
  it("reads a quoted name whose quote is left single ('Jon's Data'), echoing it doubled, as Google does", () => {
    // googleapis/google-api-python-client#2702: `'Jon's Data'` answered `'Jon''s Data'!A1:Z1000`.
    const s = store();
    s.setSheet(ID, "Jon's Data", [['a']]);
    assert.deepEqual(s.get(s.spreadsheet(ID), "'Jon's Data'", 'ROWS'), { range: "'Jon''s Data'!A1:Z1000", majorDimension: 'ROWS', values: [['a']] });
  });
});

describe('emulator ranges: an update given one cell', () => {
  // gspread's README, "Update a range of cells using the top left corner address":
  // `wks.update('A1', [[1, 2], [3, 4]])`, which gspread sends to values.update as the range
  // `'Sheet1'!A1` unchanged (worksheet.update, absolute_range_name): Google writes the block from
  // that cell. A range written with both ends (`A1:A1`, pygsheets#120's "Requested writing within
  // range ['2017-09-08 18:21'!A1], but tried writing to column [B]") bounds the write.
  it('writes a block of any size from a range written as one cell, as Google does', () => {
    const s = store();
    const sheet = s.spreadsheet(ID);
    const res = s.update(sheet, 'Sheet1!B2', [['a', 'b'], ['c', 'd']], false);
    assert.equal(res.updatedRange, 'Sheet1!B2:C3');
    assert.deepEqual(s.getSheet(ID, 'Sheet1'), [['first tab'], ['', 'a', 'b'], ['', 'c', 'd']]);
    assert.equal(s.update(sheet, 'R1C5', [['x', 'y']], false).updatedRange, 'Sheet1!E1:F1');
  });

  it('still refuses values past a range written with both ends (B2:B2)', () => {
    const s = store();
    assert.throws(
      () => s.update(s.spreadsheet(ID), 'Sheet1!B2:B2', [['a', 'b']], false),
      (err: unknown) => err instanceof ApiError && err.code === 400 && err.message === 'Requested writing within range [Sheet1!B2:B2], but tried writing to column [C]',
    );
  });

  it('refuses a block from one cell that passes the grid, as any update past it', () => {
    const s = store();
    assert.throws(
      () => s.update(s.spreadsheet(ID), 'Sheet1!Z1', [['a', 'b']], false),
      (err: unknown) => err instanceof ApiError && err.code === 400 && /exceeds grid limits/.test(err.message),
    );
  });
});
