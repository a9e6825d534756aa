// What names a copy the keeper answers (copy-identity.ts), and the reads that name the copy the
// worker holds (`have`): answered "unchanged", without rows, only while the rows the keeper would
// answer are those very rows; in full otherwise (the sheet changed, a journaled row merged in or
// gone, a new keeper).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { answerPieces } from '../../src/sheets/keeper/answer-memo.js';
import { CopyIdentities } from '../../src/sheets/keeper/copy-identity.js';
import { showsJournaledRows } from '../../src/sheets/keeper/merge.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import type { WireRead, WireUnchanged } from '../../src/sheets/keeper/protocol.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const ROW_1 = ['ev-1', 'P001', 'joined', '', '2024-01-01'];
const ROW_2 = ['ev-2', 'P002', 'goal', 'late', '2024-01-02'];
const ROW_3 = ['ev-3', 'P003', 'card', '', '2024-01-03'];
const TTL_MS = 60_000;

type Answer = (WireRead & { unchanged?: undefined }) | WireUnchanged;

describe('CopyIdentities', () => {
  it('names bytes by the Buffer, not its content, and journaled rows by their content', () => {
    const ids = new CopyIdentities('epoch');
    const a = Buffer.from('[["a"]]');
    const same = Buffer.from('[["a"]]');
    assert.equal(ids.of(a, []), ids.of(a, []));
    assert.notEqual(ids.of(a, []), ids.of(same, []), 'other bytes are another copy, even when equal (evicted, fetched again)');
    const row = { range: 'Events', cells: ROW_2 };
    assert.equal(ids.of(a, [row]), ids.of(a, [{ range: 'Events', cells: [...ROW_2] }]));
    assert.notEqual(ids.of(a, [row]), ids.of(a, []));
    assert.notEqual(ids.of(a, [row]), ids.of(a, [row, { range: 'Events', cells: ROW_3 }]));
    assert.notEqual(ids.of(a, [row]), ids.of(a, [{ ...row, header: HEADER }]), 'the header a row was built under places its cells');
    assert.notEqual(new CopyIdentities('other').of(a, []), ids.of(a, []), "another keeper's names are not these");
  });
});

