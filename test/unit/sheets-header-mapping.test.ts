// Rows journaled with the header row they were built under are written under the header the tab
// has when they are sent, and shown under the one a read finds (keeper/header-mapping.ts): an
// Events header reordered while rows waited no longer puts a player's name under `at`.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { remapRows } from '../../src/sheets/keeper/header-mapping.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { mergePending } from '../../src/sheets/keeper/merge.js';
import type { Flusher } from '../../src/sheets/keeper/flusher.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testFlusher } from '../fixtures/test-flusher.js';

const OLD = ['event_id', 'player', 'kind', 'detail', 'at'];
const NEW = ['event_id', 'at', 'player', 'kind', 'detail'];
const built = (id: string) => [id, 'Alice Martin', 'goal', 'from the left', '2026-11-28T10:00:00.000Z'];
const underNew = (id: string) => [id, '2026-11-28T10:00:00.000Z', 'Alice Martin', 'goal', 'from the left'];

describe('remapRows', () => {
  it('gives the rows back as they are under the same header, however its cells are spelled', () => {
    const rows = [built('e1')];
    const r = remapRows(rows, OLD, [' Event_ID', 'PLAYER', 'kind ', 'Detail', 'at']);
    assert.ok(r.ok);
    assert.equal(r.rows, rows, 'no copy');
  });

  it('puts each value under its own name in a reordered header', () => {
    const r = remapRows([built('e1'), built('e2')], OLD, NEW);
    assert.ok(r.ok);
    assert.deepEqual(r.rows, [underNew('e1'), underNew('e2')]);
  });

  it('leaves a column inserted since empty, and gives a name the header holds twice its first column', () => {
    const r = remapRows([built('e1')], OLD, ['event_id', 'notes', 'at', 'player', 'kind', 'detail', 'player']);
    assert.ok(r.ok);
    assert.deepEqual(r.rows, [['e1', '', '2026-11-28T10:00:00.000Z', 'Alice Martin', 'goal', 'from the left']]);
  });

  it('takes a header that lost a column the rows have no value for, trailing empty cells left off', () => {
    const r = remapRows([['e1', 'Alice Martin', 'goal', '', '2026-11-28T10:00:00.000Z']], OLD, ['event_id', 'at', 'player', 'kind']);
    assert.ok(r.ok);
    assert.deepEqual(r.rows, [['e1', '2026-11-28T10:00:00.000Z', 'Alice Martin', 'goal']]);
  });

  it('refuses a header that lost a column the rows have values for, naming it', () => {
    const r = remapRows([built('e1')], OLD, ['event_id', 'at', 'player', 'kind']);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.problem, /no longer names detail\b/);
  });

  it('refuses a header whose first column is another: the ids are found in the first column', () => {
    const r = remapRows([built('e1')], OLD, ['at', 'event_id', 'player', 'kind', 'detail']);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.problem, /first column is "at", not "event_id"/);
  });

  it('refuses a value built under a column with no name once the header changed', () => {
    const r = remapRows([['e1', 'x', 'goal']], ['event_id', '', 'kind'], ['event_id', 'kind']);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.problem, /column 2 \(no name\)/);
  });
});

describe('read-your-writes: a journaled row shown under the header the read found', () => {
  it('is shown in the order of the tab read, or as built when the read cannot say (no header in it)', () => {
    const fetched = [NEW, underNew('up1')];
    const merged = mergePending('Events', fetched, [{ range: 'Events', cells: built('e1'), header: OLD }]);
    assert.deepEqual(merged.values, [NEW, underNew('up1'), underNew('e1')]);
    // A block that starts below row 1 holds no header: the row as built.
    const below = mergePending('Events!A2:E', [underNew('up1')], [{ range: 'Events', cells: built('e1'), header: OLD }]);
    assert.deepEqual(below.values, [underNew('up1'), built('e1')]);
  });
});

