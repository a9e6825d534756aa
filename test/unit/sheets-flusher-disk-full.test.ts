// The flusher on a real small filesystem (a tmpfs of 256 KiB) that fills up after rows were
// journaled: a batch is only sent once its send record is written, so nothing goes out, and the
// log says so with the path and the errno, without a line per attempt.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Flusher } from '../../src/sheets/keeper/flusher.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testFlusher } from '../fixtures/test-flusher.js';
import { mountSmallDisk, smallDiskUnavailable, type SmallDisk } from '../helpers/small-disk.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const row = (id: string) => [id, 'P001', 'goal', `detail ${id}`, '2024-03-02T15:12:00Z'];
const padded = (id: string, size: number) => [id, 'P001', 'goal', 'x'.repeat(size), '2024-03-02T15:12:00Z'];
const unavailable = smallDiskUnavailable(join(tmpdir(), `corral-tmpfs-probe-${process.pid}`));

describe('flusher on a full data disk', { skip: unavailable }, () => {
  let root: string;
  let disk: SmallDisk;
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let journal: Journal;
  let flusher: Flusher;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'corral-flusher-full-'));
    disk = mountSmallDisk(join(root, 'data'), 256);
    clock = new FakeClock();
    backend = new FakeBackend({ Events: [HEADER] });
    log = await captureLogger();
    journal = (await Journal.open({ dir: disk.dir, destination: 'fake sheet', clock, unsureDelayMs: 1000 })).journal;
    flusher = testFlusher(journal, backend, log.logger, clock);
  });
  afterEach(async () => {
    flusher.close();
    await journal.close();
    log.close();
    disk.unmount();
    rmSync(root, { recursive: true, force: true });
  });

  it('a send record that cannot be written names the journal and ENOSPC, at most once a minute, and the resumption once', async () => {
    for (let i = 0; i < 5; i++) await journal.add('Events', [row(`r${i}`)]);
    disk.fill();
    // The journal's last page may still have room: fill it with ever smaller rows until even the
    // smallest does not fit. What is left is less than a send record for these entries.
    let n = 0;
    for (const size of [2000, 500, 100, 20, 0]) {
      for (;;) {
        const saved = await journal.add('Events', [padded(`p${n++}`, size)]).then(() => true, () => false);
        if (!saved) break;
      }
    }
    // Ten minutes of flushes every 500 ms.
    for (let t = 0; t < 10 * 60_000; t += 500) {
      await flusher.flushOnce({ wait: true });
      await clock.advance(500);
    }
    assert.equal(backend.count('append'), 0, 'nothing is sent without its send record');
    const postponed = log.lines().filter((l) => l.event === 'journal.send_postponed');
    assert.ok(postponed.length >= 1 && postponed.length <= 11, `${postponed.length} journal.send_postponed lines in 10 minutes`);
    const first = postponed[0]!;
    assert.equal(first.level, 'error');
    assert.equal(first.code, 'CORRAL_ERR_JOURNAL_UNWRITABLE');
    assert.equal(first.path, journal.path);
    assert.equal(first.errno, 'ENOSPC');
    assert.equal(first.range, 'Events');
    const attempts = postponed.reduce((n, l) => n + Number(l.postponed), 0);
    assert.ok(attempts > postponed.length, `${attempts} postponed sends said in ${postponed.length} lines`);
    // Besides these, only the backlog's own alert (5 minutes without progress) is an error.
    const others = log.lines().filter((l) => l.level === 'error' && l.event !== 'journal.send_postponed' && l.event !== 'journal.backlog_stalled');
    assert.deepEqual(others, [], 'no other error line');

    disk.free();
    for (let t = 0; t < 70_000 && journal.backlogRows() > 0; t += 500) {
      await flusher.flushOnce({ wait: true });
      await clock.advance(500);
    }
    assert.equal(journal.backlogRows(), 0, 'every row is sent once the disk has room');
    const resumed = log.lines().filter((l) => l.event === 'journal.send_resumed');
    assert.equal(resumed.length, 1);
    assert.ok(Number(resumed[0]!.postponed) >= attempts);
  });
  it('appends Google took whose done records cannot be written are one line with the cause, then a count a minute, then one line when they are written again', async () => {
    // The disk fills while each append is on its way: its send record was written, its done record
    // is not. A batch of 120 entries makes a done record (their ids) longer than a page, so it never
    // fits in what the journal's last page has left.
    const append = backend.appendValues.bind(backend);
    let fillDuringAppend = true;
    backend.appendValues = async (range: string, rows: readonly (readonly string[])[]) => {
      const answer = await append(range, rows);
      if (fillDuringAppend) disk.fill();
      return answer;
    };
    let sent = 0;
    const cycle = async () => {
      disk.free();
      await Promise.all(Array.from({ length: 120 }, () => journal.add('Events', [row(`d${sent++}`)])));
      assert.equal((await flusher.flushOnce({ wait: true })).sent, 120);
      await clock.advance(1000);
    };
    const lines = () => log.lines().filter((l) => String(l.event).startsWith('journal.done_'));
    for (let i = 0; i < 4; i++) await cycle();
    assert.deepEqual(
      lines().map((l) => [l.event, l.level, l.code, l.path, l.errno, l.range, l.failed]),
      [['journal.done_failed', 'error', 'CORRAL_ERR_JOURNAL_UNWRITABLE', journal.path, 'ENOSPC', 'Events', 1]],
      'one line for four done records, with the cause',
    );
    await clock.advance(60_000);
    await cycle();
    assert.deepEqual(lines().map((l) => [l.event, l.failed]), [
      ['journal.done_failed', 1],
      ['journal.done_failed', 4],
    ]);
    fillDuringAppend = false;
    await cycle();
    await cycle();
    assert.deepEqual(lines().map((l) => [l.event, l.level, l.failed]), [
      ['journal.done_failed', 'error', 1],
      ['journal.done_failed', 'error', 4],
      ['journal.done_recovered', 'info', 5],
    ]);
    assert.equal(backend.ids('Events').filter((id) => id !== 'event_id').length, sent, 'each row reached the sheet once');
  });
  it('timed flushes that fail at every interval are one line with the cause, then a count a minute, then one line when one completes', async () => {
    // An append Google applied whose answer was lost, then someone removed one of its rows from the
    // sheet: the read-back splits the entry, and the split's record (the missing row, longer than a
    // page) cannot be written on the full disk. Each flush reads back and fails the same way.
    await journal.add('Events', [row('kept'), padded('removed', 6000)]);
    backend.failAppends = 'lost-after';
    await flusher.flushOnce({ wait: true });
    backend.failAppends = 'none';
    const tab = backend.tabs.get('Events')!;
    tab.splice(tab.findIndex((r) => r[0] === 'removed'), 1);
    disk.fill();
    await clock.advance(10_000);
    flusher = testFlusher(journal, backend, log.logger, clock, 20);
    const readBacks = () => backend.count('get');
    const lines = () => log.lines().filter((l) => String(l.event).startsWith('sheets.flush_'));
    const until = async (check: () => boolean, what: string) => {
      for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(check(), `timed out waiting for ${what}`);
    };
    flusher.start();
    await until(() => readBacks() >= 10, 'ten failed flushes');
    assert.deepEqual(
      lines().map((l) => [l.event, l.level, (l.err as { code?: string }).code, l.failed]),
      [['sheets.flush_failed', 'error', 'CORRAL_ERR_JOURNAL_UNWRITABLE', 1]],
      'one line for ten failed flushes, with the cause',
    );
    await clock.advance(60_000);
    await until(() => lines().length === 2, 'the count a minute after the first line');
    assert.ok(Number(lines()[1]?.failed) >= 9, `${String(lines()[1]?.failed)} failed flushes since the first line`);
    disk.free();
    await until(() => lines().length === 3, 'the end of the failure');
    await until(() => backend.ids('Events').includes('removed'), 'the removed row to be sent again');
    assert.deepEqual(lines().map((l) => [l.event, l.level]), [
      ['sheets.flush_failed', 'error'],
      ['sheets.flush_failed', 'error'],
      ['sheets.flush_recovered', 'info'],
    ]);
    assert.ok(Number(lines()[2]?.failed) >= Number(lines()[1]?.failed) + 1);
    const partial = log.lines().filter((l) => l.event === 'sheets.read_back_partial');
    assert.equal(partial.length, 1, 'the partial read-back is said once, when its split is written');
  });
});
