import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Flusher } from '../../src/sheets/keeper/flusher.js';
import type { Journal, JournalEntry } from '../../src/sheets/keeper/journal.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { EVENTS_HEADER, eventRow } from '../fixtures/test-flusher.js';

/** The parts of a journal a pass uses, holding `entries` pending for Events, nothing written to disk. */
function backlogJournal(entries: JournalEntry[]): Journal {
  const live = () => entries.filter((e) => e.state !== 'done');
  const fake = {
    backlogRanges: () => ['Events'],
    dueUnsure: () => [],
    duePending: () => live()[Symbol.iterator](),
    markSending: async (batch: readonly JournalEntry[]) => {
      for (const e of batch) e.state = 'sending';
    },
    markDone: async (batch: readonly JournalEntry[]) => {
      for (const e of batch) e.state = 'done';
    },
    markFailed: async () => undefined,
    postpone: () => undefined,
    live,
    backlogRows: () => live().length,
    oldestBacklogAt: () => undefined,
  };
  return fake as unknown as Journal;
}

describe('flush batches', () => {
  it('a backlog of 50k entries (an outage caught up) goes out in batches of 5000, in order, without taking them off the backlog one by one', async () => {
    const n = 50_000;
    const entries: JournalEntry[] = Array.from({ length: n }, (_, i) => ({
      id: `e${i}`,
      range: 'Events',
      sheet: 'Events',
      rangeKey: 'events!',
      rows: [eventRow(`r${i}`)],
      at: 0,
      destination: 'fake sheet',
      state: 'pending',
      durable: true,
      attempts: 0,
      nextAttemptAt: 0,
      doneAt: undefined,
    }));
    const clock = new FakeClock();
    const backend = new FakeBackend({ Events: [EVENTS_HEADER] });
    const log = await captureLogger();
    const quota = (name: string) => new QuotaBucket({ name, perMinute: 100_000, maxQueue: 10, clock });
    const flusher = new Flusher({ journal: backlogJournal(entries), backend, writeQuota: quota('writes'), readQuota: quota('reads'), logger: log.logger, intervalMs: 500, clock, random: () => 0 });
    // Counted: a batch taken by shift() (a copy of the whole backlog per row taken), rather than
    // caught by how long the pass takes. Short arrays (queues) are not counted.
    const shift = Array.prototype.shift;
    let backlogShifts = 0;
    const counting = function (this: unknown[]): unknown {
      if (this.length > 10_000) backlogShifts++;
      return shift.call(this);
    };
    Object.defineProperty(Array.prototype, 'shift', { value: counting, writable: true, configurable: true });
    try {
      const r = await flusher.flushOnce({ wait: true });
      Object.defineProperty(Array.prototype, 'shift', { value: shift, writable: true, configurable: true });
      assert.equal(backlogShifts, 0, 'entries shift()ed off the backlog one by one');
      assert.equal(r.sent, n);
      assert.equal(backend.count('append'), n / 5000);
      const ids = backend.ids('Events').slice(1);
      assert.equal(ids.length, n);
      assert.ok(ids.every((id, i) => id === `r${i}`), 'in the order they were journaled');
    } finally {
      Object.defineProperty(Array.prototype, 'shift', { value: shift, writable: true, configurable: true });
      flusher.close();
      log.close();
    }
  });
});
