// The journal's times across keepers whose clocks differ (keeper/journal-wall-time.ts): each
// keeper's clock is the wall clock at its start, then monotonic, so after a step of the system
// clock (or a suspend) during a keeper's life its readings differ from the next keeper's by the
// step. The file holds wall-clock times, read back onto the next keeper's clock.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Journal, type JournalOptions } from '../../src/sheets/keeper/journal.js';
import { decodeRecord, type JournalRecord } from '../../src/sheets/keeper/journal-file.js';
import { RecordTimes } from '../../src/sheets/keeper/journal-wall-time.js';
import type { Clock } from '../../src/sheets/keeper/clock.js';
import { FakeClock, SteppedClock } from '../fixtures/fake-clock.js';

const T0 = 1_800_000_000_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const claim = (key: string) => ({ key, fingerprint: `fp-${key}`, answer: `{"id":"answer-of-${key}"}` });
const row = (id: string) => [id, 'Alice', 'goal', '', '2026-11-25T00:00:00.000Z'];

describe('RecordTimes', () => {
  it("writes each record's `at` on the wall clock and reads it back onto the reader's clock, in place", () => {
    const writer = new RecordTimes(new SteppedClock(T0, HOUR)).writer();
    const add: JournalRecord = { k: 'add', id: 'a', r: 'Events', rows: [['e1']], at: T0 };
    const written = [add, { k: 'done', ids: ['a'], at: T0 + 1000, how: 'sent' }, { k: 'odd' }].map(writer);
    assert.deepEqual(written.map((r) => r.at), [T0 + HOUR, T0 + HOUR + 1000, undefined]);
    assert.equal(add.at, T0, "the keeper's record is left as it was");
    // Read by a keeper whose clock is 10 s behind the wall clock (a step since its own start).
    const read = written.map((r) => ({ ...r }));
    new RecordTimes(new SteppedClock(0, 10_000)).read(read);
    assert.deepEqual(read.map((r) => r.at), [T0 + HOUR - 10_000, T0 + HOUR - 10_000 + 1000, undefined]);
  });

  it('tells a step of the wall clock since a record was written, not a move under a second', () => {
    const clock = new SteppedClock(T0, 0);
    const times = new RecordTimes(clock);
    clock.step(HOUR);
    assert.equal(times.moved(), false, 'nothing written yet');
    times.writer()({ k: 'send', ids: ['a'], at: T0 });
    clock.step(999);
    assert.equal(times.moved(), false, 'under a second: no step');
    clock.step(1);
    assert.equal(times.moved(), true);
    times.writer()({ k: 'send', ids: ['a'], at: T0 });
    assert.equal(times.moved(), true, 'the first record is still off');
  });

  it("with a clock on the wall clock's time (a test's, or a keeper's before any step) copies nothing", () => {
    const rec: JournalRecord = { k: 'send', ids: ['a'], at: T0 };
    assert.equal(new RecordTimes({}).writer()(rec), rec);
    assert.equal(new RecordTimes({ wallOffset: () => 0 }).writer()(rec), rec);
  });
});

