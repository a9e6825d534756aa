// A spreadsheet at Google's cell limit (the emulator's workbookCellLimit, answering Google's own 400)
// while events keep arriving: every append is still acknowledged from the journal, the keeper asks
// Google once per retry on its backoff, never again at once in halves, logs the cause with
// CORRAL_ERR_SHEETS_WORKBOOK_FULL, and every row lands once when cells are freed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { waitFor } from '../helpers/corral.js';
import { startWithEmulator } from '../helpers/sheets-load.js';

describe('appends to a spreadsheet at its cell limit', () => {
  it('are journaled and acknowledged, sent one append per retry with no halves, logged with the code, and all land once when cells are freed', async () => {
    // The seed's Players and Events grids hold 52,000 cells: no room for one inserted row.
    const emu = await startEmulator({ faults: { workbookCellLimit: 52_000 } });
    const c = await startWithEmulator(emu, 1, { SHEETS_FLUSH_INTERVAL_MS: '100' });
    try {
      await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 30_000, 'keeper.ready');
      emu.resetCounters();
      const ids: string[] = [];
      // One event every 100 ms for 4 s: a flush with new rows every SHEETS_FLUSH_INTERVAL_MS.
      for (let i = 0; i < 40; i++) {
        const id = `full-${i}`;
        const res = await request(`${c.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Events', rows: [[id, 'P001', 'goal', '', '2024-07-01']] }) });
        assert.equal(res.statusCode, 201, await res.body.text());
        ids.push(id);
        await new Promise((r) => setTimeout(r, 100));
      }
      const failed = await c.waitForLog((l) => l.role === 'keeper' && l.event === 'sheets.append_failed', 10_000, 'the refusal in the log');
      assert.equal(failed.level, 'error');
      assert.equal(failed.code, 'CORRAL_ERR_SHEETS_WORKBOOK_FULL');
      assert.match(String(failed.msg), /the spreadsheet is at Google's limit of 10 million cells; the rows stay in the journal/);
      assert.match(JSON.stringify(failed.err), /is full: an append to \\"Events!A:A\\" would take it past Google's limit of 52,000 cells/);
      const calls = emu.counters().calls['values.append'];
      // Tries at about 0, 1, 3 (and 7) s on the backoff; halves made three calls of each.
      assert.ok(calls >= 2 && calls <= 5, `${calls} append calls in 4 s of refusals`);
      assert.deepEqual(c.events('sheets.append_refused_alone'), []);
      assert.equal(c.logs().filter((l) => String(l.code) === 'CORRAL_ERR_SHEETS_BAD_RANGE').length, 0, 'not called a bad range');

      emu.setFaults({ workbookCellLimit: 0 });
      await waitFor(() => ids.every((id) => (emu.getSheet(emu.spreadsheetId, 'Events') ?? []).some((r) => r[0] === id)), 30_000, 'every row in the sheet');
      const landed = (emu.getSheet(emu.spreadsheetId, 'Events') ?? []).filter((r) => String(r[0]).startsWith('full-'));
      assert.equal(landed.length, ids.length, 'each row once');
    } finally {
      await c.stop();
      await emu.close();
    }
  });
});