describe('the journal keeps the header rows were built under', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-header-journal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('through a restart and a compaction', async () => {
    const clock = new FakeClock();
    let j = (await Journal.open({ dir, destination: 'fake sheet', clock })).journal;
    await j.add('Events', [built('e1')], undefined, OLD);
    await j.add('Events', [['e2', 'Bob']]);
    await j.close();
    j = (await Journal.open({ dir, destination: 'fake sheet', clock })).journal;
    assert.deepEqual(
      j.live().map((e) => [e.rows[0]![0], e.header]),
      [
        ['e1', OLD],
        ['e2', undefined],
      ],
    );
    await j.close();
    // compactBytes of 1: the file is rewritten from the entries at open.
    j = (await Journal.open({ dir, destination: 'fake sheet', clock, compactBytes: 1 })).journal;
    await j.close();
    j = (await Journal.open({ dir, destination: 'fake sheet', clock })).journal;
    assert.deepEqual(j.live().find((e) => e.rows[0]![0] === 'e1')?.header, OLD);
    await j.close();
  });

  it('refuses a header it could not write rows under, saying why', async () => {
    const j = (await Journal.open({ dir, destination: 'fake sheet' })).journal;
    try {
      const refused = async (header: unknown, rows: unknown, why: RegExp) =>
        assert.rejects(j.add('Events', rows, undefined, header), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'CORRAL_ERR_APPEND_INVALID');
          assert.match(err.message, why);
          return true;
        });
      await refused([], [built('e1')], /header must be a non-empty list/);
      await refused(['event_id', 7], [built('e1')], /header cell 1 must be a string/);
      await refused([' ', 'player'], [['e1', 'x']], /header cell 0 must name the id column/);
      await refused(['event_id', 'player'], [built('e1')], /row 0 has 5 cells, more than the 2 of its header/);
      assert.equal(j.backlogRows(), 0, 'nothing journaled');
    } finally {
      await j.close();
    }
  });
});

