// What a flush pass costs the keeper's loop while Google is away and the journal holds a large
// backlog (SHEETS_JOURNAL_MAX_MB, 256 MiB by default: about a million rows): the pass runs every
// SHEETS_FLUSH_INTERVAL_MS on the loop that serves every worker's cached reads. And what catching
// up that backlog costs once Google is back: the retention's trim at every batch done, and the
// rows each read shows. Counted as the entries looked at, not timed: a loaded CI box makes any
// time bound either loose or flaky.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SheetsError } from '../../src/sheets/errors.js';
import { Flusher } from '../../src/sheets/keeper/flusher.js';
import type { Journal, JournalEntry } from '../../src/sheets/keeper/journal.js';
import type { PendingRow } from '../../src/sheets/keeper/merge.js';
import { JournalEntries } from '../../src/sheets/keeper/journal-entries.js';
import { rangeKeyOf } from '../../src/sheets/keeper/journal-rows.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { EVENTS_HEADER, eventRow } from '../fixtures/test-flusher.js';

/**
 * The journal's entries in memory (journal-entries.ts) behind the calls a pass makes, no file.
 * `now`: the time entries are done at; `afterDone`: what Journal.markDone does next (its trim).
 */
function memoryJournal(table: JournalEntries, o: { now?: () => number; afterDone?: (batch: readonly JournalEntry[]) => void } = {}): Journal {
  const fake = {
    backlogRanges: () => table.backlogRanges(),
    dueUnsure: (range: string, now: number) => table.dueUnsure(range, now),
    duePending: (range: string, now: number) => table.duePending(range, now),
    markSending: async (batch: readonly JournalEntry[]) => {
      for (const e of batch) {
        e.state = 'sending';
        e.attempts++;
      }
    },
    markDone: async (batch: readonly JournalEntry[], _how: string) => {
      for (const e of batch) table.settle(e, o.now?.() ?? 0);
      o.afterDone?.(batch);
    },
    markFailed: async (batch: readonly JournalEntry[], applied: 'no' | 'maybe', retryAt: number) => {
      for (const e of batch) {
        table.setState(e, applied === 'no' ? 'pending' : 'unsure');
        e.nextAttemptAt = retryAt;
      }
    },
    postpone: (batch: readonly JournalEntry[], at: number) => {
      for (const e of batch) e.nextAttemptAt = at;
    },
    live: () => table.live(),
    backlogRows: () => table.backlogRows(),
    oldestBacklogAt: () => table.oldestBacklogAt(),
  };
  return fake as unknown as Journal;
}

