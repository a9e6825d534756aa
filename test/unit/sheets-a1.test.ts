import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  idColumnOf,
  A1ParseError,
  columnToLetters,
  encodeRangeForPath,
  firstRowOf,
  formatA1,
  lettersToColumn,
  parseA1,
  quoteSheetName,
} from '../../src/sheets/a1.js';

describe('A1 columns', () => {
  it('converts between letters and 1-based indexes, both ways', () => {
    const pairs: [number, string][] = [
      [1, 'A'],
      [26, 'Z'],
      [27, 'AA'],
      [52, 'AZ'],
      [53, 'BA'],
      [702, 'ZZ'],
      [703, 'AAA'],
      [18278, 'ZZZ'],
    ];
    for (const [n, s] of pairs) {
      assert.equal(columnToLetters(n), s);
      assert.equal(lettersToColumn(s), n);
      assert.equal(lettersToColumn(s.toLowerCase()), n);
    }
    assert.ok(Number.isNaN(lettersToColumn('A1')));
    assert.throws(() => columnToLetters(0), RangeError);
  });
});

describe('parseA1', () => {
  it('reads bounded, open and whole-tab ranges', () => {
    assert.deepEqual(parseA1('Players!A1:C5'), { sheet: 'Players', area: { startRow: 1, endRow: 5, startCol: 1, endCol: 3 } });
    assert.deepEqual(parseA1('Players!A:C'), { sheet: 'Players', area: { startCol: 1, endCol: 3 } });
    assert.deepEqual(parseA1('Players!A2:C'), { sheet: 'Players', area: { startRow: 2, startCol: 1, endCol: 3 } });
    assert.deepEqual(parseA1('Players!2:4'), { sheet: 'Players', area: { startRow: 2, endRow: 4 } });
    assert.deepEqual(parseA1('Players!B7'), { sheet: 'Players', area: { startRow: 7, endRow: 7, startCol: 2, endCol: 2 } });
    assert.deepEqual(parseA1('Players'), { sheet: 'Players', area: undefined });
    assert.deepEqual(parseA1('My Tab'), { sheet: 'My Tab', area: undefined });
  });

  it('takes cell notation without a tab as the first tab', () => {
    assert.deepEqual(parseA1('A1:B2'), { sheet: undefined, area: { startRow: 1, endRow: 2, startCol: 1, endCol: 2 } });
    assert.deepEqual(parseA1('c:a'), { sheet: undefined, area: { startCol: 1, endCol: 3 } });
  });

  it('reads absolute R1C1 cells as Google does, not as a tab title', () => {
    // quoteSheetName quotes a tab named R1C1 because Google reads it unquoted as a cell.
    assert.deepEqual(parseA1('R1C1'), { sheet: undefined, area: { startRow: 1, endRow: 1, startCol: 1, endCol: 1 } });
    assert.deepEqual(parseA1('Players!R2C1:R9C5'), { sheet: 'Players', area: { startRow: 2, endRow: 9, startCol: 1, endCol: 5 } });
    assert.equal(firstRowOf('R1C1'), 'A1');
    assert.deepEqual(parseA1("'R1C1'"), { sheet: 'R1C1', area: undefined });
  });

  it('reads the R1C1 forms Google reads as cells of the first tab (R, C, RC, R1C, R[1]C[1], R[1]), not as tab titles', () => {
    // Measured against Google (brekkylab/backlot#174): "A letter with no number is offset 0: R1C,
    // RC, R, C are all Sheet1!A1"; a bracketed offset counts from A1 (R[1]C[1] is B2, R1C1:R[2]C[2]
    // is A1:C3, Data!R[3]C[1] is Data!B4); "R[1] alone is Sheet1!A2:Z2". Read as tab titles here,
    // SHEET_EVENTS_RANGE=RC was the tab RC to corral (its header read, its journal's tab, no
    // warning) while Google read and appended on the first tab; quoteSheetName already quoted
    // such titles for that reason.
    const a1 = { startRow: 1, endRow: 1, startCol: 1, endCol: 1 };
    for (const text of ['RC', 'rc', 'R', 'C', 'R1C', 'RC[0]', 'R[0]C[0]', 'R01C']) assert.deepEqual(parseA1(text), { sheet: undefined, area: a1 }, text);
    assert.deepEqual(parseA1('R[1]C[1]').area, { startRow: 2, endRow: 2, startCol: 2, endCol: 2 });
    assert.deepEqual(parseA1('R1C1:R[2]C[2]').area, { startRow: 1, endRow: 3, startCol: 1, endCol: 3 });
    assert.deepEqual(parseA1('Data!R[3]C[1]'), { sheet: 'Data', area: { startRow: 4, endRow: 4, startCol: 2, endCol: 2 } });
    assert.deepEqual(parseA1('R[1]'), { sheet: undefined, area: { startRow: 2, endRow: 2 } });
    // A1 first: RC1 is the A1 cell of column RC, R1 the cell of column R.
    assert.deepEqual(parseA1('RC1').area, { startRow: 1, endRow: 1, startCol: 471, endCol: 471 });
    assert.deepEqual(parseA1('R1').area, { startRow: 1, endRow: 1, startCol: 18, endCol: 18 });
    // Still no cells: a signed offset, an absolute 0, and a quoted title.
    for (const text of ['R[-1]C1', 'R[+1]C1', 'R0C1']) assert.equal(parseA1(text).sheet, text, text);
    assert.throws(() => parseA1('Data!R[-1]C1'), A1ParseError);
    assert.deepEqual(parseA1("'RC'"), { sheet: 'RC', area: undefined });
    assert.equal(firstRowOf('RC'), 'A1');
  });

  it('reads a row written with leading zeros as Google does: d09037 alone is the first tab\'s cell D9037, not a tab', () => {
    // Google answered a bare `d09037` with "Range (Sheet1!D9037) exceeds grid limits"
    // (googleapis/google-api-ruby-client#715) and read a bare `D001` as the first tab's D1
    // (urbancups/node-sheets#5). Taken for a tab's title here, SHEET_PLAYERS_RANGE=P01 read tab P01
    // against the emulator and in corral check's header read ('P01'!1:1), and the first tab's
    // cell P1 from Google: an empty roster, every login refused.
    assert.deepEqual(parseA1('d09037'), { sheet: undefined, area: { startRow: 9037, endRow: 9037, startCol: 4, endCol: 4 } });
    assert.deepEqual(parseA1('P01'), { sheet: undefined, area: { startRow: 1, endRow: 1, startCol: 16, endCol: 16 } });
    assert.deepEqual(parseA1('T!A01:C005').area, { startRow: 1, endRow: 5, startCol: 1, endCol: 3 });
    assert.equal(firstRowOf('P01'), 'P1');
    // A tab of such a name is quoted whenever corral writes a range of it, and read as that tab.
    assert.equal(quoteSheetName('P01'), "'P01'");
    assert.deepEqual(parseA1("'P01'"), { sheet: 'P01', area: undefined });
    // Row 0 is no row, however many zeros spell it.
    for (const bad of ['T!A0', 'T!A00', 'T!A00:B1']) assert.throws(() => parseA1(bad), A1ParseError, bad);
  });

  it('orders reversed corners like the API', () => {
    assert.deepEqual(parseA1('T!C5:A1').area, { startRow: 1, endRow: 5, startCol: 1, endCol: 3 });
  });

  it('reads quoted names, with doubled quotes and ! inside', () => {
    assert.deepEqual(parseA1("'My Tab'!A1:C"), { sheet: 'My Tab', area: { startRow: 1, startCol: 1, endCol: 3 } });
    assert.deepEqual(parseA1("'Bob''s tab'!A1"), { sheet: "Bob's tab", area: { startRow: 1, endRow: 1, startCol: 1, endCol: 1 } });
    assert.deepEqual(parseA1("'Q1!Q2'"), { sheet: 'Q1!Q2', area: undefined });
    assert.deepEqual(parseA1("'''quoted'''!A:A"), { sheet: "'quoted'", area: { startCol: 1, endCol: 1 } });
  });

  it("takes a quote inside a quoted name left single, as Google does ('Jon's Data'), beside the doubled one", () => {
    // Google answered values.get of `'Jon's Data'` with the tab's cells and the range
    // `'Jon''s Data'!A1:Z1000` (googleapis/google-api-python-client#2702); its A1 guide writes
    // `'Jon's_Data'!A1:D5`. Refused here, such a SHEET_EVENTS_RANGE read at Google while every
    // append of it was refused (the journal keys a tab by parseA1) and the emulator refused both.
    assert.deepEqual(parseA1("'Jon's Data'"), { sheet: "Jon's Data", area: undefined });
    assert.deepEqual(parseA1("'Jon's_Data'!A1:D5"), { sheet: "Jon's_Data", area: { startRow: 1, endRow: 5, startCol: 1, endCol: 4 } });
    assert.equal(firstRowOf("'Jon's Data'!A2:E"), "'Jon''s Data'!A2:E2");
  });

  it('refuses what the API cannot parse', () => {
    for (const bad of ["'unterminated!A1", "'x'A1", 'T!A1:[5', 'T!A0', 'T!A', 'T!1', 'T!A1:B2:C3', "Bob's!A1", '!A1', "''!A1", 'T!AAAA1', 'T!A:B5', '']) {
      assert.throws(() => parseA1(bad), A1ParseError, bad);
    }
  });
});

