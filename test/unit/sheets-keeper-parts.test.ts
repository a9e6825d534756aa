// The keeper's small pieces: read-your-writes merging, the change feed behind push invalidation,
// the socket path rule, header-keyed records and the offline sheet's CSV.

import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { backoffMs } from '../../src/sheets/keeper/backoff.js';
import { ChangeFeed } from '../../src/sheets/keeper/change-feed.js';
import { appliedOf } from '../../src/sheets/keeper/flusher.js';
import { fetchRangeFor, mergePending, type PendingRow } from '../../src/sheets/keeper/merge.js';
import { checkSocketDir, keeperSocketPath, socketOutsideDataDir } from '../../src/sheets/keeper/socket-path.js';
import { parseCsv, stringifyCsv } from '../../src/sheets/offline/csv.js';
import { toRecords } from '../../src/sheets/records.js';
import { checkLogin } from '../../src/app/players.js';
import { CorralError } from '../../src/errors.js';

const EVENTS = [
  ['event_id', 'player', 'kind', 'detail', 'at'],
  ['e1', 'P001', 'goal', '', '2024'],
];

/** Rows as the journal hands them to the merge: with the range they were appended to. */
function journaled(range: string, rows: string[][]): PendingRow[] {
  return rows.map((cells) => ({ range, cells }));
}