/** `n` pending entries of one row for `range`, journaled at 0, 1, 2 ..., each behind a proxy that notes when a field of it is read. */
function countedEntries(range: string, n: number): { entries: JournalEntry[]; looked: Set<JournalEntry> } {
  const looked = new Set<JournalEntry>();
  const entries = Array.from({ length: n }, (_, i): JournalEntry => {
    const e: JournalEntry = { id: `${range}-${i}`, range, sheet: range, rangeKey: rangeKeyOf(range), rows: [eventRow(`${range}-r${i}`)], at: i, destination: 'fake sheet', state: 'pending', durable: true, attempts: 0, nextAttemptAt: 0, doneAt: undefined };
    return new Proxy(e, {
      get(target, key, receiver) {
        looked.add(target);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
  });
  return { entries, looked };
}

/**
 * A pending entry of the seeded walks: a random range, 1 to 3 rows, journaled up to 100 ms before
 * `now`, its add record written (durable) two times in three; with `header`, carried one time in two.
 */
function randomEntry(rand: (k: number) => number, id: string, ranges: readonly string[], now: number, header?: string[]): JournalEntry {
  const range = ranges[rand(ranges.length)]!;
  const rows = Array.from({ length: 1 + rand(3) }, (_, i) => [`${id}-${i}`, 'x']);
  const withHeader = header !== undefined && rand(2) > 0;
  return { id, range, sheet: range.split('!')[0]!, rangeKey: rangeKeyOf(range), rows, ...(withHeader ? { header } : {}), at: now - rand(100), destination: 'sheet', state: 'pending', durable: rand(3) > 0, attempts: 0, nextAttemptAt: 0, doneAt: undefined };
}

/** A reproducible draw in [0, k): the same seed makes the same run. */
function seededRandom(seed: number): (k: number) => number {
  let state = seed;
  return (k) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % k;
  };
}

describe('a flush pass during an outage', () => {
  it('while Google refuses a tab, the passes on its backoff look at none of its backlog, and the other tabs still go out', async () => {
    const n = 100_000;
    const table = new JournalEntries({ retainDoneMs: 600_000, retainDoneRows: 20_000, copyOlderThan: undefined });
    const events = countedEntries('Events', n);
    for (const e of events.entries) table.add(e);
    const clock = new FakeClock();
    const backend = new FakeBackend({ Events: [EVENTS_HEADER], Log: [EVENTS_HEADER] });
    // The Events tab refused (403, not applied) for as long as the outage lasts; Log takes rows.
    const appendValues = backend.appendValues.bind(backend);
    let refused = 0;
    backend.appendValues = async (range, rows) => {
      if (range.startsWith('Events')) {
        refused++;
        throw new SheetsError('CORRAL_ERR_SHEETS_FORBIDDEN', 'fake: 403', { status: 403, reason: 'PERMISSION_DENIED', applied: 'no', retryable: false });
      }
      return appendValues(range, rows);
    };
    const log = await captureLogger();
    const quota = (name: string) => new QuotaBucket({ name, perMinute: 10_000, maxQueue: 10, clock });
    const flusher = new Flusher({ journal: memoryJournal(table), backend, writeQuota: quota('writes'), readQuota: quota('reads'), logger: log.logger, intervalMs: 500, unsureDelayMs: 1000, clock, random: () => 0 });
    try {
      events.looked.clear();
      const first = await flusher.flushOnce({ wait: true }); // refused: the tab is held on its backoff
      assert.equal(first.failedCalls, 1);
      // Its first batch, and the entry after it (which did not fit): not the rest of the backlog.
      assert.equal(events.looked.size, 5001, `the pass that sent one batch looked at ${events.looked.size} entries`);
      await clock.advance(500);
      // The next passes (every SHEETS_FLUSH_INTERVAL_MS) find the tab held: they send nothing, and
      // look at none of its entries (they did: every entry, several times, at every pass).
      for (let k = 0; k < 3; k++) {
        // A row for another tab, which goes out meanwhile.
        table.add({ id: `Log-${k}`, range: 'Log', sheet: 'Log', rangeKey: rangeKeyOf('Log'), rows: [eventRow(`Log-r${k}`)], at: n + k, destination: 'fake sheet', state: 'pending', durable: true, attempts: 0, nextAttemptAt: 0, doneAt: undefined });
        events.looked.clear();
        const r = await flusher.flushOnce({ wait: true });
        assert.equal(r.sent, 1, 'the row for the other tab went out');
        assert.equal(events.looked.size, 0, `a pass while the tab was held looked at ${events.looked.size} of its entries`);
        assert.equal(table.backlogRows(), n);
        assert.equal(table.oldestBacklogAt(), 0);
      }
      assert.equal(refused, 1);
      assert.deepEqual(backend.ids('Log').slice(1), ['Log-r0', 'Log-r1', 'Log-r2']);
      // Once the backoff has passed, the tab is tried again, its oldest rows first, and the pass
      // looks at no more of its backlog than it sends.
      await clock.advance(5_000);
      events.looked.clear();
      await flusher.flushOnce({ wait: true });
      assert.equal(refused, 2);
      assert.equal(events.looked.size, 5001);
      assert.deepEqual(
        [...events.looked].slice(0, 3).map((e) => e.id),
        ['Events-0', 'Events-1', 'Events-2'],
      );
    } finally {
      flusher.close();
      log.close();
    }
  });
});

describe('the backlog kept as entries come and go', () => {
  interface Backlog {
    rows: number;
    oldest: number | undefined;
    /** Per range with any due: the ids due, those unsure, those pending, in journal order. */
    due: Array<[string, { all: string[]; unsure: string[]; pending: string[] }]>;
  }

  /** What the counts were: a walk over every entry, as the pass made before. */
  function walked(table: JournalEntries, now: number): Backlog {
    let rows = 0;
    let oldest: number | undefined;
    const due = new Map<string, { all: string[]; unsure: string[]; pending: string[] }>();
    for (const e of table.values()) {
      if (!e.durable || e.state === 'done') continue;
      rows += e.rows.length;
      if (oldest === undefined || e.at < oldest) oldest = e.at;
      if ((e.state !== 'pending' && e.state !== 'unsure') || e.nextAttemptAt > now) continue;
      const d = due.get(e.range) ?? { all: [], unsure: [], pending: [] };
      d.all.push(e.id);
      d[e.state].push(e.id);
      due.set(e.range, d);
    }
    return { rows, oldest, due: [...due].sort(([a], [b]) => a.localeCompare(b)) };
  }

  function kept(table: JournalEntries, now: number): Backlog {
    const all = table.due(now);
    const due = table.backlogRanges().flatMap((range): Backlog['due'] => {
      const ids = (list: Iterable<JournalEntry>): string[] => [...list].map((e) => e.id);
      const d = { all: ids(all.get(range) ?? []), unsure: ids(table.dueUnsure(range, now)), pending: ids(table.duePending(range, now)) };
      return d.all.length > 0 ? [[range, d]] : [];
    });
    return { rows: table.backlogRows(), oldest: table.oldestBacklogAt(), due: due.sort(([a], [b]) => a.localeCompare(b)) };
  }

  it('rows waiting, the oldest of them and the entries due (unsure, pending) match a walk over every entry, through adds, writes, sends, failures, read-backs, splits and restarts', async () => {
    // A fixed sequence of pseudo-random steps (a linear congruential generator): reproducible.
    const rand = seededRandom(12345);
    let table = new JournalEntries({ retainDoneMs: 1000, retainDoneRows: 50, copyOlderThan: undefined });
    const ranges = ['Events', 'Log', 'Events!A:C'];
    let now = 0;
    let next = 0;
    for (let step = 0; step < 4000; step++) {
      now += rand(50);
      const all = [...table.values()];
      const live = all.filter((e) => e.state !== 'done');
      const pick = live[rand(Math.max(1, live.length))];
      switch (rand(9)) {
        case 0:
        case 1: {
          // An append journaled (its add record written at once, or later: case 2).
          table.add(randomEntry(rand, `e${next++}`, ranges, now));
          break;
        }
        case 2:
          if (pick && !pick.durable) table.madeDurable(pick);
          break;
        case 3:
          // Sent and answered, or found by a read-back.
          if (pick?.durable) {
            table.settle(pick, now);
            table.trimDone(now);
          }
          break;
        case 4:
          // Failed (markFailed), or read back and found absent (markAbsent): unsure or pending, due later.
          if (pick?.durable && pick.state !== 'pending') {
            table.setState(pick, rand(2) ? 'unsure' : 'pending');
            pick.nextAttemptAt = now + rand(200);
          }
          break;
        case 5:
          // Sent (markSending), or back to pending as a send record that failed leaves it.
          if (pick?.durable && pick.state === 'pending') pick.state = 'sending';
          else if (pick?.state === 'sending') pick.state = 'pending';
          break;
        case 6:
          // A write that failed: forgotten before it was durable.
          if (pick && !pick.durable) table.forget(pick);
          break;
        case 7:
          // Split: found in part by a read-back, the missing rows a new entry.
          if (pick?.durable && pick.rows.length > 1) {
            table.settle(pick, now);
            table.add({ ...pick, id: `e${next++}`, rows: pick.rows.slice(1), state: 'pending', doneAt: undefined, attempts: 0, nextAttemptAt: 0 });
          }
          break;
        case 8:
          if (rand(40) === 0) {
            // A restart: the durable entries replayed.
            const replayed = new Map(all.filter((e) => e.durable).map((e) => [e.id, { ...e }]));
            table = new JournalEntries({ retainDoneMs: 1000, retainDoneRows: 50, copyOlderThan: undefined });
            await table.restore(replayed, now, now + 100, 'sheet');
          }
          break;
      }
      assert.deepEqual(kept(table, now), walked(table, now), `after step ${step}`);
    }
    assert.ok(next > 500, `${next} entries journaled`);
  });
});

describe('catching up a backlog once Google is back', () => {
  it("each batch done trims the retention, and a read merges its tab's rows, looking at the entries forgotten or shown, not at the backlog", async () => {
    const n = 40_000;
    const table = new JournalEntries({ retainDoneMs: 600_000, retainDoneRows: 20_000, copyOlderThan: undefined });
    const events = countedEntries('Events', n);
    const logs = countedEntries('Log', 3);
    for (const e of events.entries) table.add(e);
    // Rows of another tab that wait (on their range's backoff) while Events catches up.
    for (const e of logs.entries) {
      e.nextAttemptAt = Number.POSITIVE_INFINITY;
      table.add(e);
    }
    const looked = (): number => events.looked.size + logs.looked.size;
    const clear = (): void => {
      events.looked.clear();
      logs.looked.clear();
    };
    const clock = new FakeClock();
    const trims: Array<{ looked: number; forgotten: number }> = [];
    const reads: Array<{ tab: string; looked: number; shown: number }> = [];
    const journal = memoryJournal(table, {
      now: () => clock.now(),
      // What Journal.markDone does after its done record, then what reads of both tabs do meanwhile.
      afterDone: () => {
        const before = [...table.values()].length;
        clear();
        table.trimDone(clock.now());
        trims.push({ looked: looked(), forgotten: before - [...table.values()].length });
        for (const tab of ['Log', 'Events']) {
          clear();
          // A copy fetched after the batch: the rows not yet in Google are shown, none of the done ones.
          const shown = table.rowsFor(tab, clock.now() + 1).length;
          reads.push({ tab, looked: looked(), shown });
        }
      },
    });
    const backend = new FakeBackend({ Events: [EVENTS_HEADER], Log: [EVENTS_HEADER] });
    const log = await captureLogger();
    const quota = (name: string) => new QuotaBucket({ name, perMinute: 10_000, maxQueue: 10, clock });
    const flusher = new Flusher({ journal, backend, writeQuota: quota('writes'), readQuota: quota('reads'), logger: log.logger, intervalMs: 500, unsureDelayMs: 1000, clock, random: () => 0 });
    try {
      const r = await flusher.flushOnce({ wait: true });
      assert.equal(r.sent, n);
      // Past the 20,000 rows retained, each batch done forgets the oldest batch of done rows.
      assert.deepEqual(
        trims.map((t) => t.forgotten),
        [0, 0, 0, 0, 5000, 5000, 5000, 5000],
      );
      for (const [i, t] of trims.entries()) {
        // The entries forgotten, and the oldest one kept, which ends the trim (every entry of the table, before).
        assert.ok(t.looked <= t.forgotten + 1, `the trim after batch ${i + 1} looked at ${t.looked} entries to forget ${t.forgotten}`);
      }
      for (const [i, read] of reads.entries()) {
        // Its rows, and the newest done entry of the tab, older than the copy, which ends its look back.
        assert.ok(read.looked <= read.shown + 1, `a read of ${read.tab} after batch ${Math.floor(i / 2) + 1} looked at ${read.looked} entries to show ${read.shown} rows`);
      }
      assert.deepEqual(
        reads.filter((read) => read.tab === 'Log').map((read) => read.shown),
        Array.from({ length: 8 }, () => 3),
      );
      assert.deepEqual(
        reads.filter((read) => read.tab === 'Events').map((read) => read.shown),
        Array.from({ length: 8 }, (_, i) => n - 5000 * (i + 1)),
      );
    } finally {
      flusher.close();
      log.close();
    }
  });
});

describe('the done entries retained and the rows a read shows, as entries come and go', () => {
  interface Retained {
    readonly retainDoneMs: number;
    readonly retainDoneRows: number;
    readonly copyOlderThan: (sheet: string, doneAt: number) => boolean;
  }

  /**
   * The ids a trim forgets, by a walk over every entry: the done ones in the order they reached
   * Google (the same time: journal order), each forgotten when past its retention (the rows
   * retained over the cap, or older than its time) unless a copy from before it is served.
   * `byCap`: counts those forgotten only for the cap.
   */
  function walkedTrim(entries: readonly JournalEntry[], now: number, r: Retained, byCap = { n: 0 }): string[] {
    const done = entries.map((e, place) => ({ e, place })).filter(({ e }) => e.state === 'done');
    done.sort((a, b) => (a.e.doneAt ?? 0) - (b.e.doneAt ?? 0) || a.place - b.place);
    let rows = 0;
    for (const { e } of done) rows += e.rows.length;
    const forgotten: string[] = [];
    for (const { e } of done) {
      const old = (e.doneAt ?? 0) < now - r.retainDoneMs;
      if (!(old || rows > r.retainDoneRows) || r.copyOlderThan(e.sheet, e.doneAt ?? 0)) continue;
      if (!old) byCap.n++;
      forgotten.push(e.id);
      rows -= e.rows.length;
    }
    return forgotten.sort();
  }

  /** The rows a read of `sheet` shows, by a walk over every entry in journal order. */
  function walkedRows(entries: readonly JournalEntry[], sheet: string, fetchStartedAt: number): PendingRow[] {
    const out: PendingRow[] = [];
    for (const e of entries) {
      if (e.sheet !== sheet || !e.durable) continue;
      if (e.state === 'done' && (e.doneAt ?? 0) < fetchStartedAt) continue;
      for (const cells of e.rows) out.push(e.header ? { range: e.range, cells, header: e.header } : { range: e.range, cells });
    }
    return out;
  }

  it('trims forget the entries and reads show the rows a walk over every entry finds, through adds, sends, failures, splits, copies served and restarts', async () => {
    // A fixed sequence of pseudo-random steps (a linear congruential generator): reproducible.
    const rand = seededRandom(424242);
    /** Per tab, when the oldest copy of it still served was fetched. */
    const copies = new Map<string, number>();
    const retention: Retained = {
      retainDoneMs: 1000,
      retainDoneRows: 12,
      copyOlderThan: (sheet, doneAt) => (copies.get(sheet) ?? Number.POSITIVE_INFINITY) <= doneAt,
    };
    let table = new JournalEntries(retention);
    const ranges = ['Events', 'Log', 'Events!A:C', 'Players!B:C'];
    const sheets = ['Events', 'Log', 'Players'];
    const header = ['event_id', 'x'];
    let now = 0;
    let next = 0;
    let trims = 0;
    let forgotten = 0;
    const byCap = { n: 0 };
    let held = 0;
    for (let step = 0; step < 5000; step++) {
      now += rand(40);
      const all = [...table.values()];
      const live = all.filter((e) => e.state !== 'done');
      const pick = live[rand(Math.max(1, live.length))];
      switch (rand(10)) {
        case 0:
        case 1: {
          table.add(randomEntry(rand, `e${next++}`, ranges, now, header));
          break;
        }
        case 2:
          if (pick && !pick.durable) table.madeDurable(pick);
          break;
        case 3:
        case 4:
          // Sent and answered (Journal.markDone: done, then the trim).
          if (pick?.durable) {
            table.settle(pick, now);
            const expected = walkedTrim([...table.values()], now, retention, byCap);
            table.trimDone(now);
            const left = new Set([...table.values()].map((e) => e.id));
            assert.deepEqual(
              all.filter((e) => !left.has(e.id)).map((e) => e.id).sort(),
              expected,
              `the trim at step ${step}`,
            );
            trims++;
            forgotten += expected.length;
          }
          break;
        case 5:
          if (pick?.durable && pick.state !== 'pending') {
            table.setState(pick, rand(2) ? 'unsure' : 'pending');
            pick.nextAttemptAt = now + rand(200);
          } else if (pick?.durable && pick.state === 'pending') pick.state = 'sending';
          break;
        case 6:
          if (pick && !pick.durable) table.forget(pick);
          break;
        case 7:
          // Split: found in part by a read-back, the missing rows a new entry.
          if (pick?.durable && pick.rows.length > 1) {
            table.settle(pick, now);
            table.add({ ...pick, id: `e${next++}`, rows: pick.rows.slice(1), state: 'pending', doneAt: undefined, attempts: 0, nextAttemptAt: 0 });
          }
          break;
        case 8: {
          // A copy of a tab fetched now and served for a while, or one no longer served.
          const sheet = sheets[rand(sheets.length)]!;
          if (copies.has(sheet) || rand(3) === 0) copies.delete(sheet);
          else {
            copies.set(sheet, now - rand(300));
            held++;
          }
          break;
        }
        case 9:
          if (rand(30) === 0) {
            // A restart: the durable entries replayed, the trim at open.
            const replayed = new Map(all.filter((e) => e.durable).map((e) => [e.id, { ...e }]));
            const expected = walkedTrim([...replayed.values()], now, retention);
            table = new JournalEntries(retention);
            await table.restore(replayed, now, now + 100, 'sheet');
            const left = new Set([...table.values()].map((e) => e.id));
            assert.deepEqual(
              [...replayed.keys()].filter((id) => !left.has(id)).sort(),
              expected,
              `the trim at the restart at step ${step}`,
            );
          }
          break;
      }
      // A read of one tab, by a copy fetched before every entry, a while ago, or after them all.
      const entries = [...table.values()];
      const sheet = sheets[rand(sheets.length)]!;
      for (const t of [Number.NEGATIVE_INFINITY, now - rand(1500), now + 1]) {
        assert.deepEqual(table.rowsFor(sheet, t), walkedRows(entries, sheet, t), `a read of ${sheet} fetched at ${t}, after step ${step}`);
      }
    }
    assert.ok(next > 500, `${next} entries journaled`);
    assert.ok(trims > 500 && forgotten > 300 && byCap.n > 100 && held > 50, `${trims} trims forgot ${forgotten} entries (${byCap.n} for the cap), ${held} copies served`);
  });
});
