// What the journal tells the read tier about copies from other hosts (REDIS_URL): whether rows of
// a tab that reached Google after a copy began may already be forgotten, so the copy would lack
// rows no read could then show.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JournalEntries } from '../../src/sheets/keeper/journal-entries.js';
import type { JournalEntry } from '../../src/sheets/keeper/journal-replay.js';
import { rangeKeyOf } from '../../src/sheets/keeper/journal-rows.js';

const MINUTE = 60_000;

function entry(id: string, sheet: string, at: number): JournalEntry {
  return { id, range: sheet, sheet, rangeKey: rangeKeyOf(sheet), rows: [[`ev-${id}`, 'P001', 'goal']], at, destination: 'the sheet', state: 'pending', durable: true, attempts: 0, nextAttemptAt: 0, doneAt: undefined };
}

test('forgotAfter: true from a copy older than the latest forgotten done entry of its tab, or than the retention at start', async () => {
  const start = 100 * MINUTE;
  const table = new JournalEntries({ retainDoneMs: 10 * MINUTE, retainDoneRows: 1000, copyOlderThan: undefined });
  await table.restore(new Map(), start, start, 'the sheet');
  // Before anything was forgotten here: what a previous keeper may have forgotten is bounded by the retention.
  assert.equal(table.forgotAfter('Events', start - 10 * MINUTE - 1), true);
  assert.equal(table.forgotAfter('Events', start - 10 * MINUTE + 1), false);

  const landed = entry('a', 'Events', start + 1000);
  table.add(landed);
  table.settle(landed, start + 2000);
  assert.equal(table.forgotAfter('Events', start + 1500), false, 'kept: a copy begun before it reached Google is completed by the journal');
  table.trimDone(start + 2000 + 10 * MINUTE + 1);
  assert.equal(table.forgotAfter('Events', start + 1500), true, 'forgotten: a copy begun before it landed would lack it');
  assert.equal(table.forgotAfter('Events', start + 2500), false, 'a copy begun after it landed holds it');
  assert.equal(table.forgotAfter('Players', start + 1500), false, 'another tab');

  const pending = entry('b', 'Players', start + 3000);
  table.add(pending);
  table.forget(pending); // a refused append: never reached Google
  assert.equal(table.forgotAfter('Players', start + 1500), false, 'an entry that never reached Google is no forgotten row');
});
