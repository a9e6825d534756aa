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

  it('filling SHEETS_JOURNAL_MAX_MB alone, are named by journal.backlog_full with what delivers them, not taken for rows Google refuses', async () => {
    // 1 MiB and more of rows acknowledged for sheet A; the keeper now serves B, whose sheet takes every row.
    const big = 'x'.repeat(10_000);
    const records = Array.from({ length: 110 }, (_, i) => encodeRecord({ k: 'add', id: `e${i}`, r: 'Events', rows: [[`ev-a${i}`, 'P001', 'goal', big, '2024-03-02']], at: T0, d: SHEET_A }));
    writeFileSync(join(dir, 'sheets.journal'), records.join(''));
    const k = await Keeper.start({
      settings: testKeeperSettings(dir, { SHEETS_JOURNAL_MAX_MB: 1 }),
      logger: log.logger,
      socketPath: undefined,
      clock: new FakeClock(T0),
      openBackend: async (pace) => paced(sheet(SHEET_B), pace),
      lockWaitMs: 2000,
    });
    keepers.push(k);
    await assert.rejects(k.append('Events', [row('ev-b1')]), { code: 'CORRAL_ERR_JOURNAL_FULL' });
    const [line, ...more] = log.lines().filter((l) => l.event === 'journal.backlog_full');
    assert.equal(more.length, 0);
    assert.deepEqual([line?.backlog_rows, line?.held_rows, line?.held_for], [0, 110, [SHEET_A]]);
    const msg = String(line?.msg);
    assert.match(msg, /\(0 rows for this sheet, and 110 rows held for google sheet AAA via http:\/\/127\.0\.0\.1:1\) not yet in a sheet/);
    assert.match(msg, /until the held rows are delivered/);
    assert.match(msg, /set SHEET_ID and SHEETS_API_URL back to their sheet and reload, wait until journal_backlog is 0/);
    assert.doesNotMatch(msg, /Google does not take/, 'the sheet takes every row: nothing to fix there');
  });
});

describe("a journal reopened for another sheet: the other sheet's row ids", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-journal-dest-ids-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Journals rows for `destination`; those of `done` reach the sheet. */
  async function journalFor(destination: string, clock: FakeClock, done: string[][], pending: string[][]): Promise<void> {
    const { journal } = await Journal.open({ dir, destination, clock });
    for (const r of done) await journal.add('Events', [r]);
    const live = journal.live();
    await journal.markSending(live);
    await journal.markDone(live, 'sent');
    for (const r of pending) await journal.add('Events', [r]);
    await journal.close();
  }

  it('do not make an append to this sheet a duplicate, nor refuse it: it is journaled and due here', async () => {
    const clock = new FakeClock(T0);
    const otherContent = ['ev-3', 'P002', 'card', 'other', '2024-03-02T15:13:00Z'];
    await journalFor(SHEET_A, clock, [row('ev-1')], [row('ev-2'), row('ev-3')]);
    const { journal, heldForOtherSheets } = await Journal.open({ dir, destination: SHEET_B, clock });
    try {
      assert.deepEqual(heldForOtherSheets.map((h) => [h.destination, h.rows]), [[SHEET_A, 2]]);
      // ev-1 reached A (done, within its retention), ev-2 waits for A (held): neither is B's.
      const done = await journal.add('Events', [row('ev-1')]);
      const held = await journal.add('Events', [row('ev-2')]);
      // The same id with other content is this sheet's first row with that id, not a conflict.
      const other = await journal.add('Events', [otherContent]);
      for (const r of [done, held, other]) assert.deepEqual([r.duplicates, r.rows, r.replayed], [0, 1, undefined]);
      const due = journal.due().get('Events') ?? [];
      assert.deepEqual(due.map((e) => [e.id, e.destination, e.rows[0]?.[0]]), [[done.id, SHEET_B, 'ev-1'], [held.id, SHEET_B, 'ev-2'], [other.id, SHEET_B, 'ev-3']]);
      assert.equal(journal.backlogRows(), 3);
      // This sheet's own retries are still recognised.
      const retry = await journal.add('Events', [row('ev-1')]);
      assert.deepEqual([retry.id, retry.duplicates], [done.id, 1]);
    } finally {
      await journal.close();
    }
  });

  it("do not count as this sheet's retained rows: its done entries are kept for their retention, and a retry recognised", async () => {
    const clock = new FakeClock(T0);
    await journalFor(SHEET_A, clock, ['a-1', 'a-2', 'a-3', 'a-4', 'a-5'].map(row), []);
    // Room for 3 done rows: A's 5 once counted against it (never subtracted), so B's first done
    // entry was forgotten at once and the retry of its row journaled a second copy.
    const { journal } = await Journal.open({ dir, destination: SHEET_B, clock, retainDoneRows: 3, retainDoneMs: 3600_000 });
    try {
      const first = await journal.add('Events', [row('b-1')]);
      const live = journal.live();
      await journal.markSending(live);
      await journal.markDone(live, 'sent');
      const retry = await journal.add('Events', [row('b-1')]);
      assert.deepEqual([retry.id, retry.duplicates], [first.id, 1], 'the retry is recognised, not journaled twice');
      assert.equal(journal.backlogRows(), 0);
    } finally {
      await journal.close();
    }
  });
});
