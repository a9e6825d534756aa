// A batch too large to reach Google within SHEETS_TIMEOUT (a slow uplink: 8 MiB in 10 s takes
// 6.7 Mbit/s) times out before Google has it, every time it is sent at that size: the tab's
// batches are made smaller until they go through (flush-batch-limits.ts).

import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import { SheetsError } from '../../src/sheets/errors.js';
import { FULL_BATCH } from '../../src/sheets/keeper/flush-batch.js';
import { BatchLimits, SIZE_MATTERS_BYTES, SMALLER_FOR_MS } from '../../src/sheets/keeper/flush-batch-limits.js';
import { Flusher } from '../../src/sheets/keeper/flusher.js';
import type { JournalEntry } from '../../src/sheets/keeper/journal.js';
import { rangeKeyOf } from '../../src/sheets/keeper/journal-rows.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { eventRow, openFlusherRig, type FlusherRig } from '../fixtures/test-flusher.js';

let rig: FlusherRig;
beforeEach(async () => {
  rig = await openFlusherRig('corral-slow-link-');
});
afterEach(() => rig.close());

/** Appends whose rows' JSON is over `carried` bytes time out after being sent in part: Google has nothing. */
function slowLink(carried: number): void {
  const { backend } = rig;
  const appendValues = backend.appendValues.bind(backend);
  backend.appendValues = async (range, rows) => {
    const bytes = Buffer.byteLength(JSON.stringify(rows));
    if (bytes > carried) {
      backend.calls.push({ op: 'append', range, rows: rows.length, bytes });
      throw new SheetsError('CORRAL_ERR_SHEETS_TIMEOUT', 'fake: values.append did not answer within SHEETS_TIMEOUT (after the request was sent)', { reason: 'TIMEOUT', applied: 'maybe', retryable: true });
    }
    return appendValues(range, rows);
  };
}

/** Ten events with long details (40,000 characters: within Google's 50,000 a cell), 400 KB in all. */
async function longEvents(prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const row = eventRow(`${prefix}${i}`);
    row[3] = 'x'.repeat(40_000);
    await rig.journal.add('Events', [row]);
    ids.push(row[0]!);
  }
  return ids;
}

async function flushFor(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 500) {
    await rig.flusher.flushOnce({ wait: true });
    await rig.clock.advance(500);
  }
}

it('a batch the link cannot carry within SHEETS_TIMEOUT does not hold the tab\'s rows back for good', async () => {
  const { backend, journal, log } = rig;
  // What the link carries before the deadline: a body larger than this is still being written
  // when it passes (the request was sent in part: outcome unknown, and Google has nothing).
  slowLink(256 * 1024);
  const ids = await longEvents('long');
  await flushFor(10 * 60_000);
  const appends = backend.calls.filter((c) => c.op === 'append');
  assert.equal(journal.backlogRows(), 0, `${journal.backlogRows()} rows still journaled after 10 minutes and ${appends.length} appends of ${appends.map((c) => c.rows).join(', ')} rows`);
  // In the order they were acknowledged, each once.
  assert.deepEqual(backend.tabs.get('Events')!.slice(1).map((r) => r[0]), ids);
  // The whole batch timed out once; then halves of it went through.
  assert.deepEqual(appends.map((c) => c.rows), [10, 5, 5]);
  const said = log.lines().filter((l) => l.event === 'sheets.batch_smaller');
  assert.equal(said.length, 1);
  assert.equal(said[0]!.range, 'Events');
  assert.equal(said[0]!.rows, 10);
  assert.equal(said[0]!.maxRows, 5);
});

