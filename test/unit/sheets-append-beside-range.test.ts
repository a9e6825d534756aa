// SHEET_EVENTS_RANGE starting right of column A (`Events!C:G`) while an organiser's column beside
// it (B) holds a header: Google appends "starting with the first column of the table" it finds,
// and that table reaches into column B. Every event then landed one column to the left (its id
// under the organiser's column, each value under the next header), and an unsure append's
// read-back, looking for the ids in column C, found none and wrote the rows a second time. The
// keeper sees column B in the header copy it already holds (fetched from A), and holds the rows.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, it } from 'node:test';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { OfflineBackend } from '../../src/sheets/offline/backend.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { startHarness, type Harness } from '../fixtures/sheets/harness.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const RANGE = 'Events!C:G';

let h: Harness;
let dir: string;
let log: CapturedLogger;
let keeper: Keeper | undefined;
let clock: FakeClock;

beforeEach(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), 'corral-beside-'));
  log = await captureLogger();
  clock = new FakeClock(Date.now());
});
afterEach(async () => {
  await keeper?.close();
  keeper = undefined;
  log.close();
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<Keeper> {
  const backend = h.backend();
  keeper = await Keeper.start({ settings: testKeeperSettings(dir), logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000, clock, unsureDelayMs: 1000 });
  return keeper;
}
const sheet = () => h.emulator.getSheet(h.emulator.spreadsheetId, 'Events') ?? [];
const set = (rows: string[][]) => h.emulator.setSheet(h.emulator.spreadsheetId, 'Events', rows);

it('rows for a range right of column A wait while the column beside it holds a header, and land in place once it is emptied', async () => {
  // The organiser's "checked?" column B, next to the events in C:G.
  set([['', 'checked?', ...HEADER], ['', 'yes', 'ev-1', 'P1', 'goal', '', '2024']]);
  const k = await start();
  await k.append(RANGE, [['ev-2', 'P2', 'card', 'x', '2025']], undefined, HEADER);
  h.emulator.setFaults({ appliedErrorRate: 1 });
  await k.append(RANGE, [['ev-3', 'P3', 'card', 'y', '2026']], undefined, HEADER);
  await k.flush();
  h.emulator.setFaults({ appliedErrorRate: 0 });
  for (let i = 0; i < 3; i++) {
    await clock.advance(65_000);
    await k.flush();
  }
  assert.equal(sheet().length, 2, `nothing written shifted: ${JSON.stringify(sheet())}`);
  assert.equal(k.figures().journalBacklogRows, 2, 'the rows wait in the journal');
  const held = log.lines().find((l) => l.event === 'sheets.rows_held');
  assert.ok(held, 'said');
  assert.equal(held.code, 'CORRAL_ERR_APPEND_HEADER');
  assert.match(String(held.msg), /column B, just left of the range Events!C:G, holds "checked\?".*Fix: empty column B/);
  assert.equal(log.lines().filter((l) => l.event === 'sheets.append_misplaced').length, 0);

  // The organiser moves the column away: the rows go, from column C, once each.
  set([['', '', ...HEADER], ['', '', 'ev-1', 'P1', 'goal', '', '2024']]);
  for (let i = 0; i < 6 && k.figures().journalBacklogRows !== 0; i++) {
    await clock.advance(65_000);
    await k.flush();
  }
  assert.equal(k.figures().journalBacklogRows, 0);
  assert.deepEqual(sheet().slice(2).map((r) => r.slice(2)), [
    ['ev-2', 'P2', 'card', 'x', '2025'],
    ['ev-3', 'P3', 'card', 'y', '2026'],
  ]);
  assert.equal(sheet().flat().filter((c) => c === 'ev-3').length, 1, 'once');
  assert.ok(log.lines().some((l) => l.event === 'sheets.rows_released'));
});

it('a range starting at column A, or one with an empty column beside it, is not held', async () => {
  set([['notes', '', ...HEADER]]);
  const k = await start();
  await k.append(RANGE, [['ev-1', 'P1', 'goal', '', '2024']], undefined, HEADER);
  await k.flush();
  assert.deepEqual(sheet()[1], ['', '', 'ev-1', 'P1', 'goal', '', '2024']);
  assert.equal(log.lines().filter((l) => l.event === 'sheets.rows_held').length, 0);
});

it('the offline sheet, which writes rows at the range\'s own first column whatever is beside it, is not held', async () => {
  // No table detection there (offline/backend.ts appends from the range's start column): held, an
  // organiser's column beside the events kept every event in the journal for good, where it landed
  // in place before.
  const sheetDir = join(dir, 'sheet');
  mkdirSync(sheetDir);
  writeFileSync(join(sheetDir, 'Events.csv'), `,checked?,${HEADER.join(',')}\n,yes,ev-1,P1,goal,,2024\n`);
  const offline = new OfflineBackend(sheetDir);
  keeper = await Keeper.start({ settings: testKeeperSettings(join(dir, 'data')), logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(offline, pace), lockWaitMs: 2000, clock, unsureDelayMs: 1000 });
  await keeper.append(RANGE, [['ev-2', 'P2', 'card', 'x', '2025']], undefined, HEADER);
  await keeper.flush();
  assert.equal(log.lines().filter((l) => l.event === 'sheets.rows_held').length, 0);
  assert.equal(keeper.figures().journalBacklogRows, 0);
  assert.equal(readFileSync(join(sheetDir, 'Events.csv'), 'utf8').split('\n')[2], ',,ev-2,P2,card,x,2025');
});
