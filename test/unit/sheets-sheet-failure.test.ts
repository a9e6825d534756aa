// A failure of the whole sheet (404 spreadsheet not found, 403 not shared, the key refused) is held
// host-wide by the read tier: reads of ranges with no copy get its error at once, without a call;
// ranges with a copy keep serving it; one call tries the sheet again on a backoff growing to 60 s.
// Errors of one range (400) stay with that range.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ValueRange } from '../../src/sheets/backend.js';
import { SheetsError } from '../../src/sheets/errors.js';
import { mapApiError } from '../../src/sheets/google/error-map.js';
import { ReadTier } from '../../src/sheets/keeper/read-tier.js';
import { sheetRetryMs } from '../../src/sheets/keeper/sheet-failure.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';

const TTL = 5000;
const ROWS = [['name'], ['Alice']];

function notFound(): SheetsError {
  return new SheetsError('CORRAL_ERR_SHEETS_NOT_FOUND', 'spreadsheet s1 was not found: check SHEET_ID (Google said: Requested entity was not found.)', { status: 404, reason: 'NOT_FOUND', applied: 'no', retryable: false });
}

/** The fake backend, with every read failing with `readError` while it is set. */
class FailingBackend extends FakeBackend {
  readError: SheetsError | undefined;
  override async getValues(range: string): Promise<ValueRange> {
    if (this.readError) {
      this.calls.push({ op: 'get', range });
      throw this.readError;
    }
    return super.getValues(range);
  }
}

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'answered',
    (err: { code?: string }) => err.code ?? String(err),
  );
}

