// The emulator's values.append table detection, on the examples Google documents:
// - the guide "Read & write cell values", section "Append values": a Sheet1 holding two tables,
//   A1:C2 and B4:D6, and where appends to various input ranges start writing;
// - the "Basic writing" sample "Append values": a two-row table, an append to Sheet1!A1:E1, and the
//   answer's tableRange and updates.updatedRange.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Store } from '../../src/sheets/emulator/store.js';

const ID = 'doc-examples';

/** The guide's Sheet1: tables A1:C2 and B4:D6. */
const GUIDE_SHEET = [
  ['x', 'y', 'z'],
  ['x', 'y', 'z'],
  [],
  ['', 'x', 'y'],
  ['', '', 'y', 'z'],
  ['', 'x', 'y', 'z'],
];

function guideStore(): Store {
  const store = new Store();
  store.setSheet(ID, 'Sheet1', GUIDE_SHEET);
  return store;
}

function appendTo(store: Store, range: string, values: string[][] = [['n1', 'n2']]) {
  return store.append(store.spreadsheet(ID), range, values, false, 'OVERWRITE');
}

describe('emulator values.append: the guide\'s two tables, A1:C2 and B4:D6', () => {
  // "Appended values would begin at B7 for all the following range inputs"
  const atB7: [string, string][] = [
    ['Sheet1', 'it will examine all the data in the sheet and determine that the table at B4:D6 is the last table'],
    ['Sheet1!B4', "it's in the B4:D6 table"],
    ['Sheet1!C5:D5', "it's in the B4:D6 table (which reaches column B, outside the range)"],
    ['Sheet1!B2:D4', 'the last table in the range is the B4:D6 table (despite it also containing the A1:C2 table)'],
    ['Sheet1!A3:G10', 'the last table in the range is the B4:D6 table (despite starting before and ending after it)'],
  ];
  for (const [range, why] of atB7) {
    it(`${range} begins at B7: ${why}`, () => {
      const store = guideStore();
      const r = appendTo(store, range);
      assert.equal(r.tableRange, 'Sheet1!B4:D6');
      assert.equal(r.updates.updatedRange, 'Sheet1!B7:C7');
      assert.deepEqual(store.getSheet(ID, 'Sheet1'), [...GUIDE_SHEET, ['', 'n1', 'n2']]);
    });
  }

  it("Sheet1!A1 begins at A3, because that's in the A1:C2 table", () => {
    const store = guideStore();
    const r = appendTo(store, 'Sheet1!A1');
    assert.equal(r.tableRange, 'Sheet1!A1:C2');
    assert.equal(r.updates.updatedRange, 'Sheet1!A3:B3');
  });

  it("Sheet1!E4 begins at E4 and Sheet1!A4 at A4, because they're not in any table", () => {
    for (const [range, updated] of [
      ['Sheet1!E4', 'Sheet1!E4:F4'],
      ['Sheet1!A4', 'Sheet1!A4:B4'],
    ] as const) {
      const r = appendTo(guideStore(), range);
      assert.equal(r.tableRange, undefined, `${range}: no table found, no tableRange`);
      assert.equal(r.updates.updatedRange, updated);
    }
  });
});

describe('emulator values.append: the Basic writing sample', () => {
  it('appends two rows after the table A1:D2 found from Sheet1!A1:E1', () => {
    const store = new Store();
    store.setSheet(ID, 'Sheet1', [
      ['Item', 'Cost', 'Stocked', 'Ship Date'],
      ['Wheel', '$20.50', '4', '3/1/2016'],
    ]);
    const r = store.append(
      store.spreadsheet(ID),
      'Sheet1!A1:E1',
      [
        ['Door', '$15', '2', '3/15/2016'],
        ['Engine', '$100', '1', '3/20/2016'],
      ],
      true,
      'OVERWRITE',
    );
    assert.deepEqual(r, {
      spreadsheetId: ID,
      tableRange: 'Sheet1!A1:D2',
      updates: { spreadsheetId: ID, updatedRange: 'Sheet1!A3:D4', updatedRows: 2, updatedColumns: 4, updatedCells: 8 },
    });
    assert.deepEqual(store.getSheet(ID, 'Sheet1'), [
      ['Item', 'Cost', 'Stocked', 'Ship Date'],
      ['Wheel', '$20.50', '4', '3/1/2016'],
      ['Door', '$15', '2', '3/15/2016'],
      ['Engine', '$100', '1', '3/20/2016'],
    ]);
  });
});

describe('emulator values.append: the Events tab the keeper appends to', () => {
  const EVENTS = [
    ['event_id', 'player', 'kind', 'detail', 'at'],
    ['E1', 'P001', 'joined', 'team Rouge', '2024'],
    ['E2', 'P003', 'joined', '', '2024'],
  ];

  it('whole tab, column and header-row ranges all append after the last row, from column A', () => {
    for (const range of ['Events', 'Events!A:E', 'Events!A1:E1', 'Events!A1']) {
      const store = new Store();
      store.setSheet(ID, 'Events', EVENTS);
      const r = store.append(store.spreadsheet(ID), range, [['E3', 'P002', 'goal', '', '2025']], false, 'INSERT_ROWS');
      assert.equal(r.tableRange, 'Events!A1:E3', range);
      assert.equal(r.updates.updatedRange, 'Events!A4:E4', range);
    }
  });

  it('a blank row ends the table: a note below it is another table, pushed down by INSERT_ROWS', () => {
    const store = new Store();
    store.setSheet(ID, 'Events', [...EVENTS, [], ['note']]);
    const r = store.append(store.spreadsheet(ID), 'Events!A1:E1', [['E3', 'P002']], false, 'INSERT_ROWS');
    assert.equal(r.tableRange, 'Events!A1:E3');
    assert.equal(r.updates.updatedRange, 'Events!A4:B4');
    assert.deepEqual(store.getSheet(ID, 'Events'), [...EVENTS, ['E3', 'P002'], [], ['note']]);
  });

  it('a range starting right of the table still finds the table and writes from its first column', () => {
    const store = new Store();
    store.setSheet(ID, 'Events', EVENTS);
    const r = store.append(store.spreadsheet(ID), 'Events!B1:E1', [['E3', 'P002']], false, 'INSERT_ROWS');
    assert.equal(r.tableRange, 'Events!A1:E3');
    assert.equal(r.updates.updatedRange, 'Events!A4:B4');
  });
});
