// Rows journaled for one sheet go to that sheet only (journal-entries.ts): keepers of two sheets
// started one after the other on one data dir, as a reload that changes SHEET_ID starts them.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { encodeRecord } from '../../src/sheets/keeper/journal-file.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const T0 = 1_800_000_000_000;
const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const row = (id: string) => [id, 'P001', 'goal', '', '2024-03-02T15:12:00Z'];
const SHEET_A = 'google sheet AAA via http://127.0.0.1:1';
const SHEET_B = 'google sheet BBB via http://127.0.0.1:1';

function sheet(destination: string): FakeBackend {
  const b = new FakeBackend({ Events: [HEADER] });
  b.destination = destination;
  b.source = destination;
  return b;
}

describe('a journal holding rows of another sheet', () => {
  let dir: string;
  let log: CapturedLogger;
  const keepers: Keeper[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-journal-dest-'));
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(backend: FakeBackend, clock: FakeClock): Promise<Keeper> {
    const k = await Keeper.start({ settings: testKeeperSettings(dir), logger: log.logger, socketPath: undefined, clock, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000, unsureDelayMs: 0 });
    keepers.push(k);
    return k;
  }
  async function crash(k: Keeper): Promise<void> {
    keepers.splice(keepers.indexOf(k), 1);
    await k.close();
  }
  const held = () => log.lines().filter((l) => l.event === 'journal.held_for_other_sheet');

  it("sends them neither to the new sheet nor into its reads, keeps them through the new keeper's rewrites, and delivers them once the settings point back", async () => {
    const a = sheet(SHEET_A);
    const b = sheet(SHEET_B);
    const clock = new FakeClock(T0);

    // Sheet A: one append lands but its answer is lost (unsure); the next is not sent yet (pending).
    const first = await start(a, clock);
    await first.append('Events', [row('ev-1')]);
    a.failAppends = 'lost-after';
    await first.flush();
    assert.deepEqual(a.ids('Events'), ['event_id', 'ev-1'], 'in A, unknown to the keeper');
    await first.append('Events', [row('ev-2'), row('ev-3')]);
    await crash(first);

    // SHEET_ID changed to B while they waited.
    const second = await start(b, clock);
    assert.equal(held().length, 1);
    const line = held()[0];
    assert.deepEqual([line?.level, line?.held_for, line?.destination, line?.rows, line?.entries], ['error', SHEET_A, SHEET_B, 3, 2]);
    assert.match(String(line?.msg), /set SHEET_ID and SHEETS_API_URL back to that sheet/);
    assert.deepEqual([second.figures().journalHeldRows, second.figures().journalBacklogRows], [3, 0]);
    const read = await second.read('Events');
    assert.deepEqual(read.values.map((r) => r[0]), ['event_id'], "B's reads do not show A's rows");
    await clock.advance(60_000);
    await second.flush();
    assert.equal(b.count('append'), 0, 'nothing of A was sent to B');
    // B's own rows go to B, as always.
    await second.append('Events', [row('ev-B')]);
    await second.flush();
    assert.deepEqual(b.ids('Events'), ['event_id', 'ev-B']);
    assert.equal(await second.drain(clock.now() + 5000), 0, "the drain does not wait for another sheet's rows");
    keepers.splice(0);

    // Back to A: the held rows are A's again, the unsure one read back (not sent twice).
    a.failAppends = 'none';
    const third = await start(a, clock);
    assert.equal(held().length, 1, 'nothing held now: B took its row');
    assert.deepEqual([third.figures().journalHeldRows, third.figures().journalBacklogRows], [0, 3]);
    await clock.advance(60_000);
    await third.flush();
    await clock.advance(60_000);
    await third.flush();
    assert.deepEqual(a.ids('Events'), ['event_id', 'ev-1', 'ev-2', 'ev-3']);
    assert.deepEqual(b.ids('Events'), ['event_id', 'ev-B']);
    assert.equal(third.figures().journalBacklogRows, 0);
  });

  it('takes rows journaled before the sheet was recorded as the sheet it opens with', async () => {
    const old = [encodeRecord({ k: 'add', id: 'e-old', r: 'Events', rows: [row('ev-old')], at: T0 })].join('');
    writeFileSync(join(dir, 'sheets.journal'), old);
    const { journal, replayed, heldForOtherSheets } = await Journal.open({ dir, destination: SHEET_B, clock: new FakeClock(T0) });
    assert.equal(replayed.pending, 1);
    assert.deepEqual(heldForOtherSheets, []);
    assert.deepEqual(journal.due().get('Events')?.map((e) => [e.id, e.destination]), [['e-old', SHEET_B]]);
    await journal.close();
    // Written back with it: a later change of sheet holds them.
    const again = await Journal.open({ dir, destination: SHEET_A, clock: new FakeClock(T0) });
    assert.deepEqual(again.heldForOtherSheets.map((h) => [h.destination, h.rows]), [[SHEET_B, 1]]);
    assert.equal(again.journal.due().size, 0);
    await again.journal.close();
  });
});
