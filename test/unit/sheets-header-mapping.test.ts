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
import { ReadTier } from '../../src/sheets/keeper/read-tier.js';
import type { Flusher, FlusherOptions } from '../../src/sheets/keeper/flusher.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
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

  it('maps a row appended right of column A under its own range\'s header, as the flusher writes it', () => {
    // The tab: a notes column in A, the events from B. A read of Events!B:F is fetched from A.
    const fetched = [['notes', ...NEW]];
    const merged = mergePending('Events!B:F', fetched, [{ range: 'Events!B:F', cells: built('e1'), header: OLD }]);
    assert.deepEqual(merged.values, [NEW, underNew('e1')]);
  });

  it('shows a read narrower than the row only the values under its columns', () => {
    const merged = mergePending('Events!A:B', [NEW.slice(0, 2)], [{ range: 'Events', cells: built('e1'), header: OLD }]);
    assert.deepEqual(merged.values, [NEW.slice(0, 2), ['e1', '2026-11-28T10:00:00.000Z']]);
  });

  it('maps under a header below row 1 when the range starts there', () => {
    const fetched = [NEW, underNew('up1')];
    const merged = mergePending('Events!A3:E', fetched, [{ range: 'Events!A3:E', cells: built('e1'), header: OLD }]);
    assert.deepEqual(merged.values, [NEW, underNew('up1'), underNew('e1')]);
  });
});

