// POST /api/events on the real master with the emulator as Google, under an Events tab whose
// header row is not in the default order: each value lands under its own header, and a header the
// app cannot write under (a column dropped) refuses events rather than writing them misplaced.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

describe('POST /api/events under the Events header row, against the emulator', () => {
  let emu: Emulator;
  let dir: string;
  let c: CorralProcess;

  before(async () => {
    emu = await startEmulator({});
    emu.setSheet(emu.spreadsheetId, 'Events', [['event_id', 'at', 'player', 'kind', 'detail']]);
    dir = mkdtempSync(join(tmpdir(), 'corral-events-header-'));
    c = await startCorral({
      cwd: dir,
      workers: 1,
      readyTimeoutMs: 60_000,
      env: {
        SHEET_ID: emu.spreadsheetId,
        SHEETS_API_URL: emu.url,
        GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(emu.registerServiceAccount()),
        SHEETS_FLUSH_INTERVAL_MS: '100',
        // The header row is read again within a second of its change.
        SHEET_CACHE_TTL: '1',
        CORRAL_RATE_LIMIT: '0',
      },
    });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
    await emu?.close();
  });

  it('writes each value under its header, and refuses events once the header lacks a column', async () => {
    const login = await http(`${c.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Alice Martin', code: 'P001' }) });
    assert.equal(login.status, 200, login.text);
    const auth = { authorization: `Bearer ${login.json<{ token: string }>().token}`, 'content-type': 'application/json' };
    const post = () => http(`${c.url}/api/events`, { method: 'POST', headers: auth, body: JSON.stringify({ kind: 'goal', detail: 'from the left' }) });

    const res = await post();
    assert.equal(res.status, 201, res.text);
    const { id, at } = res.json<{ id: string; at: string }>();
    const row = await waitFor(() => emu.getSheet(emu.spreadsheetId, 'Events')?.find((r) => r[0] === id), 30_000, 'the event to reach the emulator');
    assert.deepEqual(row, [id, at, 'Alice Martin', 'goal', 'from the left']);

    emu.setSheet(emu.spreadsheetId, 'Events', [['event_id', 'at', 'player', 'kind']]);
    const refused = await waitFor(async () => {
      const r = await post();
      return r.status === 503 ? r : undefined;
    }, 30_000, 'a refusal once the header lacks detail');
    assert.equal(refused.json<{ error: string }>().error, 'events_header_invalid');
    const line = await waitFor(() => c.logs().find((l) => l.event === 'app.events_header_invalid'), 10_000, 'the log line');
    assert.equal(line.code, 'CORRAL_ERR_EVENTS_HEADER');
    assert.match(String(line.msg), /lacks detail/);
  });
});