describe('idColumnOf', () => {
  it("gives the range's first column over every row, where an appended row's id lands", () => {
    assert.equal(idColumnOf('Events'), 'Events!A:A');
    assert.equal(idColumnOf('Events!A1:E100'), 'Events!A:A');
    assert.equal(idColumnOf("'My Tab'!B3:D"), "'My Tab'!B:B");
    assert.equal(idColumnOf('C2:F9'), 'C:C');
    assert.equal(idColumnOf('Events!2:5'), 'Events!A:A');
  });
});

describe('formatting and encoding', () => {
  it('quotes tab names only when A1 needs it', () => {
    assert.equal(quoteSheetName('Players'), 'Players');
    assert.equal(quoteSheetName('Sheet_2'), 'Sheet_2');
    assert.equal(quoteSheetName('My Tab'), "'My Tab'");
    assert.equal(quoteSheetName("Bob's"), "'Bob''s'");
    assert.equal(quoteSheetName('2024'), "'2024'");
    assert.equal(quoteSheetName('A1'), "'A1'");
    assert.equal(quoteSheetName('R1C1'), "'R1C1'");
    // Google reads a bare R or C as an R1C1 reference to the first tab.
    assert.equal(quoteSheetName('R'), "'R'");
    assert.equal(quoteSheetName('c'), "'c'");
    assert.equal(quoteSheetName('Rc2'), "'Rc2'");
    assert.equal(quoteSheetName('RR'), 'RR');
    assert.equal(quoteSheetName('Équipe'), "'Équipe'");
  });

  it('formats ranges the way the API echoes them', () => {
    assert.equal(formatA1('Players', { startRow: 1, endRow: 1000, startCol: 1, endCol: 26 }), 'Players!A1:Z1000');
    assert.equal(formatA1('My Tab', { startRow: 3, endRow: 3, startCol: 2, endCol: 2 }), "'My Tab'!B3");
    assert.equal(formatA1('T', { startCol: 1, endCol: 3 }), 'T!A:C');
    assert.equal(formatA1('T', { startRow: 2, startCol: 1, endCol: 3 }), 'T!A2:C');
    assert.equal(formatA1('T'), 'T');
  });

  it('round-trips parse and format', () => {
    for (const r of ['Players!A1:C5', "'My Tab'!A2:C", "'Bob''s'!B:D", 'T!3:9', "'x y'!Z99"]) {
      const p = parseA1(r);
      assert.equal(formatA1(p.sheet ?? '', p.area), r);
    }
  });

  it('percent-encodes a range for the values/{range} path segment', () => {
    assert.equal(encodeRangeForPath('Sheet1!A1:B2'), 'Sheet1%21A1%3AB2');
    assert.equal(encodeRangeForPath("'My Tab'!A1:C"), '%27My%20Tab%27%21A1%3AC');
    assert.equal(encodeRangeForPath("'a/b?c#d'!A1"), '%27a%2Fb%3Fc%23d%27%21A1');
    assert.ok(!/[!':/?#()* ]/.test(encodeRangeForPath("'(x)*'!A:B")));
    assert.equal(decodeURIComponent(encodeRangeForPath("'Équipe ''A'''!A1")), "'Équipe ''A'''!A1");
  });

  it('finds the header row of a range', () => {
    assert.equal(firstRowOf('Players'), 'Players!1:1');
    assert.equal(firstRowOf("'My Tab'!B3:D"), "'My Tab'!B3:D3");
    assert.equal(firstRowOf('A:C'), 'A1:C1');
    assert.equal(firstRowOf("'T'!2:9"), 'T!2:2');
  });
});
