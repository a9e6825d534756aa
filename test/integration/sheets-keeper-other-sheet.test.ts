// Two corrals on one CORRAL_DATA_DIR, each configured for its own sheet (two emulators). The
// second one's keeper waits for the first one's lock, and its workers reach the first one's keeper
// on the shared socket: before the fix that keeper acknowledged their events (201) and appended them
// to the FIRST sheet (audit, 10 of 10 rows in sheet A). Now it refuses them, corral 2 answers 503
// and says why in its log, and corral 1 goes on serving its own sheet.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { waitFor, type CorralProcess } from '../helpers/corral.js';
import { startWithEmulator } from '../helpers/sheets-load.js';

const post = async (c: CorralProcess, id: string) => {
  const res = await request(`${c.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Events', rows: [[id, 'P001', 'goal', '', '2024-07-01']] }) });
  return { status: res.statusCode, body: (await res.body.json()) as { code?: string } };
};

describe('a second corral started on the data dir of a corral of another sheet', () => {
  it("is refused by the first one's keeper: 503 for its reads and writes, none of its rows in either sheet, its log names the fix; the first corral keeps serving", async () => {
    const emuA = await startEmulator({});
    const emuB = await startEmulator({});
    let c1: CorralProcess | undefined;
    let c2: CorralProcess | undefined;
    try {
      c1 = await startWithEmulator(emuA, 1, { SHEETS_FLUSH_INTERVAL_MS: '100' });
      await c1.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 30_000, "corral 1's keeper.ready");
      // Same data dir, another sheet (another API URL): its keeper waits for corral 1's lock, and
      // the master starts its workers without it after its first wait (10 s).
      c2 = await startWithEmulator(emuB, 1, { SHEETS_FLUSH_INTERVAL_MS: '100', CORRAL_DATA_DIR: c1.dataDir });
      await c2.waitForLog((l) => l.event === 'keeper.lock_wait', 1000, "corral 2's keeper waiting for the lock");

      const ids = Array.from({ length: 10 }, (_, i) => `other-${i}`);
      for (const id of ids) {
        const answer = await post(c2, id);
        assert.equal(answer.status, 503, `corral 2's write ${id}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');
      }
      const read = await request(`${c2.url}/read?range=Players`);
      assert.equal(read.statusCode, 503, "corral 2 is not served sheet A's rows");
      assert.equal(((await read.body.json()) as { code?: string }).code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');

      // Corral 2's worker says what is wrong and how to fix it (its log lines reach the file a
      // little after the answers: waited for; counted at the end).
      const line = await c2.waitForLog((l) => l.event === 'sheets.keeper_other_sheet', 5000, "corral 2's sheets.keeper_other_sheet");
      assert.equal(line.role, 'worker');
      assert.equal(line.level, 'error');
      assert.equal(line.code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');
      assert.equal(line.keeper_master_pid, c1.pid, "corral 1's master");
      assert.match(String(line.msg), /serves another sheet .* two corrals share CORRAL_DATA_DIR.*Give each corral its own CORRAL_DATA_DIR/);
      assert.ok(!JSON.stringify(line).includes(emuA.url), "sheet A's API URL is not written into corral 2's log");
      // Corral 2's keeper, waiting for the lock, asked the holder and names the mistake too.
      const locked = await c2.waitForLog((l) => l.event === 'keeper.lock_other_sheet', 5000, "corral 2's keeper.lock_other_sheet");
      assert.equal(locked.role, 'keeper');
      assert.equal(locked.code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');
      assert.equal(locked.holder_master_pid, c1.pid);
      // Corral 1's keeper tells its own operator.
      const refused = await c1.waitForLog((l) => l.event === 'keeper.other_sheet_refused', 5000, "corral 1's keeper.other_sheet_refused");
      assert.equal(refused.code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');

      // Corral 1 keeps serving its own sheet while corral 2 runs: its event lands in sheet A, after
      // flushes that would have sent corral 2's rows had they been journaled.
      const own = await post(c1, 'own-1');
      assert.equal(own.status, 201, JSON.stringify(own.body));
      const rowsA = await waitFor(() => {
        const rows = emuA.getSheet(emuA.spreadsheetId, 'Events') ?? [];
        return rows.some((r) => r[0] === 'own-1') && rows;
      }, 15_000, "corral 1's row in sheet A");
      assert.equal((await request(`${c1.url}/read?range=Players`)).statusCode, 200);
      assert.deepEqual(rowsA.filter((r) => String(r[0]).startsWith('other-')), [], "none of corral 2's rows in sheet A");
      assert.deepEqual((emuB.getSheet(emuB.spreadsheetId, 'Events') ?? []).filter((r) => String(r[0]).startsWith('other-')), [], 'nor in sheet B: they were refused, not saved');
      assert.equal(emuB.counters().calls['values.append'] ?? 0, 0);
      // Once for its 11 refusals (then at most once a minute).
      assert.equal(c2.events('sheets.keeper_other_sheet').length, 1, JSON.stringify(c2.events('sheets.keeper_other_sheet')));
    } finally {
      await c2?.stop();
      await c1?.stop();
      await emuA.close();
      await emuB.close();
    }
  });
});