describe('flusher: rows sent under the header the tab has when they go', () => {
  let dir: string;
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let journal: Journal;
  let flusher: Flusher;
  let headerReads: number;
  let headerFails: boolean;
  /** When the keeper's copy of the header was fetched: a new copy each time this changes. */
  let copyAt: number | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-header-flusher-'));
    clock = new FakeClock();
    backend = new FakeBackend({ Events: [OLD] });
    log = await captureLogger();
    journal = (await Journal.open({ dir, destination: 'fake sheet', clock })).journal;
    headerReads = 0;
    headerFails = false;
    copyAt = undefined;
    flusher = testFlusher(journal, backend, log.logger, clock, 500, {
      headerOf: async (range) => {
        headerReads++;
        assert.equal(range, 'Events');
        if (headerFails) throw Object.assign(new Error('Google answered 503'), { code: 'CORRAL_ERR_SHEETS_UPSTREAM' });
        return { header: backend.tabs.get('Events')![0]!, fetchedAt: copyAt ?? clock.now() };
      },
    });
  });
  afterEach(async () => {
    flusher.close();
    await journal.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sheetRows = () => backend.tabs.get('Events')!.slice(1);

  it('writes rows built under the old order in the new one, and rows without a header as built', async () => {
    await journal.add('Events', [built('e1')], undefined, OLD);
    backend.tabs.set('Events', [NEW]);
    await journal.add('Events', [built('e2')], undefined, OLD);
    await journal.add('Events', [['e3', 'as', 'built']]);
    const r = await flusher.flushOnce({ wait: true });
    assert.equal(r.sent, 3);
    assert.deepEqual(sheetRows(), [underNew('e1'), underNew('e2'), ['e3', 'as', 'built']]);
    assert.equal(headerReads, 1, 'one header read for the batch');
    assert.equal(backend.count('append'), 1);
  });

  it('reads no header for a batch that carries none', async () => {
    await journal.add('Events', [['e1', 'x']]);
    await flusher.flushOnce({ wait: true });
    assert.equal(headerReads, 0);
    assert.deepEqual(sheetRows(), [['e1', 'x']]);
  });

  it('holds rows a header cannot take, says so with the code and the fix, and sends them in place once it is fixed', async () => {
    await journal.add('Events', [built('e1')], undefined, OLD);
    backend.tabs.set('Events', [['event_id', 'at', 'player', 'kind']]);
    const r = await flusher.flushOnce({ wait: true });
    assert.equal(r.sent, 0);
    assert.equal(backend.count('append'), 0, 'nothing written misplaced');
    assert.equal(journal.backlogRows(), 1, 'the row is kept');
    const line = log.lines().find((l) => l.event === 'sheets.append_failed');
    assert.ok(line, 'said');
    assert.equal(line.level, 'error');
    assert.equal(line.code, 'CORRAL_ERR_APPEND_HEADER');
    assert.deepEqual(line.header, ['event_id', 'at', 'player', 'kind']);
    assert.deepEqual(line.builtUnder, OLD);
    assert.match(String(line.msg), /no longer names detail.*Fix: give the header row those columns again/);

    // Fixed: the row goes on the range's backoff, under the header as it is then.
    backend.tabs.set('Events', [['event_id', 'at', 'player', 'kind', 'detail']]);
    await clock.advance(120_000);
    const again = await flusher.flushOnce({ wait: true });
    assert.equal(again.sent, 1);
    assert.deepEqual(sheetRows(), [underNew('e1')]);
    assert.ok(log.lines().some((l) => l.event === 'sheets.append_recovered'));
  });

  it('holds rows while the header cannot be read, and sends them once it can', async () => {
    await journal.add('Events', [built('e1')], undefined, OLD);
    backend.tabs.set('Events', [NEW]);
    headerFails = true;
    assert.equal((await flusher.flushOnce({ wait: true })).sent, 0);
    assert.equal(backend.count('append'), 0);
    const line = log.lines().find((l) => l.event === 'sheets.append_failed');
    assert.equal(line?.level, 'warn');
    assert.match(String(line?.msg), /header row the rows are written under could not be read/);
    headerFails = false;
    await clock.advance(120_000);
    assert.equal((await flusher.flushOnce({ wait: true })).sent, 1);
    assert.deepEqual(sheetRows(), [underNew('e1')]);
  });

  it('names the rows written under a copy of the header that the next copy contradicts', async () => {
    // The keeper's copy, fetched before an edit, still serves within its TTL: rows sent meanwhile
    // go under the header before the edit.
    copyAt = clock.now();
    await journal.add('Events', [built('e1')], undefined, OLD);
    await flusher.flushOnce({ wait: true });
    await journal.add('Events', [built('e2')], undefined, OLD);
    await flusher.flushOnce({ wait: true });
    assert.deepEqual(sheetRows(), [built('e1'), built('e2')], 'both under the copy before the edit');
    assert.equal(log.lines().filter((l) => l.event === 'sheets.header_changed').length, 0, 'nothing to say while the copy holds');

    // The next copy shows the edit: the rows sent under the one before are named.
    backend.tabs.set('Events', [NEW, ...sheetRows()]);
    await clock.advance(30_000);
    copyAt = clock.now();
    await journal.add('Events', [built('e3')], undefined, OLD);
    await flusher.flushOnce({ wait: true });
    assert.deepEqual(sheetRows().at(-1), underNew('e3'));
    const changed = log.lines().filter((l) => l.event === 'sheets.header_changed');
    assert.equal(changed.length, 1);
    assert.equal(changed[0]!.level, 'warn');
    assert.deepEqual(changed[0]!.written, ['Events!A2:E2', 'Events!A3:E3']);
    assert.equal(changed[0]!.rows, 2);
    assert.deepEqual(changed[0]!.header_before, OLD);
    assert.deepEqual(changed[0]!.header, NEW);
    assert.match(String(changed[0]!.msg), /changed in the last 30 s .* 2 rows were written in that time under the one before, to Events!A2:E2, Events!A3:E3\. Those written after the edit/);

    // A newer copy of the same header says nothing, nor does one after a copy nothing was sent under.
    await clock.advance(30_000);
    copyAt = clock.now();
    await journal.add('Events', [built('e4')], undefined, OLD);
    await flusher.flushOnce({ wait: true });
    assert.equal(log.lines().filter((l) => l.event === 'sheets.header_changed').length, 1);
  });
});
