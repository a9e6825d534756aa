// A spreadsheet at Google's 10 million cell limit refuses every append with a 400, whatever its rows.
// The flusher once took that 400 for a row it should isolate and sent each batch again at once in
// halves, each refused too, at every retry; and logged it as a bad range. Now the rows wait in the
// journal, one append per retry on the range's backoff, and the log names the cause and its code.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { mapApiError } from '../../src/sheets/google/error-map.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import type { CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { openFlusherRig, type FlusherRig } from '../fixtures/test-flusher.js';


/** Google's answer, as the client maps it (UoaWDCC/uasc-web#833). */
function workbookFull() {
  const body = { error: { code: 400, message: 'This action would increase the number of cells in the workbook above the limit of 10000000 cells.', status: 'INVALID_ARGUMENT' } };
  return mapApiError(
    { status: 400, headers: {}, body: Buffer.from(JSON.stringify(body)) },
    { operation: 'values.append', spreadsheetId: 'sheet1', ranges: ['Events'], auth: { kind: 'service-account', clientEmail: 'bot@x', source: 'GOOGLE_APPLICATION_CREDENTIALS=/k.json' }, write: true, host: 'sheets.googleapis.com' },
  );
}

describe('flusher: a spreadsheet at the 10 million cell limit', () => {
  let rig: FlusherRig;
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let journal: Journal;
  let full: boolean;
  /** The time of each refused append, and the rows it carried. */
  let refused: Array<{ at: number; rows: number }>;

  beforeEach(async () => {
    rig = await openFlusherRig('corral-flusher-full-');
    ({ clock, backend, log, journal } = rig);
    full = true;
    refused = [];
    const appendValues = backend.appendValues.bind(backend);
    backend.appendValues = async (range, rows) => {
      if (!full) return appendValues(range, rows);
      backend.calls.push({ op: 'append', range, rows: rows.length });
      refused.push({ at: clock.now(), rows: rows.length });
      throw workbookFull();
    };
  });
  afterEach(() => rig.close());

  const traffic = (ms: number, prefix: string) => rig.traffic(ms, prefix);

  it('sends no halves: one append per retry, on the backoff, with every row kept; all rows go out once cells are freed', async () => {
    await traffic(10 * 60_000, 'e');
    const times = refused.map((r) => r.at);
    assert.equal(new Set(times).size, times.length, `no append sent again at once in halves (${refused.length} appends at ${new Set(times).size} times)`);
    assert.ok(refused.length >= 10 && refused.length <= 30, `${refused.length} appends in 10 minutes: retried on the backoff (1, 2, 4 ... 32 s)`);
    assert.equal(journal.backlogRows(), 600, 'every acknowledged row is kept');
    assert.deepEqual(log.lines().filter((l) => l.event === 'sheets.append_refused_alone'), []);

    full = false;
    await traffic(40_000, 'late');
    assert.equal(journal.backlogRows(), 0);
    const ids = backend.ids('Events').slice(1);
    assert.equal(ids.length, 640);
    assert.equal(new Set(ids).size, 640, 'each row once');
  });

  it('says so at error level with CORRAL_ERR_SHEETS_WORKBOOK_FULL and what to do, then once a minute, and once when appends go through again', async () => {
    await traffic(10 * 60_000, 'e');
    const failed = log.lines().filter((l) => l.event === 'sheets.append_failed');
    assert.ok(failed.length >= 1 && failed.length <= 11, `${failed.length} sheets.append_failed lines in 10 minutes`);
    const first = failed[0]!;
    assert.equal(first.level, 'error');
    assert.equal(first.code, 'CORRAL_ERR_SHEETS_WORKBOOK_FULL');
    assert.equal((first.err as { code?: string }).code, 'CORRAL_ERR_SHEETS_WORKBOOK_FULL');
    assert.equal(first.range, 'Events');
    assert.equal(
      first.msg,
      "sheets: Google refuses appends to Events: the spreadsheet is at Google's limit of 10 million cells; the rows stay in the journal and are tried again on the backoff until cells are freed (delete, not only clear, unused rows, columns and tabs, or move old events to another spreadsheet)",
    );
    assert.doesNotMatch(JSON.stringify(failed), /BAD_RANGE/);
    full = false;
    await traffic(40_000, 'late');
    assert.equal(log.lines().filter((l) => l.event === 'sheets.append_recovered').length, 1);
  });
});