describe('keeper parts', () => {
  it("waits after failed attempt n as Google's backoff does before retry n-1", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 20].map((n) => backoffMs(n, () => 0)), [1000, 2000, 4000, 8000, 16000, 32000, 32000]);
    assert.equal(backoffMs(2, () => 0.5), 2500);
    assert.equal(backoffMs(0, () => 0), 1000);
  });

  it('merges journaled rows into reads of the tab, once', () => {
    const pending = journaled('Events', [
      ['e2', 'P002', 'card', '', ''],
      ['e1', 'P001', 'goal', '', '2024'],
    ]);
    const whole = mergePending('Events', EVENTS, pending);
    assert.equal(whole.added, 1, 'e1 is already upstream: not shown twice');
    assert.deepEqual(whole.values.at(-1), ['e2', 'P002', 'card'], 'trailing empty cells trimmed like the API');
    assert.deepEqual(whole.below, [['e2', 'P002', 'card']], 'the fetched rows as they are, then these: their JSON can be reused');
    assert.equal(mergePending('Events!C:E', EVENTS, pending).below, undefined, 'a cut read is not the fetched rows');
    assert.equal(mergePending('Events!A:E', EVENTS, pending).added, 1);
    assert.equal(mergePending('Events', EVENTS, []).values, EVENTS, 'no copy when nothing is pending');
  });

  it('merges journaled rows into a bounded block where Google shows them: below its rows, within its last row', () => {
    // An admin's export of Events!A1:E1000 cached before an event's append showed the tab without
    // the acknowledged row until the copy's TTL ran out, even after Google had it.
    const pending = journaled('Events', [
      ['e1', 'P001', 'goal', '', '2024'],
      ['e2', 'P002', 'card', '', '2025'],
      ['e3', 'P003', 'save', '', '2026'],
    ]);
    const block = mergePending('Events!A1:E1000', EVENTS, pending);
    assert.equal(block.added, 2, 'e1 is upstream already');
    assert.deepEqual(block.values.slice(2), [['e2', 'P002', 'card', '', '2025'], ['e3', 'P003', 'save', '', '2026']]);
    // Row 1 header, row 2 e1: a block of 3 rows has room for e2 only; one of 2 rows for none.
    assert.deepEqual(mergePending('Events!A1:E3', EVENTS, pending).values.at(-1), ['e2', 'P002', 'card', '', '2025']);
    assert.equal(mergePending('Events!A1:E3', EVENTS, pending).added, 1);
    assert.equal(mergePending('Events!A1:E2', EVENTS, pending).values, EVENTS, 'a full block: the rows land below it');
    assert.equal(mergePending('Events!1:1', EVENTS.slice(0, 1), pending).values.length, 1, 'the header row read by POST /api/events never gets events');
    // Starting below row 1: its rows say where the tab's rows end, unless it has none.
    assert.deepEqual(mergePending('Events!A2:E5', EVENTS.slice(1), pending).values.map((r) => r[0]), ['e1', 'e2', 'e3']);
    assert.deepEqual(mergePending('Events!A40:E50', [], pending).values, [], 'empty and below row 1: where rows land is unknown');
    // Right of column A: fetched from A (ids to compare), cut to its columns.
    assert.equal(fetchRangeFor('Events!B1:C10'), 'Events!A1:C10');
    assert.deepEqual(mergePending('Events!B1:C10', EVENTS.map((r) => r.slice(0, 3)), pending).values, [
      ['player', 'kind'],
      ['P001', 'goal'],
      ['P002', 'card'],
      ['P003', 'save'],
    ]);
  });

  it('a read starting right of column A is fetched from A, and each row shows once, cut to its columns', () => {
    // Google holds e1 already (its append landed before the fetch); e2 is only in the journal.
    const pending = journaled('Events', [
      ['e1', 'P001', 'goal', '', '2024'],
      ['e2', 'P002', 'card', 'late', '2025'],
    ]);
    assert.equal(fetchRangeFor('Events!B:D'), 'Events!A:D');
    assert.equal(fetchRangeFor('Events!B1:D'), 'Events!A1:D');
    assert.equal(fetchRangeFor('Events!C2:C'), 'Events!A2:C');
    assert.equal(fetchRangeFor("'My Tab'!B:B"), "'My Tab'!A:B");
    assert.equal(fetchRangeFor('B:D'), 'A:D', 'the first tab');
    for (const r of ['Events', 'Events!A:E', 'Events!A2:C', 'Events!A1:D10', 'Events!A5', 'Nope!!']) assert.equal(fetchRangeFor(r), r, r);
    // One spelling per range, the cache's and the single-flight's key: a quoted tab that needs no
    // quotes, lower-case cells, reversed corners were each another upstream read per TTL.
    const spellings: [string, string][] = [
      ["'Events'", 'Events'],
      ["'Events'!A:E", 'Events!A:E'],
      ['Events!a:e', 'Events!A:E'],
      ['Events!E10:A1', 'Events!A1:E10'],
      ['Events!A1:A1', 'Events!A1'],
      ['My Tab', "'My Tab'"],
      ["'It''s'!a1:b2", "'It''s'!A1:B2"],
      ['a1:c3', 'A1:C3'],
    ];
    for (const [given, fetched] of spellings) assert.equal(fetchRangeFor(given), fetched, given);
    // What Google answers for the widened fetch (A:D, A1:D): the sheet's rows from column A.
    const fetchedAD = EVENTS.map((r) => r.slice(0, 4));
    for (const range of ['Events!B:D', 'Events!B1:D']) {
      const m = mergePending(range, fetchedAD, pending);
      assert.deepEqual(
        m.values,
        [
          ['player', 'kind', 'detail'],
          ['P001', 'goal'],
          ['P002', 'card', 'late'],
        ],
        range,
      );
      assert.equal(m.added, 1, range);
    }
    // A later column, open to the right (fetched as A:E, Google's width).
    assert.deepEqual(mergePending('Events!C:E', EVENTS, pending).values, [
      ['kind', 'detail', 'at'],
      ['goal', '', '2024'],
      ['card', 'late', '2025'],
    ]);
    assert.deepEqual(mergePending('Events!E:E', EVENTS, pending).values, [['at'], ['2024'], ['2025']]);
    // A bounded end column from column A: no widening, the merged row cut at C.
    assert.deepEqual(mergePending('Events!A:C', EVENTS.map((r) => r.slice(0, 3)), pending).values, [
      ['event_id', 'player', 'kind'],
      ['e1', 'P001', 'goal'],
      ['e2', 'P002', 'card'],
    ]);
    // A row offset: the fetch A2:D starts at row 2, the header is not in it.
    assert.deepEqual(mergePending('Events!B2:D', fetchedAD.slice(1), pending).values, [
      ['P001', 'goal'],
      ['P002', 'card', 'late'],
    ]);
    // Rows with nothing in the read's columns are not shown at the bottom, as Google trims them.
    const noDetail = journaled('Events', [['e3', 'P003', 'goal']]);
    const m = mergePending('Events!D:D', [['event_id', 'player', 'kind', 'detail'], ['e1', 'P001', 'goal']], noDetail);
    assert.deepEqual(m, { values: [['detail']], added: 0 });
    // Nothing pending: the widened fetch is still cut to the columns asked for.
    assert.deepEqual(mergePending('Events!B:C', fetchedAD, []).values, [
      ['player', 'kind'],
      ['P001', 'goal'],
    ]);
  });

  it('places a journaled row from its append range\'s first column, as the row lands', () => {
    // SHEET_EVENTS_RANGE = Events!B:F: rows land from column B, their ids in B.
    const upstream = [
      ['', 'event_id', 'player'],
      ['', 'e1', 'P001'],
    ];
    const pending = journaled('Events!B:F', [
      ['e1', 'P001'],
      ['e2', 'P002'],
    ]);
    // Read back through the same range: fetched as Events!A:F, answered as B:F.
    assert.deepEqual(mergePending('Events!B:F', upstream, pending).values, [
      ['event_id', 'player'],
      ['e1', 'P001'],
      ['e2', 'P002'],
    ]);
    const whole = mergePending('Events', upstream, pending);
    assert.deepEqual(whole.values.at(-1), ['', 'e2', 'P002'], 'a read from column A shows column A empty');
    assert.equal(whole.added, 1);
    assert.deepEqual(mergePending('Events!A:A', [[''], ['']], pending), { values: [[''], ['']], added: 0 }, 'no cell of it in column A');
  });

  it('change feed: answers waiters on change, tells a restarted keeper apart, times out empty', async () => {
    const feed = new ChangeFeed();
    const first = await feed.wait(0, undefined, 1000);
    assert.equal(first.all, false);
    assert.equal(first.epoch, feed.epoch);
    const waiting = feed.wait(first.version, feed.epoch, 5000);
    feed.publish('Events');
    feed.publish('Events');
    const a = await waiting;
    assert.deepEqual(a.sheets, ['Events']);
    assert.equal(a.version, 1, 'answered at the first change');
    const caughtUp = await feed.wait(a.version, feed.epoch, 1000);
    assert.deepEqual(caughtUp.sheets, ['Events'], 'a change made between two polls is not lost');
    assert.equal(caughtUp.version, 2);
    feed.publish('Players');
    assert.deepEqual((await feed.wait(2, feed.epoch, 1000)).sheets, ['Players']);
    assert.equal((await feed.wait(3, 'an-old-epoch', 1000)).all, true, 'another keeper: drop everything');
    const quiet = await feed.wait(3, feed.epoch, 20);
    assert.deepEqual(quiet.sheets, []);
    const pending = feed.wait(3, feed.epoch, 60_000);
    feed.close();
    assert.deepEqual((await pending).sheets, []);
  });

  it('puts the socket in the data dir, or in the temp dir when that path is too long', () => {
    assert.equal(keeperSocketPath('/var/lib/corral'), '/var/lib/corral/keeper.sock');
    const long = `/srv/${'very-long-directory-name/'.repeat(5)}data`;
    const p = keeperSocketPath(long);
    assert.equal(dirname(p), join(tmpdir(), `corral-${process.getuid?.() ?? 'user'}`), "in this user's own directory of the temp dir");
    assert.ok(Buffer.byteLength(p) < 100);
    assert.equal(keeperSocketPath(long), p, 'the same path in every process');
    assert.notEqual(keeperSocketPath(`${long}2`), p);
  });

  it("checks the fallback socket's directory: absent is no error for a worker, the keeper makes it 0700 and then it passes", () => {
    const temp = mkdtempSync(join(tmpdir(), 'corral-socket-dir-'));
    try {
      const p = keeperSocketPath(`/srv/${'very-long-directory-name/'.repeat(5)}data`, temp);
      assert.equal(checkSocketDir(p, { create: false }), false, 'not made yet: the connect will fail as for a keeper that is down');
      assert.equal(checkSocketDir(p, { create: true }), true);
      assert.equal(lstatSync(dirname(p)).mode & 0o777, 0o700);
      assert.equal(checkSocketDir(p, { create: false }), true);
      assert.equal(socketOutsideDataDir(p, '/srv/data'), true);
      assert.equal(socketOutsideDataDir(keeperSocketPath('/var/lib/corral'), '/var/lib/corral'), false);
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  });

  it('keys rows by the header, tolerating short rows, blank rows and blank headers', () => {
    const read = { range: 'Players', values: [['name', '', 'team'], ['Alice', 'x', 'Red'], [], ['', '', ''], ['Bob']], fetchedAt: 0, stale: false, staleSeconds: 0, pendingRows: 0 };
    const r = toRecords(read);
    assert.deepEqual(r.header, ['name', '', 'team']);
    assert.deepEqual(r.records, [
      { name: 'Alice', team: 'Red' },
      { name: 'Bob', team: '' },
    ]);
    assert.deepEqual(toRecords({ ...read, values: [] }).records, []);
  });

  it('keeps the first column of a header name written twice (trimmed alike), as lookups of the header find it', () => {
    // Hand-typed sheets: `name` and `name ` (or a second `code` further right). The last column
    // took the key, so login looked up the first column's name and read the other's cells.
    const read = { range: 'Players', values: [['name', 'code', 'team', 'name '], ['Alice', 'a-1', 'Red'], ['Bob', 'b-2', 'Blue', 'note']], fetchedAt: 0, stale: false, staleSeconds: 0, pendingRows: 0 };
    assert.deepEqual(toRecords(read).records, [
      { name: 'Alice', code: 'a-1', team: 'Red' },
      { name: 'Bob', code: 'b-2', team: 'Blue' },
    ]);
    const players = toRecords(read);
    assert.equal(checkLogin(players, 'Alice', 'a-1').player?.name, 'Alice', 'the roster is found under its first name column');
  });

  it('CSV round-trips quotes, commas, line breaks and spaces; reads CRLF and a BOM', () => {
    const rows = [['a', 'b,c', 'say "hi"', 'two\nlines', ' padded ', '']];
    assert.deepEqual(parseCsv(stringifyCsv(rows)), rows);
    assert.deepEqual(parseCsv('\ufeffx,y\r\n1,2\r\n'), [['x', 'y'], ['1', '2']]);
    assert.deepEqual(parseCsv('x,y\n1,2'), [['x', 'y'], ['1', '2']], 'no final line break');
  });

  it("decides resend vs read-back from the error's applied field", () => {
    assert.equal(appliedOf({ applied: 'no' }), 'no');
    assert.equal(appliedOf({ applied: 'maybe' }), 'maybe');
    assert.equal(appliedOf(new Error('unknown')), 'maybe', 'anything unknown is treated as possibly applied');
    assert.equal(appliedOf(new CorralError('CORRAL_ERR_QUEUE_FULL', 'full')), 'no', 'refused by our own queue before sending');
  });
});