describe("the journal's times across a step of the writing keeper's clock", () => {
  let dir: string;
  const open = async (clock: Clock, extra: Partial<JournalOptions> = {}) => (await Journal.open({ dir, destination: 'the sheet', clock, unsureDelayMs: 1000, ...extra })).journal;
  const fileTimes = (path: string) =>
    readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => decodeRecord(line))
      .map((r) => [r?.k, r?.at]);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-journal-wall-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const how of ['appended', 'compacted'] as const) {
    it(`a done entry (${how}) is kept, and shown on a copy fetched before it landed, by its true age`, async () => {
      // The writer's clock is an hour behind the wall clock: the system clock was stepped an hour
      // forward after it started (NTP at boot), or the host slept an hour.
      const writerClock = new SteppedClock(T0, HOUR);
      const writer = await open(writerClock);
      await writer.add('Events', [row('e1')]);
      await writer.markSending(writer.live());
      await writerClock.advance(1000);
      await writer.markDone(writer.live(), 'sent');
      if (how === 'compacted') await writer.compact();
      assert.deepEqual(fileTimes(writer.path).find(([k]) => k === 'done'), ['done', T0 + HOUR + 1000], 'the file holds the wall-clock time');
      await writer.close();

      // The next keeper starts a minute later; its clock is the wall clock's.
      const next = await open(new FakeClock(T0 + HOUR + 1000 + MINUTE), { retainDoneMs: 10 * MINUTE });
      // A copy another host fetched half a second before the row landed lacks it: the journal shows it.
      assert.deepEqual(next.rowsFor('Events', T0 + HOUR + 500).map((r) => r.cells[0]), ['e1'], 'kept a minute after it landed, and shown');
      assert.deepEqual(next.rowsFor('Events', T0 + HOUR + 1500), [], 'a copy fetched after it landed holds it');
      assert.equal(next.forgotAfter('Events', T0 + HOUR + 500), false);
      await next.close();
    });
  }

  it("a step during the writer's life after its records were written: its close writes them again at the wall clock's time", async () => {
    const writerClock = new SteppedClock(T0, 0);
    const writer = await open(writerClock);
    await writer.add('Events', [row('e1')], claim('k'));
    await writer.markSending(writer.live());
    await writer.markDone(writer.live(), 'sent');
    const path = writer.path;
    assert.deepEqual(fileTimes(path).find(([k]) => k === 'done'), ['done', T0]);
    writerClock.step(HOUR);
    await writer.close();
    assert.deepEqual(
      fileTimes(path).filter(([k]) => k !== 'send'),
      [['format', undefined], ['key', T0 + HOUR], ['add', T0 + HOUR], ['done', T0 + HOUR]],
      'rewritten: its format declaration (no time), the key, the entry and its done time on the wall clock now',
    );
    const next = await open(new FakeClock(T0 + HOUR + MINUTE), { retainDoneMs: 10 * MINUTE });
    assert.deepEqual(next.rowsFor('Events', T0 + HOUR - 1).map((r) => r.cells[0]), ['e1'], 'done a minute ago: kept');
    await next.close();
  });

  it('without a step the close leaves the file as it is (a rewrite is a whole copy of the journal)', async () => {
    const writerClock = new SteppedClock(T0, HOUR);
    const writer = await open(writerClock);
    await writer.add('Events', [row('e1')]);
    writerClock.step(500);
    const before = readFileSync(writer.path, 'utf8');
    const fsyncs = writer.fsyncs();
    await writer.close();
    assert.equal(writer.fsyncs(), fsyncs);
    assert.equal(readFileSync(writer.path, 'utf8'), before);
  });

  it('a done entry from before a step back is forgotten by its true age, not an hour later', async () => {
    const writer = await open(new SteppedClock(T0, -HOUR));
    await writer.add('Events', [row('e1')]);
    await writer.markSending(writer.live());
    await writer.markDone(writer.live(), 'sent');
    await writer.close();
    // 11 minutes later: past the retention of 10.
    const next = await open(new FakeClock(T0 - HOUR + 11 * MINUTE), { retainDoneMs: 10 * MINUTE });
    assert.deepEqual(next.rowsFor('Events', T0 - HOUR - 1), [], 'forgotten');
    await next.close();
  });

  for (const [step, kept] of [
    [2 * HOUR, true],
    [-2 * HOUR, false],
  ] as const) {
    it(`an idempotency key is held for its retention from its true time (the writer's clock ${step > 0 ? 'behind' : 'ahead of'} the wall clock by 2 h)`, async () => {
      const writer = await open(new SteppedClock(T0, step));
      // One key on a `key` record of its own, as a compaction writes it, one in its rows' add record.
      await writer.add('Events', [row('e1')], claim('own-record'));
      await writer.markSending(writer.live());
      await writer.markDone(writer.live(), 'sent');
      await writer.compact();
      await writer.add('Events', [row('e2')], claim('in-add'));
      assert.deepEqual(
        fileTimes(writer.path).filter(([k]) => k === 'key' || k === 'add'),
        [['key', T0 + step], ['add', T0 + step], ['add', T0 + step]],
        'their wall-clock times',
      );
      await writer.close();

      // 23 h after the requests for a step forward (inside the 24 h retention), 24 h and a
      // millisecond for a step back (past it).
      const next = await open(new FakeClock(T0 + step + (kept ? 23 * HOUR : 24 * HOUR + 1)), { idempotencyTtlMs: 24 * HOUR });
      for (const key of ['in-add', 'own-record']) {
        const retry = await next.add('Events', [row(`retry-${key}`)], claim(key));
        assert.equal(retry.replayed, kept ? claim(key).answer : undefined, key);
      }
      await next.close();
    });
  }
});
