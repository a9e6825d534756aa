// POST /api/events on the real master with the emulator as Google, under an Events tab whose
// header row is not in the default order: each value lands under its own header, also once the
// header was reordered after the workers read it (the keeper writes each row under the header the
// tab has when the row is sent), and a header the app cannot write under (a column dropped)
// refuses events, while those acknowledged before wait in the journal for the fix rather than
// being written misplaced.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import { sampleSession } from '../fixtures/offline-sheet.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

interface EventsRig {
  readonly emu: Emulator;
  readonly c: CorralProcess;
  /** Posts an event as Alice Martin. */
  post(): ReturnType<typeof http>;
  close(): Promise<void>;
}

/** A corral of one worker against the emulator, its Events tab headed `header`, the keeper's copies fresh for `ttlSeconds`. */
async function eventsRig(header: string[], ttlSeconds: number): Promise<EventsRig> {
  const emu = await startEmulator({});
  emu.setSheet(emu.spreadsheetId, 'Events', [header]);
  const dir = mkdtempSync(join(tmpdir(), 'corral-events-header-'));
  let c: CorralProcess | undefined;
  let auth: Record<string, string>;
  try {
    c = await startCorral({
      cwd: dir,
      workers: 1,
      env: {
        SHEET_ID: emu.spreadsheetId,
        SHEETS_API_URL: emu.url,
        GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(emu.registerServiceAccount()),
        SHEETS_FLUSH_INTERVAL_MS: '100',
        SHEET_CACHE_TTL: String(ttlSeconds),
        CORRAL_RATE_LIMIT: '0',
      },
    });
    auth = { authorization: `Bearer ${await sampleSession(c.url, 'Alice Martin')}`, 'content-type': 'application/json' };
  } catch (err) {
    // No rig to close for the suite's `after`: a master left running (its login failed) outlived
    // the test run, and the emulator's open server held the file until the runner's timeout.
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
    await emu.close();
    throw err;
  }
  return {
    emu,
    c,
    post: () => http(`${c.url}/api/events`, { method: 'POST', headers: auth, body: JSON.stringify({ kind: 'goal', detail: 'from the left' }) }),
    async close() {
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
      await emu.close();
    },
  };
}

describe('POST /api/events under the Events header row, against the emulator', () => {
  let rig: EventsRig;
  let emu: Emulator;
  let c: CorralProcess;
  let post: EventsRig['post'];

  before(async () => {
    // The header row is read again within a second of its change.
    rig = await eventsRig(['event_id', 'at', 'player', 'kind', 'detail'], 1);
    ({ emu, c, post } = rig);
  });
  after(() => rig?.close());

  it('writes each value under its header, also once the header was reordered after the worker read it', async () => {
    const res = await post();
    assert.equal(res.status, 201, res.text);
    const { id, at } = res.json<{ id: string; at: string }>();
    const row = await waitFor(() => emu.getSheet(emu.spreadsheetId, 'Events')?.find((r) => r[0] === id), 30_000, 'the event to reach the emulator');
    assert.deepEqual(row, [id, at, 'Alice Martin', 'goal', 'from the left']);

    // The organiser moves the columns (their cells with them), with no event coming. The worker
    // still holds the old header: the next events are built in the old order, and must land in
    // the new one. TTL + half a second later: the keeper's copy of the header is past its TTL.
    const reordered = ['event_id', 'player', 'kind', 'detail', 'at'];
    emu.setSheet(emu.spreadsheetId, 'Events', [reordered, [id, 'Alice Martin', 'goal', 'from the left', at]]);
    await new Promise((r) => setTimeout(r, 1500));
    const after: Array<{ id: string; at: string }> = [];
    for (let i = 0; i < 3; i++) {
      const r = await post();
      assert.equal(r.status, 201, r.text);
      after.push(r.json<{ id: string; at: string }>());
    }
    for (const e of after) {
      const landed = await waitFor(() => emu.getSheet(emu.spreadsheetId, 'Events')?.find((r) => r[0] === e.id), 30_000, `event ${e.id} in the emulator`);
      assert.deepEqual(landed, [e.id, 'Alice Martin', 'goal', 'from the left', e.at], 'each value under its own header after the edit');
    }
  });

  it('refuses events once the header lacks a column, keeps those acknowledged before, and writes them in place once it is fixed', async () => {
    const kept = emu.getSheet(emu.spreadsheetId, 'Events')!.slice(1);

    const lacking = ['event_id', 'at', 'player', 'kind'];
    emu.setSheet(emu.spreadsheetId, 'Events', [lacking, ...kept.map((r) => [r[0]!, r[4]!, r[1]!, r[2]!])]);
    // Past the keeper's TTL, so that its copy of the header is read again before rows are sent;
    // the worker still holds the header it read before the edit, with detail.
    await new Promise((r) => setTimeout(r, 1500));
    const acknowledged: Array<{ id: string; at: string }> = [];
    const refused = await waitFor(async () => {
      const r = await post();
      if (r.status === 201) acknowledged.push(r.json<{ id: string; at: string }>());
      return r.status === 503 ? r : undefined;
    }, 30_000, 'a refusal once the header lacks detail');
    assert.equal(refused.json<{ error: string }>().error, 'events_header_invalid');
    const line = await waitFor(() => c.logs().find((l) => l.event === 'app.events_header_invalid'), 10_000, 'the log line');
    assert.equal(line.code, 'CORRAL_ERR_EVENTS_HEADER');
    assert.match(String(line.msg), /lacks detail/);
    // The first event after the edit is built under the worker's header with detail (the worker
    // reads the header again beside it): acknowledged, then held by the keeper, and said.
    assert.ok(acknowledged.length >= 1, 'an event acknowledged before the worker saw the edit');
    const held = await waitFor(() => c.logs().find((l) => l.event === 'sheets.rows_held' && l.code === 'CORRAL_ERR_APPEND_HEADER'), 30_000, 'the held rows said');
    assert.match(String(held.msg), /no longer names detail/);
    for (const e of acknowledged) assert.equal(emu.getSheet(emu.spreadsheetId, 'Events')?.find((r) => r[0] === e.id), undefined, 'not written without its detail');

    // Fixed, in yet another order: every acknowledged event lands with each value in place.
    const fixed = ['event_id', 'detail', 'kind', 'player', 'at'];
    emu.setSheet(emu.spreadsheetId, 'Events', [fixed]);
    const accepted = await waitFor(async () => {
      const r = await post();
      return r.status === 201 ? r : undefined;
    }, 30_000, 'events taken again once the header is fixed');
    acknowledged.push(accepted.json<{ id: string; at: string }>());
    for (const e of acknowledged) {
      const landed = await waitFor(() => emu.getSheet(emu.spreadsheetId, 'Events')?.find((r) => r[0] === e.id), 120_000, `event ${e.id} in the emulator`);
      assert.deepEqual(landed, [e.id, 'from the left', 'goal', 'Alice Martin', e.at]);
    }
  });
});

