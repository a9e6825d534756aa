import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendValuesCall, batchGetValuesCall, batchUpdateValuesCall, getValuesCall, updateValuesCall } from '../../src/sheets/google/values-calls.js';

// The Sheets API's A1 notation: "if there is a named range titled 'Sheet1', then Sheet1 refers to
// the named range and 'Sheet1' refers to the sheet". A whole tab sent bare (the default
// SHEET_PLAYERS_RANGE=Players) was read as a named range of that name where the spreadsheet has
// one: a named range `Players` over the roster's first rows answered those rows alone.
describe('values calls name a whole tab so that Google reads the tab, not a named range of its name', () => {
  it('quotes a bare tab name in the path, the ranges= of a batchGet and a write body', () => {
    assert.equal(getValuesCall('Players', 'ROWS', undefined).suffix, '/values/%27Players%27');
    assert.deepEqual(
      batchGetValuesCall(['Players', 'Events!1:1'], 'ROWS').query.filter(([k]) => k === 'ranges').map(([, v]) => v),
      ["'Players'", 'Events!1:1'],
    );
    const append = appendValuesCall('sid', 'Events', [['e1']], {});
    assert.equal(append.suffix, '/values/%27Events%27:append');
    assert.equal((append.body as { range: string }).range, "'Events'", 'the body names the range as the URL does (Google compares the texts)');
    const update = updateValuesCall('Events', [['e1']], {});
    assert.equal(update.suffix, '/values/%27Events%27');
    assert.equal((update.body as { range: string }).range, "'Events'");
    const batch = batchUpdateValuesCall([{ range: 'Events', values: [['e1']] }], {});
    assert.deepEqual((batch.body as { data: { range: string }[] }).data.map((d) => d.range), ["'Events'"]);
  });

  it('sends every other range as written, and names the range as configured in errors', () => {
    for (const range of ["'Players'", "'My Tab'", "'It''s'", 'Events!A:A', "'My Tab'!A1:E", 'A1:C3', 'A:E', 'Nope!!']) {
      assert.deepEqual(batchGetValuesCall([range], 'ROWS').query[0], ['ranges', range], range);
    }
    assert.deepEqual(getValuesCall('Players', 'ROWS', undefined).ranges, ['Players']);
    assert.deepEqual(appendValuesCall('sid', 'Events', [['e1']], {}).ranges, ['Events']);
  });
});
