// Where the keeper's appends land in the sheet, with the real Google backend against the Sheets
// API emulator (whose values.append finds tables the way Google's guide describes): the rows
// must land where the read-back and the merge look for their ids, the range's first column.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { startHarness, type Harness } from '../fixtures/sheets/harness.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const EVENTS = [HEADER, ['ev-1', 'P001', 'joined', '', '2024-01-01'], ['ev-2', 'P002', 'goal', '', '2024-01-02']];

describe('keeper appends against the emulator: where the rows land', () => {
  let h: Harness;
  let dir: string;
  let log: CapturedLogger;
  let keeper: Keeper | undefined;

  beforeEach(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'corral-landing-'));
    log = await captureLogger();
  });
  afterEach(async () => {
    await keeper?.close();
    keeper = undefined;
    log.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<Keeper> {
    // Flushed by the test (keeper.flush()), not by the timer.
    const settings = testKeeperSettings(dir);
    const backend = h.backend();
    keeper = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
    return keeper;
  }

  const sheet = (title: string) => h.emulator.getSheet(h.emulator.spreadsheetId, title) ?? [];

  it('a block of notes beside the events that ends lower does not pull the rows under it', async () => {
    // A legend in H1:H6, two empty columns away from the events table in A:E, ending lower.
    const rows = EVENTS.map((r) => [...r]);
    for (let i = 0; i < 6; i++) {
      const r = (rows[i] ??= []);
      while (r.length < 7) r.push('');
      r[7] = `note ${i + 1}`;
    }
    h.emulator.setSheet(h.emulator.spreadsheetId, 'Events', rows);
    const k = await start();
    await k.append('Events', [['ev-3', 'P003', 'card', 'late', '2024-01-03']]);
    await k.flush();
    assert.equal(k.figures().journalBacklogRows, 0, 'sent');
    const after = sheet('Events');
    assert.deepEqual(after[3]?.slice(0, 5), ['ev-3', 'P003', 'card', 'late', '2024-01-03'], 'right under the events, from column A');
    assert.equal(after.filter((r) => r.includes('ev-3')).length, 1);
    // INSERT_ROWS: a whole row went in, so the legend's lower notes moved down with it.
    assert.deepEqual(
      after.map((r) => r[7] ?? ''),
      ['note 1', 'note 2', 'note 3', '', 'note 4', 'note 5', 'note 6'],
    );
    // The read-back and the merge find it where it is.
    const read = await k.read('Events!A:E');
    assert.deepEqual(
      read.values.map((r) => r[0]),
      ['event_id', 'ev-1', 'ev-2', 'ev-3'],
    );
    assert.equal(log.lines().filter((l) => l.event === 'sheets.append_misplaced').length, 0);
  });

  it('a range that starts inside a wider table is reported once, as an error naming where the rows went', async () => {
    // SHEET_EVENTS_RANGE=Log!B:C, but column A holds data of the same table: Google starts the
    // rows at the table's first column, A.
    h.emulator.setSheet(h.emulator.spreadsheetId, 'Log', [
      ['row', 'event_id', 'player'],
      ['1', 'ev-1', 'P001'],
    ]);
    const k = await start();
    await k.append('Log!B:C', [['ev-2', 'P002']]);
    await k.flush();
    await k.append('Log!B:C', [['ev-3', 'P003']]);
    await k.flush();
    assert.deepEqual(sheet('Log').slice(2), [
      ['ev-2', 'P002'],
      ['ev-3', 'P003'],
    ]);
    const said = log.lines().filter((l) => l.event === 'sheets.append_misplaced');
    assert.equal(said.length, 1, 'once per range');
    assert.equal(said[0]?.level, 'error');
    assert.equal(said[0]?.range, 'Log!B:C');
    assert.equal(said[0]?.updatedRange, 'Log!A3:B3');
    assert.match(String(said[0]?.msg), /start at the table's first column/);
  });
});