describe('read tier: a failure of the whole sheet', () => {
  let clock: FakeClock;
  let backend: FailingBackend;
  let log: CapturedLogger;
  let tier: ReadTier;
  const tabs: Record<string, string[][]> = {};
  for (let i = 0; i < 32; i++) tabs[`T${i}`] = ROWS;

  beforeEach(async () => {
    clock = new FakeClock();
    backend = new FailingBackend(tabs);
    log = await captureLogger();
    tier = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: 600_000, maxBytes: 1 << 20, clock });
  });
  afterEach(() => {
    tier.close();
    log.close();
  });

  it('a missing spreadsheet: 32 ranges read every second for 25 s make 3 calls, not one per range and backoff; a cached range keeps serving', async () => {
    await tier.get('T0!A:B');
    backend.readError = notFound();
    await clock.advance(TTL);
    const before = backend.count('get');
    for (let s = 0; s < 25; s++) {
      for (let i = 1; i < 32; i++) assert.equal(await code(tier.get(`T${i}!A:B`)), 'CORRAL_ERR_SHEETS_NOT_FOUND');
      // The range with a copy is served it, stale, while the sheet fails.
      const cached = await tier.get('T0!A:B');
      assert.deepEqual(cached.value.values, ROWS);
      await clock.advance(1000);
    }
    const calls = backend.count('get') - before;
    // The first read's call, then one try at 5 s and one at 15 s (5, 10, 20 ... 60 s apart).
    assert.ok(calls <= 4, `${calls} upstream calls in 25 s for 32 ranges`);
    assert.deepEqual([sheetRetryMs(1), sheetRetryMs(2), sheetRetryMs(5), sheetRetryMs(9)], [5000, 10_000, 60_000, 60_000]);
    // The 503 tells the client when the sheet is tried again.
    assert.ok((tier.retryIn('T7!A:B') ?? 0) > 0);
    const lines = log.lines().filter((l) => l.event === 'sheets.sheet_unavailable');
    assert.equal(lines.length, 1, 'said once (then at most once a minute, with the count)');
    assert.equal(lines[0]?.level, 'error');
    assert.match(String(lines[0]?.msg), /check SHEET_ID.*reads of ranges with no cached copy fail at once without calling Google/);

    // Fixed (SHEET_ID shared again): the next try succeeds, and every range reads as usual.
    backend.readError = undefined;
    await clock.advance(60_000);
    assert.deepEqual((await tier.get('T5!A:B')).value.values, ROWS);
    assert.deepEqual((await tier.get('T6!A:B')).value.values, ROWS);
    assert.equal(log.lines().filter((l) => l.event === 'sheets.sheet_available').length, 1);
  });

  it('calls already on their way when the sheet fails are one failure: the sheet is tried again 5 s later, as logged, not 10', async () => {
    backend.readError = notFound();
    // Asked in one turn: each call goes out before the first failure comes back.
    const cold = [tier.get('T1!A:B'), tier.get('T2!A:B'), tier.get('T3!A:B')].map(code);
    assert.deepEqual(await Promise.all(cold), ['CORRAL_ERR_SHEETS_NOT_FOUND', 'CORRAL_ERR_SHEETS_NOT_FOUND', 'CORRAL_ERR_SHEETS_NOT_FOUND']);
    assert.equal(backend.count('get'), 3, 'three cold ranges, three calls on their way together');
    const said = log.lines().filter((l) => l.event === 'sheets.sheet_unavailable');
    assert.deepEqual(said.map((l) => [l.failures, l.retryInS]), [[1, 5]]);
    await clock.advance(4900);
    assert.equal(await code(tier.get('T4!A:B')), 'CORRAL_ERR_SHEETS_NOT_FOUND');
    assert.equal(backend.count('get'), 3, 'held before 5 s');
    await clock.advance(100);
    assert.equal(await code(tier.get('T4!A:B')), 'CORRAL_ERR_SHEETS_NOT_FOUND');
    assert.equal(backend.count('get'), 4, 'tried again at 5 s');
  });

  it('the key refused (invalid_grant) and a sheet not shared (403) are held the same way', async () => {
    for (const err of [
      new SheetsError('CORRAL_ERR_SHEETS_AUTH', 'Google refused the service-account key (invalid_grant)', { status: 400, reason: 'invalid_grant', applied: 'no', retryable: false }),
      new SheetsError('CORRAL_ERR_SHEETS_FORBIDDEN', 'the sheet is not shared with bot@x', { status: 403, reason: 'PERMISSION_DENIED', applied: 'no', retryable: false }),
    ]) {
      const own = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: 600_000, maxBytes: 1 << 20, clock });
      backend.readError = err;
      const before = backend.count('get');
      for (let i = 0; i < 32; i++) assert.equal(await code(own.get(`T${i}!A:B`)), err.code);
      assert.equal(backend.count('get') - before, 1, `${err.code}: one call for 32 ranges`);
      own.close();
    }
  });

  it('a document that is no Google Sheet (an .xlsx in Drive: 400 FAILED_PRECONDITION) is held like the whole sheet, not like a bad range', async () => {
    // googleworkspace/php-samples#65: what Google answers every values call on such a file.
    const message = 'This operation is not supported for this document';
    const body = { error: { code: 400, message, errors: [{ message, domain: 'global', reason: 'failedPrecondition' }], status: 'FAILED_PRECONDITION' } };
    backend.readError = mapApiError(
      { status: 400, headers: {}, body: Buffer.from(JSON.stringify(body)) },
      { operation: 'values.get', spreadsheetId: 's1', ranges: ['T0!A:B'], auth: { kind: 'service-account', clientEmail: 'bot@x', source: 'GOOGLE_APPLICATION_CREDENTIALS=/k.json' }, write: false, host: 'sheets.googleapis.com' },
    );
    for (let i = 0; i < 32; i++) assert.equal(await code(tier.get(`T${i}!A:B`)), 'CORRAL_ERR_SHEETS_NOT_A_SHEET');
    assert.equal(backend.count('get'), 1, 'one call for 32 ranges');
    const said = log.lines().filter((l) => l.event === 'sheets.sheet_unavailable');
    assert.equal(said.length, 1);
    assert.equal(said[0]!.code, 'CORRAL_ERR_SHEETS_NOT_A_SHEET');
    assert.match(String(said[0]!.msg), /File > Save as Google Sheets/);
  });

  it('a tab that does not exist (400) stays with its range: the other ranges are read', async () => {
    assert.equal(await code(tier.get('Nope!A1')), 'CORRAL_ERR_SHEETS_BAD_RANGE');
    for (let i = 0; i < 5; i++) assert.deepEqual((await tier.get(`T${i}!A:B`)).value.values, ROWS);
    assert.equal(log.lines().filter((l) => l.event === 'sheets.sheet_unavailable').length, 0);
  });
});
