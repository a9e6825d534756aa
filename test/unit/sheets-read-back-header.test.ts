// An unsure append read back while the tab's id column is not where the rows were written: a
// column inserted left of the ids (or the ids' column moved) between the append and its read-back.
// The read-back reads the range's first column: it must not conclude "absent" from a column that
// is no longer the ids' (the rows would be resent, and land twice once the header is put back).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { EVENTS_HEADER, eventRow, testFlusher } from '../fixtures/test-flusher.js';

it('an unsure append is not resent when its read-back found another column where the ids were', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-readback-header-'));
  const clock = new FakeClock();
  const backend = new FakeBackend({ Events: [EVENTS_HEADER] });
  const log = await captureLogger();
  const journal = (await Journal.open({ dir, destination: 'fake sheet', clock, unsureDelayMs: 1000 })).journal;
  const flusher = testFlusher(journal, backend, log.logger, clock, 500, {
    headerOf: async () => ({ header: backend.tabs.get('Events')![0]!, fetchedAt: clock.now() }),
  });
  try {
    await journal.add('Events', [eventRow('e1')], undefined, EVENTS_HEADER);
    backend.failAppends = 'lost-after';
    await flusher.flushOnce({ wait: true });
    backend.failAppends = 'none';
    assert.deepEqual(backend.ids('Events'), ['event_id', 'e1'], 'Google applied it; the answer was lost');
    // The organiser inserts a column left of A (a "done" checkbox column, say).
    backend.tabs.set('Events', backend.tabs.get('Events')!.map((r, i) => [i === 0 ? 'done' : '', ...r]));
    await clock.advance(60_000);
    await flusher.flushOnce({ wait: true });
    // ... and deletes it again once corral says its rows are held.
    backend.tabs.set('Events', backend.tabs.get('Events')!.map((r) => r.slice(1)));
    for (let i = 0; i < 10; i++) {
      await clock.advance(60_000);
      await flusher.flushOnce({ wait: true });
    }
    assert.deepEqual(backend.ids('Events').filter((id) => id === 'e1'), ['e1'], `e1 in the sheet once (tab: ${JSON.stringify(backend.ids('Events'))})`);
    assert.equal(journal.backlogRows(), 0, 'found by the read-back once the header named the ids again');
    assert.ok(log.lines().some((l) => l.event === 'sheets.append_failed' && l.code === 'CORRAL_ERR_APPEND_HEADER'), 'the put-off read-back is said');
  } finally {
    flusher.close();
    await journal.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
