// A named range and a tab of the same name. The Sheets API's A1 notation: "if there is a named
// range titled 'Sheet1', then Sheet1 refers to the named range and 'Sheet1' refers to the sheet".
// The emulator had no named ranges, so a bare tab name always read the tab there, and nothing
// against it showed why corral's client quotes a whole tab (values-calls.ts, wireRange): a client
// sending SHEET_PLAYERS_RANGE=Players bare passed every test and read the named range's rows alone
// from Google.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRangeForPath } from '../../src/sheets/a1.js';
import { SEED_PLAYERS_ROWS } from '../fixtures/sheets/seed-rows.js';
import { withHarness } from '../fixtures/sheets/harness.js';

async function rawGet(url: string, token: string): Promise<{ status: number; body: { range?: string; values?: string[][]; error?: { message: string } } }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as { range?: string; values?: string[][] } };
}

describe('emulator: a named range of a tab\'s name', () => {
  it('a bare name reads the named range, a quoted one the tab; corral reads the whole tab', () =>
    withHarness(async (h) => {
      const emu = h.emulator;
      emu.defineNamedRange(emu.spreadsheetId, 'Players', 'Players!A1:E3');
      const b = h.backend();
      const token = (await b.auth.authorize()).token ?? '';
      const base = `${emu.url}/v4/spreadsheets/${emu.spreadsheetId}/values`;

      const bare = await rawGet(`${base}/Players`, token);
      assert.equal(bare.status, 200);
      assert.equal(bare.body.range, 'Players!A1:E3');
      assert.equal(bare.body.values?.length, 3);
      const quoted = await rawGet(`${base}/${encodeRangeForPath("'Players'")}`, token);
      assert.equal(quoted.body.range, 'Players!A1:Z1000');
      // Qualified with a tab, a name is a tab's, whatever named ranges there are.
      const cells = await rawGet(`${base}/${encodeRangeForPath('Players!A1:A2')}`, token);
      assert.equal(cells.body.range, 'Players!A1:A2');

      const read = await b.getValues('Players');
      assert.equal(read.range, 'Players!A1:Z1000');
      assert.equal(read.values?.length, SEED_PLAYERS_ROWS);
      const [batch] = await b.batchGetValues(['Players']);
      assert.equal(batch?.values?.length, SEED_PLAYERS_ROWS);
    }));

  it("a name of no tab reads its cells bare and is no tab quoted; names and ranges Google refuses are refused", () =>
    withHarness(async (h) => {
      const emu = h.emulator;
      emu.defineNamedRange(emu.spreadsheetId, 'Roster', "'Players'!B2:B4");
      const b = h.backend();
      const token = (await b.auth.authorize()).token ?? '';
      const base = `${emu.url}/v4/spreadsheets/${emu.spreadsheetId}/values`;
      const bare = await rawGet(`${base}/Roster`, token);
      assert.deepEqual([bare.body.range, bare.body.values], ['Players!B2:B4', [['P001'], ['P002'], ['P003']]]);
      const quoted = await rawGet(`${base}/${encodeRangeForPath("'Roster'")}`, token);
      assert.deepEqual([quoted.status, quoted.body.error?.message], [400, "Unable to parse range: 'Roster'"]);
      assert.throws(() => emu.defineNamedRange(emu.spreadsheetId, 'Gone', 'Nope!A1'), /no tab "Nope"/);
      assert.throws(() => emu.defineNamedRange(emu.spreadsheetId, 'A1', 'Players!A1'), /not a name Google takes/);
    }));
});