// The keeper writes rows under its copy of the header, at most SHEET_CACHE_TTL old: an event sent
// within that time of an edit goes under the header before it. Which rows may have is said, with
// their cells, once the next copy shows the edit.
describe('POST /api/events: an Events header edited while events come', () => {
  const original = ['event_id', 'at', 'player', 'kind', 'detail'];
  const edited = ['event_id', 'player', 'kind', 'detail', 'at'];
  let rig: EventsRig;
  let emu: Emulator;
  let c: CorralProcess;

  before(async () => {
    rig = await eventsRig(original, 5);
    ({ emu, c } = rig);
  });
  after(() => rig?.close());

  it('names the rows written under the header before the edit, with their cells', async () => {
    const post = async () => {
      const r = await rig.post();
      assert.equal(r.status, 201, r.text);
      return r.json<{ id: string; at: string }>();
    };
    const landed = (id: string) => waitFor(() => emu.getSheet(emu.spreadsheetId, 'Events')?.find((r) => r[0] === id), 30_000, `event ${id} in the emulator`);

    const e0 = await post();
    assert.deepEqual(await landed(e0.id), [e0.id, e0.at, 'Alice Martin', 'goal', 'from the left']);
    emu.setSheet(emu.spreadsheetId, 'Events', [edited, [e0.id, 'Alice Martin', 'goal', 'from the left', e0.at]]);
    // Within the TTL of the keeper's copy: written in the order before the edit.
    const e1 = await post();
    assert.deepEqual(await landed(e1.id), [e1.id, e1.at, 'Alice Martin', 'goal', 'from the left'], 'the copy before the edit still served');
    const e1Row = emu.getSheet(emu.spreadsheetId, 'Events')!.findIndex((r) => r[0] === e1.id) + 1;

    // Past it: the next event goes under the edited header, and the rows sent under the copy
    // before are named.
    await new Promise((r) => setTimeout(r, 5500));
    const e2 = await post();
    assert.deepEqual(await landed(e2.id), [e2.id, 'Alice Martin', 'goal', 'from the left', e2.at]);
    const line = await waitFor(() => c.logs().find((l) => l.event === 'sheets.header_changed'), 10_000, 'sheets.header_changed');
    assert.equal(line.level, 'warn');
    assert.deepEqual(line.header, edited);
    assert.deepEqual(line.header_before, original);
    assert.ok((line.written as string[]).includes(`Events!A${e1Row}:E${e1Row}`), `e1's cells named: ${JSON.stringify(line.written)}`);
    assert.match(String(line.msg), /Those written after the edit are in the order before it/);
  });
});
