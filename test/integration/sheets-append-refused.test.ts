// A sheet Google keeps refusing appends to (here: no longer shared with the service account) while
// events keep arriving: every append is still acknowledged from the journal, the keeper asks Google
// on its backoff rather than at every flush, says what to fix, and every row lands once, once the
// sheet is shared again.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { startCorral, waitFor } from '../helpers/corral.js';

describe('appends while Google refuses them', () => {
  it('a sheet no longer shared: appends are journaled, Google is asked on the backoff, not at every flush, and every row lands once when it is shared again', async () => {
    const emu = await startEmulator({});
    const key = emu.registerServiceAccount();
    const c = await startCorral({
      app: 'sheets-app.mjs',
      workers: 1,
      env: { SHEET_ID: emu.spreadsheetId, SHEETS_API_URL: emu.url, GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(key), SHEETS_FLUSH_INTERVAL_MS: '100', CORRAL_ACCESS_LOG: 'false' },
    });
    try {
      await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 30_000, 'keeper.ready');
      emu.share(emu.spreadsheetId, key.client_email, 'none');
      emu.resetCounters();
      const ids: string[] = [];
      // One event every 100 ms for 4 s: a flush with new rows every SHEETS_FLUSH_INTERVAL_MS.
      for (let i = 0; i < 40; i++) {
        const id = `refused-${i}`;
        const res = await request(`${c.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Events', rows: [[id, 'P001', 'goal', '', '2024-07-01']] }) });
        assert.equal(res.statusCode, 201, await res.body.text());
        ids.push(id);
        await new Promise((r) => setTimeout(r, 100));
      }
      const calls = emu.counters().calls['values.append'];
      assert.ok(calls >= 1 && calls <= 12, `${calls} append calls in 4 s of refusals (one per flush with new rows: about 40)`);
      const refused = await c.waitForLog((l) => l.role === 'keeper' && l.level === 'error' && String(l.msg).includes('append refused'), 10_000, 'the refusal in the log');
      assert.match(JSON.stringify(refused.err), new RegExp(`not shared with ${key.client_email.replace(/[.]/g, '\\.')}`), 'the log says what to fix');
      emu.share(emu.spreadsheetId, key.client_email, 'writer');
      await waitFor(() => ids.every((id) => (emu.getSheet(emu.spreadsheetId, 'Events') ?? []).some((r) => r[0] === id)), 20_000, 'every row in the sheet');
      const landed = (emu.getSheet(emu.spreadsheetId, 'Events') ?? []).filter((r) => String(r[0]).startsWith('refused-'));
      assert.equal(landed.length, ids.length, 'each row once');
    } finally {
      await c.stop();
      await emu.close();
    }
  });
});