it('batches halve again at each read-back that finds them absent, down to one append, said once', async () => {
  const { backend, journal, log } = rig;
  // Only one 40 KB event at a time gets through.
  slowLink(60 * 1024);
  const ids = await longEvents('slow');
  await flushFor(10 * 60_000);
  assert.equal(journal.backlogRows(), 0);
  assert.deepEqual(backend.tabs.get('Events')!.slice(1).map((r) => r[0]), ids);
  const appends = backend.calls.filter((c) => c.op === 'append').map((c) => c.rows);
  // 10 → 5 → 2 → 1: three timeouts, then one event per append.
  assert.deepEqual(appends, [10, 5, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.equal(log.lines().filter((l) => l.event === 'sheets.batch_smaller').length, 1);
});

it('an unsure append Google applied late is found by its read-back, and the batches keep their size', async () => {
  const { backend, journal, log } = rig;
  // Applied, then the answer was lost: the read-back finds the rows.
  backend.failAppends = 'lost-after';
  await longEvents('late');
  await rig.flusher.flushOnce({ wait: true });
  backend.failAppends = 'none';
  await flushFor(5_000);
  assert.equal(journal.backlogRows(), 0);
  await longEvents('next');
  await flushFor(1_000);
  assert.equal(journal.backlogRows(), 0);
  const appends = backend.calls.filter((c) => c.op === 'append').map((c) => c.rows);
  assert.deepEqual(appends, [10, 10]);
  assert.equal(log.lines().filter((l) => l.event === 'sheets.batch_smaller').length, 0);
});

it('smaller batches grow back, doubling with each append that goes through, once SMALLER_FOR_MS has passed since the last halving', () => {
  let now = 0;
  const limits = new BatchLimits(rig.log.logger, () => now);
  const entry = (id: string, range = 'Events'): JournalEntry => ({ id, range, sheet: range, rangeKey: rangeKeyOf(range), rows: [eventRow(id)], at: 0, destination: 'fake sheet', state: 'unsure', durable: true, attempts: 1, nextAttemptAt: 0, doneAt: undefined });
  assert.equal(limits.of('Events'), FULL_BATCH);
  const big = [entry('a'), entry('b')];
  limits.endedUnsure(big, 4000, 6_000_000);
  limits.readBack('Events', big);
  assert.deepEqual(limits.of('Events'), { rows: 2000, bytes: 3_000_000 });
  // Absent again, with no unsure append of this keeper's since: the size is not known, nothing changes.
  limits.readBack('Events', big);
  limits.readBack('Events', [entry('replayed')]);
  assert.deepEqual(limits.of('Events'), { rows: 2000, bytes: 3_000_000 });
  // Appends going through before SMALLER_FOR_MS do not grow it back to a size that just timed out.
  now = SMALLER_FOR_MS - 1;
  limits.succeeded('Events');
  assert.deepEqual(limits.of('Events'), { rows: 2000, bytes: 3_000_000 });
  now = SMALLER_FOR_MS;
  limits.succeeded('Events');
  assert.deepEqual(limits.of('Events'), { rows: 4000, bytes: 6_000_000 });
  limits.succeeded('Events');
  assert.equal(limits.of('Events'), FULL_BATCH);
  assert.equal(rig.log.lines().filter((l) => l.event === 'sheets.batch_smaller').length, 1);
  // An append any link carries in time that was not applied (a 5xx) says nothing of the size.
  const small = [entry('s', 'Log')];
  limits.endedUnsure(small, 2, SIZE_MATTERS_BYTES - 1);
  limits.readBack('Log', small);
  assert.equal(limits.of('Log'), FULL_BATCH);
});

it("a read-back that finds one unsure append applied late does not wipe out the size of another that ended unsure meanwhile and is absent", async () => {
  const { backend, journal, log, clock } = rig;
  // SHEETS_UNSURE_DELAY longer than the range's hold (the default is 60 s): the tab's next batch
  // goes out, and ends unsure, before the first one is read back.
  rig.flusher.close();
  const flusher = testFlusherWith(10_000);
  try {
    const appendValues = backend.appendValues.bind(backend);
    let call = 0;
    backend.appendValues = async (range, rows) => {
      call++;
      const bytes = Buffer.byteLength(JSON.stringify(rows));
      if (call === 1) {
        // The first batch: its upload made it, Google applied it, the answer came too late.
        await appendValues(range, rows);
        throw new SheetsError('CORRAL_ERR_SHEETS_TIMEOUT', 'fake: applied, answer lost', { reason: 'TIMEOUT', applied: 'maybe', retryable: true });
      }
      if (bytes > 256 * 1024) {
        backend.calls.push({ op: 'append', range, rows: rows.length, bytes });
        throw new SheetsError('CORRAL_ERR_SHEETS_TIMEOUT', 'fake: values.append did not answer within SHEETS_TIMEOUT (after the request was sent)', { reason: 'TIMEOUT', applied: 'maybe', retryable: true });
      }
      return appendValues(range, rows);
    };
    const first = await longEvents('a');
    await flusher.flushOnce({ wait: true });
    const second = await longEvents('b');
    for (let t = 0; t < 5 * 60_000; t += 500) {
      await flusher.flushOnce({ wait: true });
      await clock.advance(500);
    }
    assert.equal(journal.backlogRows(), 0);
    assert.deepEqual(backend.tabs.get('Events')!.slice(1).map((r) => r[0]), [...first, ...second]);
    // The second batch, found absent by its own read-back, is halved then: not sent whole once more.
    assert.deepEqual(backend.calls.filter((c) => c.op === 'append').map((c) => c.rows), [10, 10, 5, 5]);
    assert.equal(log.lines().filter((l) => l.event === 'sheets.batch_smaller').length, 1);
  } finally {
    flusher.close();
  }
});

it('an append Google applied late, read back with a small one it did not apply, makes no batch smaller', async () => {
  const { backend, journal, log, clock } = rig;
  rig.flusher.close();
  const flusher = testFlusherWith(10_000);
  try {
    const appendValues = backend.appendValues.bind(backend);
    let call = 0;
    backend.appendValues = async (range, rows) => {
      call++;
      if (call === 1) {
        // A large batch applied, its answer lost.
        await appendValues(range, rows);
        throw new SheetsError('CORRAL_ERR_SHEETS_TIMEOUT', 'fake: applied, answer lost', { reason: 'TIMEOUT', applied: 'maybe', retryable: true });
      }
      if (call === 2) {
        // A small one refused by a 503: not applied, outcome unknown to corral.
        backend.calls.push({ op: 'append', range, rows: rows.length, bytes: 0 });
        throw new SheetsError('CORRAL_ERR_SHEETS_UNAVAILABLE', 'fake: 503', { status: 503, reason: 'UNAVAILABLE', applied: 'maybe', retryable: true });
      }
      return appendValues(range, rows);
    };
    await longEvents('a');
    await flusher.flushOnce({ wait: true });
    await journal.add('Events', [eventRow('small')]);
    await clock.advance(1000);
    await flusher.flushOnce({ wait: true });
    // Both due for their read-back by the next pass: read back together.
    await clock.advance(11_000);
    for (let t = 0; t < 60_000; t += 500) {
      await flusher.flushOnce({ wait: true });
      await clock.advance(500);
    }
    assert.equal(journal.backlogRows(), 0);
    // Then a large batch again: sent whole.
    await longEvents('c');
    for (let t = 0; t < 2_000; t += 500) {
      await flusher.flushOnce({ wait: true });
      await clock.advance(500);
    }
    assert.equal(journal.backlogRows(), 0);
    assert.deepEqual(backend.calls.filter((c) => c.op === 'append').map((c) => c.rows), [10, 1, 1, 10]);
    assert.equal(log.lines().filter((l) => l.event === 'sheets.batch_smaller').length, 0);
  } finally {
    flusher.close();
  }
});

/** The rig's flusher with another SHEETS_UNSURE_DELAY. */
function testFlusherWith(unsureDelayMs: number): Flusher {
  const quota = (name: string) => new QuotaBucket({ name, perMinute: 10_000, maxQueue: 10, clock: rig.clock });
  return new Flusher({ journal: rig.journal, backend: rig.backend, writeQuota: quota('writes'), readQuota: quota('reads'), logger: rig.log.logger, intervalMs: 500, unsureDelayMs, clock: rig.clock, random: () => 0 });
}
