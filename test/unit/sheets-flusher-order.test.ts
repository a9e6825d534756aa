// Review (rv-batch): the sheet's row order against the acknowledgement order after an append that
// Google certainly did not apply (429, 403, a refused 400: applied 'no').

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, it } from 'node:test';
import { SheetsError } from '../../src/sheets/errors.js';
import { Flusher } from '../../src/sheets/keeper/flusher.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { EVENTS_HEADER, eventRow } from '../fixtures/test-flusher.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function rig(random: () => number) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-order-'));
  const clock = new FakeClock();
  const backend = new FakeBackend({ Events: [EVENTS_HEADER] });
  const log = await captureLogger();
  const journal = (await Journal.open({ dir, destination: 'fake sheet', clock, unsureDelayMs: 1000 })).journal;
  const quota = (name: string) => new QuotaBucket({ name, perMinute: 10_000, maxQueue: 10, clock });
  // Math.random in the daemon: here a sequence, so that the batch's jitter and the range's differ.
  const flusher = new Flusher({ journal, backend, writeQuota: quota('writes'), readQuota: quota('reads'), logger: log.logger, intervalMs: 500, unsureDelayMs: 1000, clock, random });
  cleanups.push(async () => {
    flusher.close();
    await journal.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { clock, backend, journal, flusher };
}

it('after a 429 (not applied), rows acknowledged later do not land above the refused ones', async () => {
  // The batch's retry time draws its jitter first (0.9 s), the range's hold second (0.1 s).
  const draws = [0.9, 0.1];
  const { clock, backend, journal, flusher } = await rig(() => draws.shift() ?? 0);
  const appendValues = backend.appendValues.bind(backend);
  let refusals = 1;
  backend.appendValues = async (range, rows) => {
    if (refusals-- > 0) throw new SheetsError('CORRAL_ERR_SHEETS_QUOTA', 'fake: 429', { status: 429, reason: 'RESOURCE_EXHAUSTED', applied: 'no', retryable: true });
    return appendValues(range, rows);
  };
  const acked: string[] = [];
  for (let t = 0; t < 10_000; t += 500) {
    if (t % 1000 === 0) {
      const id = `a${t / 1000}`;
      await journal.add('Events', [eventRow(id)]);
      acked.push(id);
    }
    await flusher.flushOnce({ wait: true });
    await clock.advance(500);
  }
  assert.equal(journal.backlogRows(), 0);
  assert.deepEqual(backend.ids('Events').slice(1), acked, 'the sheet holds the rows in the order they were acknowledged');
});

it('a backlog over one batch, and a blip of a second in which Google cannot be reached (connection refused: not applied): the oldest rows do not land below the rest', async () => {
  // Math.random in the daemon; here each failure's batch draws 0.9 s of jitter, the tab's hold 0.1 s.
  let draw = 0;
  const { clock, backend, journal, flusher } = await rig(() => (draw++ % 2 === 0 ? 0.9 : 0.1));
  const appendValues = backend.appendValues.bind(backend);
  let down = true;
  backend.appendValues = async (range, rows) => {
    if (down) throw new SheetsError('CORRAL_ERR_SHEETS_UNAVAILABLE', 'fake: cannot reach: connect ECONNREFUSED, before the request was sent', { reason: 'NETWORK', applied: 'no', retryable: true });
    return appendValues(range, rows);
  };
  const acked: string[] = [];
  const journalRows = async (prefix: string, n: number) => {
    const rows = Array.from({ length: n }, (_, i) => eventRow(`${prefix}${i}`));
    await journal.add('Events', rows);
    acked.push(...rows.map((r) => r[0]!));
  };
  // Six appends of 1000 rows: more than one batch (5000 rows).
  for (let k = 0; k < 6; k++) await journalRows(`b${k}-`, 1000);
  // (After a minute of failures the backoff is at its 32 s cap, jitter included, and both agree.)
  for (let t = 0; t < 1000; t += 500) {
    await journalRows(`o${t}-`, 1);
    await flusher.flushOnce({ wait: true });
    await clock.advance(500);
  }
  down = false;
  for (let t = 0; t < 120_000; t += 500) {
    await flusher.flushOnce({ wait: true });
    await clock.advance(500);
  }
  assert.equal(journal.backlogRows(), 0);
  const ids = backend.ids('Events').slice(1);
  assert.equal(ids.length, acked.length);
  const firstOut = ids.indexOf('b0-0');
  assert.equal(firstOut, 0, `the oldest row landed at row ${firstOut + 2}, below ${firstOut} rows acknowledged after it`);
});