describe('keeper reads that name the copy the worker holds (have)', () => {
  let dir: string;
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let keeper: Keeper | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-copy-'));
    clock = new FakeClock();
    backend = new FakeBackend({ Events: [HEADER, ROW_1], Players: [['name', 'code', 'team'], ['Alice', 'P001', 'Red']] });
    log = await captureLogger();
  });
  afterEach(async () => {
    await keeper?.close();
    keeper = undefined;
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<Keeper> {
    // Flushed by the test (keeper.flush()), not by the timer.
    keeper = await Keeper.start({ settings: testKeeperSettings(dir), logger: log.logger, socketPath: undefined, clock, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
    return keeper;
  }

  async function answer(k: Keeper, range: string, have?: string): Promise<Answer> {
    return JSON.parse(Buffer.concat(await k.readAnswer(range, have)).toString('utf8')) as Answer;
  }

  /** The answer in full: its rows and its copy's name. */
  function full(a: Answer): WireRead & { copy: string } {
    assert.notEqual(a.unchanged, true, 'answered in full');
    assert.ok('values' in a);
    assert.equal(typeof a.copy, 'string');
    return a as WireRead & { copy: string };
  }

  function unchanged(a: Answer): WireUnchanged {
    assert.equal(a.unchanged, true, 'answered unchanged');
    assert.equal('values' in a, false, 'without rows');
    return a as WireUnchanged;
  }

  it('answers "unchanged" for the copy the keeper would answer, and its rows for any other name', async () => {
    const k = await start();
    const first = full(await answer(k, 'Events'));
    assert.deepEqual(first.values, [HEADER, ROW_1]);
    const again = unchanged(await answer(k, 'Events', first.copy));
    assert.equal(again.copy, first.copy);
    assert.deepEqual(
      { fetchedAt: again.fetchedAt, expiresAt: again.expiresAt, stale: again.stale, pendingRows: again.pendingRows, range: again.range, backend: again.backend },
      { fetchedAt: first.fetchedAt, expiresAt: first.expiresAt, stale: false, pendingRows: 0, range: 'Events', backend: 'google' },
    );
    assert.deepEqual(full(await answer(k, 'Events', 'some-other-keeper.1')).values, [HEADER, ROW_1], 'a name this keeper did not give: rows');
    assert.deepEqual(full(await answer(k, 'Events', undefined)).values, [HEADER, ROW_1], 'no name: rows, as before');
    assert.equal(k.figures().unchangedAnswers, 1);
  });

  it('a refresh that finds the same bytes is "unchanged" with its new times; a stale answer says its staleness', async () => {
    const k = await start();
    const first = full(await answer(k, 'Events'));
    await clock.advance(TTL_MS + 5000);
    // Past the TTL: the stale copy is answered at once while its refresh runs.
    const stale = unchanged(await answer(k, 'Events', first.copy));
    assert.equal(stale.stale, true);
    assert.equal(stale.staleSeconds, 5);
    assert.equal(stale.fetchedAt, first.fetchedAt);
    await clock.advance(0);
    assert.equal(backend.count('get', 'Events'), 2, 'refreshed');
    const fresh = unchanged(await answer(k, 'Events', first.copy));
    assert.equal(fresh.stale, false);
    assert.equal(fresh.staleSeconds, 0);
    assert.equal(fresh.fetchedAt, first.fetchedAt + TTL_MS + 5000, 'the new fetch time');
    assert.equal(fresh.expiresAt, fresh.fetchedAt + TTL_MS, 'and its expiry');
    assert.equal(fresh.copy, first.copy);
    assert.equal((await k.read('Events')).fetchedAt, fresh.fetchedAt);
  });

  it('rows changed in the sheet: the next refresh answers them in full, under a new name', async () => {
    const k = await start();
    const first = full(await answer(k, 'Events'));
    backend.tabs.get('Events')?.push([...ROW_2]);
    await clock.advance(TTL_MS + 1);
    unchanged(await answer(k, 'Events', first.copy)); // stale: still the copy held, its refresh starts
    await clock.advance(0);
    const changed = full(await answer(k, 'Events', first.copy));
    assert.deepEqual(changed.values, [HEADER, ROW_1, ROW_2]);
    assert.notEqual(changed.copy, first.copy);
    unchanged(await answer(k, 'Events', changed.copy));
  });

  it('a journaled row merged in is a new copy; marked done it is the same rows; fetched from the sheet, a new copy again', async () => {
    const k = await start();
    const first = full(await answer(k, 'Events'));
    await k.append('Events', [ROW_2]);
    const merged = full(await answer(k, 'Events', first.copy));
    assert.deepEqual(merged.values, [HEADER, ROW_1, ROW_2]);
    assert.equal(merged.pendingRows, 1);
    assert.notEqual(merged.copy, first.copy);
    unchanged(await answer(k, 'Events', merged.copy));
    // Another append: another copy again.
    await k.append('Events', [ROW_3]);
    const more = full(await answer(k, 'Events', merged.copy));
    assert.deepEqual(more.values, [HEADER, ROW_1, ROW_2, ROW_3]);
    // The rows land: the copy held is from before, so they are still merged in, the same rows.
    await k.flush();
    assert.deepEqual(backend.ids('Events'), ['event_id', 'ev-1', 'ev-2', 'ev-3']);
    assert.equal(unchanged(await answer(k, 'Events', more.copy)).pendingRows, 2);
    // The next fetch holds them: the rows answered are the same, but they are the sheet's now
    // (nothing merged): a new copy, answered in full once.
    await clock.advance(TTL_MS + 1);
    await answer(k, 'Events', more.copy);
    await clock.advance(0);
    const landed = full(await answer(k, 'Events', more.copy));
    assert.deepEqual(landed.values, [HEADER, ROW_1, ROW_2, ROW_3]);
    assert.equal(landed.pendingRows, 0);
    assert.notEqual(landed.copy, more.copy);
    unchanged(await answer(k, 'Events', landed.copy));
  });

  it('a row of the journal that leaves the merge makes a new copy, though the sheet did not change (it was deleted there)', async () => {
    const k = await start();
    full(await answer(k, 'Events'));
    await k.append('Events', [ROW_2]);
    await k.flush();
    // Deleted from the sheet by hand before the next fetch: the fetch's bytes are those of the
    // first, but the row, landed before the fetch began, is no longer merged.
    backend.tabs.set('Events', [HEADER, ROW_1]);
    const withRow = full(await answer(k, 'Events'));
    assert.deepEqual(withRow.values, [HEADER, ROW_1, ROW_2]);
    await clock.advance(TTL_MS + 1);
    await answer(k, 'Events', withRow.copy);
    await clock.advance(0);
    const without = full(await answer(k, 'Events', withRow.copy));
    assert.deepEqual(without.values, [HEADER, ROW_1]);
  });

  it('a read cut from a wider fetch (a range right of column A) is named and answered the same way', async () => {
    const k = await start();
    const first = full(await answer(k, 'Players!B:C'));
    assert.deepEqual(first.values, [['code', 'team'], ['P001', 'Red']]);
    await clock.advance(TTL_MS + 1);
    unchanged(await answer(k, 'Players!B:C', first.copy));
    await clock.advance(0);
    assert.equal(unchanged(await answer(k, 'Players!B:C', first.copy)).stale, false);
    backend.tabs.get('Players')?.push(['Bob', 'P002', 'Blue']);
    await clock.advance(TTL_MS + 1);
    await answer(k, 'Players!B:C', first.copy);
    await clock.advance(0);
    assert.deepEqual(full(await answer(k, 'Players!B:C', first.copy)).values, [['code', 'team'], ['P001', 'Red'], ['P002', 'Blue']]);
  });

  it("another keeper (a restart) answers a previous keeper's name in full, its handed-over copy too", async () => {
    let k = await start();
    const first = full(await answer(k, 'Events'));
    await k.drain(clock.now() + 5000);
    keeper = undefined;
    k = await start();
    const next = full(await answer(k, 'Events', first.copy));
    assert.deepEqual(next.values, [HEADER, ROW_1]);
    assert.notEqual(next.copy, first.copy);
  });

  it('a block its rows fill (the header row) keeps its name through appends: the journal is no part of it', async () => {
    const k = await start();
    const header = full(await answer(k, 'Events!1:1'));
    assert.deepEqual(header.values, [HEADER]);
    await k.append('Events', [ROW_2]);
    await k.append('Events', [ROW_3]);
    assert.deepEqual(unchanged(await answer(k, 'Events!1:1', header.copy)).pendingRows, 0);
    assert.equal(full(await answer(k, 'Events')).pendingRows, 2, 'the whole tab shows them');
    // An empty tab's first row is where a journaled row lands: that one does show it.
    backend.tabs.set('Empty', []);
    const empty = full(await answer(k, 'Empty!1:1'));
    assert.deepEqual(empty.values, []);
    await k.append('Empty', [ROW_1]);
    assert.deepEqual(full(await answer(k, 'Empty!1:1', empty.copy)).values, [ROW_1]);
  });

  it("a copy's answer is made once: the other workers' reads of it and its refreshes merge and serialise nothing again", async () => {
    const k = await start();
    await answer(k, 'Events');
    await k.append('Events', [ROW_2]);
    // The merge of the journaled row, for the first worker's read after the append ...
    const merged = await k.read('Events');
    assert.deepEqual(merged.values, [HEADER, ROW_1, ROW_2]);
    // ... is the one every other read of that copy gets: the same rows, not merged again.
    assert.equal((await k.read('Events')).values, merged.values, 'the same rows, not a new merge');
    const named = full(await answer(k, 'Events'));
    assert.equal(unchanged(await answer(k, 'Events', named.copy)).pendingRows, 1, 'an "unchanged" answer still counts the rows merged in');
    // A cut of columns with a journaled row in it is serialised once, its bytes sent to each.
    const cutOnce = await k.readAnswer('Events!B:C');
    const cutAgain = await k.readAnswer('Events!B:C');
    assert.deepEqual(full(JSON.parse(Buffer.concat(cutOnce).toString('utf8')) as Answer).values, [['player', 'kind'], ['P001', 'joined'], ['P002', 'goal']]);
    assert.equal(cutAgain[1], cutOnce[1], 'the same bytes of rows');
    // Another append is another copy: merged anew, with the new row.
    await k.append('Events', [ROW_3]);
    const more = await k.read('Events');
    assert.notEqual(more.values, merged.values);
    assert.deepEqual(more.values, [HEADER, ROW_1, ROW_2, ROW_3]);
    assert.deepEqual(full(JSON.parse(Buffer.concat(await k.readAnswer('Events!B:C')).toString('utf8')) as Answer).values, [['player', 'kind'], ['P001', 'joined'], ['P002', 'goal'], ['P003', 'card']]);
  });
});

describe('showsJournaledRows', () => {
  it('is false only for a block its fetched rows fill', () => {
    assert.equal(showsJournaledRows('Events!1:1', [HEADER]), false, 'the header row');
    assert.equal(showsJournaledRows('Events!A1:E2', [HEADER, ROW_1]), false);
    assert.equal(showsJournaledRows('Events!B1:C1', [HEADER]), false, 'a cut of columns too');
    assert.equal(showsJournaledRows('Events!1:1', []), true, 'an empty tab: a journaled row lands on row 1');
    assert.equal(showsJournaledRows('Events!A1:E3', [HEADER, ROW_1]), true, 'room for one');
    assert.equal(showsJournaledRows('Events', [HEADER, ROW_1]), true, 'a whole tab');
    assert.equal(showsJournaledRows('Events!A5:E5', []), false, 'an empty block below row 1: where rows land is unknown');
  });
});

describe('answerPieces', () => {
  const fetched = [HEADER, ROW_1];
  const json = Buffer.from(JSON.stringify(fetched));
  const parsed = (pieces: readonly Buffer[]) => JSON.parse(Buffer.concat(pieces).toString('utf8')) as unknown;

  it("sends the tier's bytes themselves for its rows, and only the journaled rows after them", () => {
    assert.deepEqual(answerPieces({ values: fetched, added: 0 }, fetched, json), [json]);
    const below = answerPieces({ values: [...fetched, ROW_2], added: 1, below: [ROW_2] }, fetched, json);
    assert.equal(below[0]?.buffer, json.buffer, "the tier's bytes, not a copy");
    assert.deepEqual(parsed(below), [HEADER, ROW_1, ROW_2]);
    assert.deepEqual(parsed(answerPieces({ values: [ROW_2], added: 1, below: [ROW_2] }, [], Buffer.from('[]'))), [ROW_2], 'below an empty tab');
    assert.deepEqual(answerPieces({ values: fetched, added: 0, below: [] }, fetched, json), [json]);
  });

  it('serialises rows that are not the fetched ones with rows below (a cut of columns)', () => {
    assert.deepEqual(parsed(answerPieces({ values: [['player'], ['P001']], added: 0 }, fetched, json)), [['player'], ['P001']]);
  });
});
