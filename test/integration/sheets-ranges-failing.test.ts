// sheets.ranges_failing on the real master, the emulator as Google: a range only some requests read
// (the Events header row, read when an event is posted) fails while Google does; once Google answers
// again the figure falls back to 0 with no request reading that range, as an operator expects of
// "over 0 while Google fails". It used to stay at 1 until someone posted an event.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

const TOKEN = 'ranges-failing-admin-token';
const admin = { authorization: `Bearer ${TOKEN}` };

describe('sheets.ranges_failing after Google recovers, against the emulator', () => {
  let emu: Emulator;
  let dir: string;
  let c: CorralProcess;

  before(async () => {
    emu = await startEmulator({});
    emu.setSheet(emu.spreadsheetId, 'Events', [['event_id', 'at', 'player', 'kind', 'detail']]);
    dir = mkdtempSync(join(tmpdir(), 'corral-ranges-failing-'));
    c = await startCorral({
      cwd: dir,
      workers: 1,
      env: {
        SHEET_ID: emu.spreadsheetId,
        SHEETS_API_URL: emu.url,
        GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(emu.registerServiceAccount()),
        SHEETS_FLUSH_INTERVAL_MS: '100',
        SHEET_CACHE_TTL: '2',
        SHEETS_TIMEOUT: '2',
        CORRAL_RATE_LIMIT: '0',
        CORRAL_ADMIN_TOKEN: TOKEN,
      },
    });
  });
  after(async () => {
    emu?.setFaults({ errorRate: 0 });
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
    await emu?.close();
  });

  const failing = async () => (await http(`${c.adminUrl}/api/admin/stats`, { headers: admin })).json<{ sheets: { ranges_failing: number | null } }>().sheets.ranges_failing;
  const headerLine = (event: string) => c.logs().find((l) => l.event === event && l.range === 'Events!1:1');

  it('falls back to 0 once Google answers again, with no event posted, and says the header row recovered', async () => {
    const login = await http(`${c.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Alice Martin', code: 'P001' }) });
    assert.equal(login.status, 200, login.text);
    const auth = { authorization: `Bearer ${login.json<{ token: string }>().token}`, 'content-type': 'application/json' };
    const post = () => http(`${c.url}/api/events`, { method: 'POST', headers: auth, body: JSON.stringify({ kind: 'goal', detail: 'x' }) });
    assert.equal((await post()).status, 201, 'the header row read while Google answers');

    // Google fails. Events are posted (one a second, each answered from the worker's copy of the
    // header) until the keeper's refresh of the header row has failed through all its retries.
    emu.setFaults({ errorRate: 1, errorStatus: 503 });
    await waitFor(async () => {
      if (headerLine('sheets.upstream_read_failed')) return true;
      await post();
      await new Promise((r) => setTimeout(r, 1000));
      return false;
    }, 60_000, 'the header row read to fail');
    assert.ok(((await failing()) ?? 0) >= 1, 'counted as failing');

    // Google is back; no request reads the header row from here on.
    emu.setFaults({ errorRate: 0 });
    const back = Date.now();
    await waitFor(async () => (await failing()) === 0, 30_000, 'ranges_failing back to 0 without an event posted');
    const tookMs = Date.now() - back;
    const recovered = await waitFor(() => headerLine('sheets.upstream_read_recovered'), 5000, 'the header row recovered line');
    assert.equal(typeof recovered.failedForSeconds, 'number');
    const metrics = (await http(`${c.adminUrl}/metrics`, { headers: admin })).text;
    assert.match(metrics, /^corral_sheets_ranges_failing 0$/m);
    assert.ok(tookMs < 30_000, `${tookMs} ms`);
  });
});