describe('the keeper\'s copy the flusher writes under', () => {
  it('is never one a draining keeper handed over: the sheet may have changed while no keeper ran', async () => {
    const clock = new FakeClock();
    const backend = new FakeBackend({ Events: [NEW] });
    const log = await captureLogger();
    const tier = new ReadTier({ backend, logger: log.logger, ttlMs: 30_000, maxStaleMs: 600_000, maxBytes: 1 << 20, clock });
    try {
      tier.restore([{ range: 'Events!1:1', values: [OLD], jsonBytes: Buffer.from(JSON.stringify([OLD])), fetchStartedAt: clock.now() - 1000, fetchedAt: clock.now() - 1000 }]);
      assert.deepEqual((await tier.get('Events!1:1')).value.values, [OLD], 'reads are served the handed-over copy');
      assert.equal(await tier.getFresh('Events!1:1', { wait: false }), undefined, 'a drain does not take it');
      assert.deepEqual((await tier.getFresh('Events!1:1'))?.values, [NEW], 'read again for the flusher');
      assert.equal(backend.count('get'), 1);
      assert.deepEqual((await tier.getFresh('Events!1:1', { wait: false }))?.values, [NEW], 'its own copy, fresh');
      assert.equal(backend.count('get'), 1);
    } finally {
      tier.close();
      log.close();
    }
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
  /** Of headerReads, those that may read Google (wait true): a fetch when no fresh copy is held. */
  let headerWaits: number;
  let headerFails: boolean;
  /** When the keeper's copy of the header was fetched: a new copy each time this changes. */
  let copyAt: number | undefined;

  // Without wait, no copy unless one is held (copyAt set): read-tier.ts getFresh.
  const headerOfHeld: NonNullable<FlusherOptions['headerOf']> = async (range, { wait: waitForCopy }) => {
    headerReads++;
    if (waitForCopy) headerWaits++;
    assert.equal(range, 'Events');
    if (headerFails) throw Object.assign(new Error('Google answered 503'), { code: 'CORRAL_ERR_SHEETS_UPSTREAM' });
    if (copyAt === undefined && !waitForCopy) return undefined;
    return { header: backend.tabs.get('Events')![0]!, fetchedAt: copyAt ?? clock.now() };
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-header-flusher-'));
    clock = new FakeClock();
    backend = new FakeBackend({ Events: [OLD] });
    log = await captureLogger();
    journal = (await Journal.open({ dir, destination: 'fake sheet', clock })).journal;
    headerReads = 0;
    headerWaits = 0;
    headerFails = false;
    copyAt = undefined;
    flusher = testFlusher(journal, backend, log.logger, clock, 500, { headerOf: headerOfHeld });
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
    // One for the batch, one beside the pass that sees whether the header changed under it.
    assert.equal(headerReads, 2, 'one header read for the batch');
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
    const line = log.lines().find((l) => l.event === 'sheets.rows_held');
    assert.ok(line, 'said');
    assert.equal(line.level, 'error');
    assert.equal(line.code, 'CORRAL_ERR_APPEND_HEADER');
    assert.deepEqual(line.header, ['event_id', 'at', 'player', 'kind']);
    assert.deepEqual(line.builtUnder, OLD);
    assert.match(String(line.msg), /no longer names detail.*the tab's other rows go on\. Fix: give the header row those columns again/);

    // Checked again on a backoff that grows (1, 2, 4 ... s) while the header stays as it is.
    const checks: number[] = [];
    for (let t = 0; t < 60_000; t += 500) {
      const before = headerReads;
      await flusher.flushOnce({ wait: true });
      if (headerReads > before) checks.push(clock.now());
      await clock.advance(500);
    }
    const gaps = checks.slice(1).map((t, i) => t - checks[i]!);
    assert.ok(gaps.length >= 3 && gaps.length <= 8, `a few checks in a minute: ${JSON.stringify(gaps)}`);
    assert.ok(gaps.at(-1)! > gaps[0]! * 4, `growing: ${JSON.stringify(gaps)}`);
    assert.equal(log.lines().filter((l) => l.event === 'sheets.rows_held').length, 1, 'said once in the minute');

    // Fixed: the row goes on its backoff, under the header as it is then.
    backend.tabs.set('Events', [['event_id', 'at', 'player', 'kind', 'detail']]);
    await clock.advance(120_000);
    const again = await flusher.flushOnce({ wait: true });
    assert.equal(again.sent, 1);
    assert.deepEqual(sheetRows(), [underNew('e1')]);
    assert.ok(log.lines().some((l) => l.event === 'sheets.rows_released'));
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

  it('holds only the entries the header cannot take; the others go', async () => {
    await journal.add('Events', [built('e1')], undefined, OLD);
    await journal.add('Events', [['e2', 'Bob', 'save', '', 'now']], undefined, OLD);
    await journal.add('Events', [['e3', 'as', 'built']]);
    backend.tabs.set('Events', [['event_id', 'at', 'player', 'kind']]);
    const r = await flusher.flushOnce({ wait: true });
    assert.equal(r.sent, 2);
    assert.deepEqual(sheetRows(), [
      ['e2', 'now', 'Bob', 'save'],
      ['e3', 'as', 'built'],
    ]);
    assert.equal(journal.backlogRows(), 1, 'e1 waits, with its detail');
    const line = log.lines().find((l) => l.event === 'sheets.rows_held');
    assert.match(String(line?.msg), /^sheets: 1 journaled row for Events cannot be written/);
    // Other rows going on does not read as the held one released.
    await journal.add('Events', [['e4', 'Bob', 'save', '', 'later']], undefined, OLD);
    await clock.advance(2000);
    assert.equal((await flusher.flushOnce({ wait: true })).sent, 1);
    assert.deepEqual(log.lines().filter((l) => l.event === 'sheets.rows_released'), []);
    backend.tabs.set('Events', [NEW, ...sheetRows()]);
    await clock.advance(120_000);
    assert.equal((await flusher.flushOnce({ wait: true })).sent, 1);
    assert.equal(log.lines().filter((l) => l.event === 'sheets.rows_released').length, 1);
  });

  it('halves a batch Google refuses without the entries the header holds: the good rows go, the bad one is named', async () => {
    await journal.add('Events', [built('h1')], undefined, OLD);
    await journal.add('Events', [built('h2')], undefined, OLD);
    await journal.add('Events', [['bad', 'Bob', 'save', '', 'x']], undefined, OLD);
    await journal.add('Events', [['good', 'Bob', 'save', '', 'y']], undefined, OLD);
    backend.refusedIds.add('bad');
    backend.tabs.set('Events', [['event_id', 'at', 'player', 'kind']]);
    const r = await flusher.flushOnce({ wait: true });
    assert.equal(r.sent, 1);
    assert.deepEqual(sheetRows(), [['good', 'y', 'Bob', 'save']]);
    assert.ok(log.lines().some((l) => l.event === 'sheets.append_refused_alone'));
  });

  it('a drain does not wait for rows the header holds', async () => {
    copyAt = clock.now();
    await journal.add('Events', [built('e1')], undefined, OLD);
    backend.tabs.set('Events', [['event_id', 'at', 'player', 'kind']]);
    // The fake clock does not move: a drain that waited for the held row would never return.
    const left = await flusher.drain(clock.now() + 6000);
    assert.equal(left, 1);
  });

  it('reads the header once more after rows were sent under a copy, and names them when it changed though no row follows', async () => {
    copyAt = clock.now();
    await journal.add('Events', [built('e1')], undefined, OLD);
    await flusher.flushOnce({ wait: true });
    // The edit, and no event after it: the pass after the copy expires reads it again.
    backend.tabs.set('Events', [NEW, ...sheetRows()]);
    copyAt = clock.now() + 30_000;
    await clock.advance(30_000);
    await flusher.flushOnce({ wait: true });
    await new Promise((r) => setImmediate(r));
    const changed = log.lines().filter((l) => l.event === 'sheets.header_changed');
    assert.equal(changed.length, 1);
    assert.deepEqual(changed[0]!.written, ['Events!A2:E2']);
  });

  it('says nothing of columns added right of the others: nothing written under the copy before is misplaced', async () => {
    copyAt = clock.now();
    await journal.add('Events', [built('e1')], undefined, OLD);
    await flusher.flushOnce({ wait: true });
    backend.tabs.set('Events', [[...OLD, 'notes'], ...sheetRows()]);
    copyAt = clock.now() + 30_000;
    await clock.advance(30_000);
    await journal.add('Events', [built('e2')], undefined, OLD);
    await flusher.flushOnce({ wait: true });
    assert.deepEqual(sheetRows().at(-1), built('e2'));
    assert.deepEqual(log.lines().filter((l) => l.event === 'sheets.header_changed'), []);
  });

  it('a drain with no fresh copy of the header reads it when a read token is free: the rows go before the stop', async () => {
    // A keeper restarted by a reload and stopped before its first timed pass holds only the copy
    // the keeper before handed over, which the flusher never writes under. Its drain took "no copy"
    // for a spent quota and looked again every 10 ms until its deadline: the 6 rows acknowledged
    // since its start were left in the journal, with the read and write buckets both free.
    await journal.add('Events', [built('e1')], undefined, OLD);
    const pass = await flusher.flushOnce({ wait: false });
    assert.deepEqual([pass.sent, pass.quotaLimited, headerWaits], [1, false, 1]);
    assert.deepEqual(sheetRows(), [built('e1')]);
    await journal.add('Events', [built('e2')], undefined, OLD);
    // The fake clock does not move: a drain that looked again for a copy would never return.
    assert.equal(await flusher.drain(clock.now() + 6000), 0);
    assert.deepEqual(sheetRows(), [built('e1'), built('e2')]);
    assert.deepEqual(log.lines().filter((l) => l.event === 'sheets.append_failed'), []);
  });

  it('a drain with no fresh copy of the header and no read token free skips the rows until one is, and says nothing of the copy it has not', async () => {
    flusher.close();
    const readQuota = new QuotaBucket({ name: 'reads', perMinute: 1, maxQueue: 10, clock });
    assert.equal(readQuota.tryAcquire(), true);
    flusher = testFlusher(journal, backend, log.logger, clock, 500, { headerOf: headerOfHeld, readQuota });
    await journal.add('Events', [built('e1')], undefined, OLD);
    const skipped = await flusher.flushOnce({ wait: false });
    assert.equal(skipped.sent, 0);
    assert.equal(skipped.quotaLimited, true);
    assert.equal(headerWaits, 0, 'no read of Google without a token');
    assert.equal(journal.backlogRows(), 1);
    await clock.advance(61_000);
    assert.equal(readQuota.tokensLeft(), 1);
    assert.equal((await flusher.flushOnce({ wait: false })).sent, 1);
    assert.deepEqual(log.lines().filter((l) => l.event === 'sheets.append_failed'), []);
  });

  it('names rows whose append\'s answer was lost under a copy the next one contradicts', async () => {
    copyAt = clock.now();
    await journal.add('Events', [built('e1')], undefined, OLD);
    backend.failAppends = 'lost-after';
    await flusher.flushOnce({ wait: true });
    backend.failAppends = 'none';
    backend.tabs.set('Events', [NEW, ...sheetRows()]);
    await clock.advance(30_000);
    copyAt = clock.now();
    await journal.add('Events', [built('e2')], undefined, OLD);
    await flusher.flushOnce({ wait: true });
    const changed = log.lines().find((l) => l.event === 'sheets.header_changed');
    assert.ok(changed, 'said');
    assert.deepEqual(changed.written, ["row e1 (its append's answer was lost)"]);
  });
});
