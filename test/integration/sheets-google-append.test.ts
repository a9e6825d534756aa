// Appends are the one call whose resend can do harm (duplicate rows). These tests pin down which
// failures leave an append safe to resend (applied 'no': the client retries it) and which may
// have been applied by Google (applied 'maybe': never resent by the client; the journal decides).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeClock, FAST_RETRY, rejection, withHarness, type Harness } from '../fixtures/sheets/harness.js';
import { SEED_EVENTS_ROWS as E } from '../fixtures/sheets/seed-rows.js';
import { refusingPort } from '../helpers/ports.js';


function eventsCount(h: Harness): number {
  return h.emulator.getSheet(h.emulator.spreadsheetId, 'Events')?.length ?? 0;
}


const ROW = ['E0100', 'P002', 'scored', 'match 3', '2024-05-01T10:00:00Z'];

describe('append: where rows land', () => {
  it('appends after the last row of the table and reports the exact updatedRange', () =>
    withHarness(async (h) => {
      const b = h.backend();
      const res = await b.appendValues('Events', [ROW, ['E0101', 'P004', 'joined', '', '2024-05-02T10:00:00Z']]);
      assert.deepEqual(res, { updatedRange: `Events!A${E + 1}:E${E + 2}`, updatedRows: 2 });
      const raw = await b.api.appendValues('Events!A:E', [['E0102', 'P001']]);
      assert.equal(raw.tableRange, `Events!A1:E${E + 2}`);
      assert.equal(raw.updates.updatedRange, `Events!A${E + 3}:B${E + 3}`);
      assert.equal(raw.updates.updatedCells, 2);
      const rows = h.emulator.getSheet(h.emulator.spreadsheetId, 'Events') ?? [];
      assert.deepEqual(rows[E], ROW);
      assert.deepEqual(rows[E + 2], ['E0102', 'P001']);
    }));
});

describe('append: request size', () => {
  it("a body over Google's 10 MiB limit is refused with 400 before anything is written: applied no, not retryable", () =>
    withHarness(async (h) => {
      const b = h.backend();
      const before = eventsCount(h);
      const huge = ['E0200', 'P001', 'note', 'x'.repeat(11 * 1024 * 1024), '2024-05-01T10:00:00Z'];
      const e = await rejection(b.appendValues('Events', [huge]));
      assert.equal(e.status, 400);
      assert.equal(e.applied, 'no');
      assert.equal(e.retryable, false);
      assert.match(e.message, /over its 10 MiB limit/);
      assert.match(e.message, /Request payload size exceeds the limit: 10485760 bytes/);
      assert.equal(eventsCount(h), before);
    }));
});

describe('append failures Google may have applied are never resent', () => {
  it('written, then answered 500: applied maybe, one request, the row is there once', () =>
    withHarness(
      async (h) => {
        const b = h.backend();
        const e = await rejection(b.appendValues('Events', [ROW]));
        assert.equal(e.code, 'CORRAL_ERR_SHEETS_UNAVAILABLE');
        assert.equal(e.status, 500);
        assert.equal(e.applied, 'maybe');
        assert.equal(e.retryable, true, 'transient: the journal may resend after checking the sheet');
        assert.equal(h.emulator.counters().calls['values.append'], 1, 'not resent by the client');
        assert.equal(eventsCount(h), E + 1, 'Google did write it, once');
      },
      { faults: { appliedErrorRate: 1 } },
    ));

  it('written, then the connection is cut mid-answer: applied maybe, not resent', () =>
    withHarness(
      async (h) => {
        const b = h.backend();
        const e = await rejection(b.appendValues('Events', [ROW]));
        assert.equal(e.applied, 'maybe');
        assert.equal(e.reason, 'NETWORK');
        assert.equal(h.emulator.counters().resets, 1);
        assert.equal(h.emulator.counters().calls['values.append'], 1);
        assert.equal(eventsCount(h), E + 1);
      },
      { faults: { resetRate: 1 } },
    ));

  it('sent, then no answer within SHEETS_TIMEOUT: applied maybe, not resent', () =>
    withHarness(
      async (h) => {
        const b = h.backend({}, { SHEETS_TIMEOUT: 1 });
        const e = await rejection(b.appendValues('Events', [ROW]));
        assert.equal(e.code, 'CORRAL_ERR_SHEETS_TIMEOUT');
        assert.equal(e.applied, 'maybe');
        assert.match(e.message, /after the request was sent/);
        assert.equal(e.attempts, 1);
        assert.equal(h.emulator.counters().calls['values.append'], 1);
      },
      { faults: { hangRate: 1 } },
    ));

  it('a 503 is treated as maybe applied too: the client cannot tell a 5xx before the write from one after', () =>
    withHarness(
      async (h) => {
        const b = h.backend();
        const e = await rejection(b.appendValues('Events', [ROW]));
        assert.equal(e.status, 503);
        assert.equal(e.applied, 'maybe');
        assert.equal(h.emulator.counters().calls['values.append'], 1);
        assert.equal(eventsCount(h), E, 'this time Google had not written it: only the journal can find out');
      },
      { faults: { errorRate: 1 } },
    ));
});

describe('append failures Google certainly did not apply are resent', () => {
  it('429 RESOURCE_EXHAUSTED: resent after backoff, lands exactly once', async () => {
    const clock = fakeClock();
    await withHarness(
      async (h) => {
        const b = h.backend({
          now: clock.now,
          beforeAttempt: (info) => {
            if (info.operation === 'values.append' && info.attempt === 2) clock.advance(60_000);
          },
        });
        await b.appendValues('Events', [ROW]);
        const res = await b.appendValues('Events', [['E0101', 'P003', 'joined', '', '']]);
        assert.equal(res.updatedRange, `Events!A${E + 2}:E${E + 2}`);
        const c = h.emulator.counters();
        assert.equal(c.quotaRejections, 1);
        assert.equal(c.calls['values.append'], 3);
        assert.equal(c.rowsAppended, 2);
        assert.equal(eventsCount(h), E + 2);
      },
      { now: clock.now, faults: { writesPerMinute: 1 } },
    );
  });

  it('connection refused: applied no, resent up to the bounded attempts', async () => {
    const port = await refusingPort();
    await withHarness(async (h) => {
      const attempts: number[] = [];
      const b = h.backend({ beforeAttempt: (info) => void attempts.push(info.attempt) }, { SHEETS_API_URL: `http://127.0.0.1:${port}` });
      const e = await rejection(b.appendValues('Events', [ROW]));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_UNAVAILABLE');
      assert.equal(e.applied, 'no');
      assert.match(e.message, /ECONNREFUSED/);
      assert.match(e.message, /before the request was sent/);
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(e.attempts, FAST_RETRY.maxAttempts);
    });
  });

  it('a token that cannot be fetched means the append was never sent', () =>
    withHarness(async (h) => {
      const stranger = { ...h.key, client_email: 'unknown@corral-emulator.iam.gserviceaccount.com' };
      const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(stranger) });
      const e = await rejection(b.appendValues('Events', [ROW]));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_AUTH');
      assert.equal(e.applied, 'no');
      assert.equal(h.emulator.counters().calls['values.append'], 0);
    }));
});

describe('idempotent writes', () => {
  it('values.update is resent after a connection cut, since writing the same cells twice is harmless', () =>
    withHarness(
      async (h) => {
        const b = h.backend({
          beforeAttempt: (info) => {
            if (info.attempt === 2) h.emulator.setFaults({ resetRate: 0 });
          },
        });
        const res = await b.updateValues('Players!F1:F2', [['note'], ['vip']]);
        assert.equal(res.updatedRange, 'Players!F1:F2');
        assert.equal(h.emulator.counters().calls['values.update'], 2);
        const rows = h.emulator.getSheet(h.emulator.spreadsheetId, 'Players') ?? [];
        assert.equal(rows[0]?.[5], 'note');
        assert.equal(rows[1]?.[5], 'vip');
      },
      { faults: { resetRate: 1 } },
    ));

  it('values.batchUpdate writes several ranges in one request', () =>
    withHarness(async (h) => {
      const b = h.backend();
      const res = await b.batchUpdateValues([
        { range: 'Players!F1', values: [['note']] },
        { range: "'Events'!F1:G1", values: [['x', 'y']] },
      ]);
      assert.equal(res.totalUpdatedCells, 3);
      assert.equal(res.totalUpdatedSheets, 2);
      assert.deepEqual(
        res.responses?.map((r) => r.updatedRange),
        ['Players!F1', 'Events!F1:G1'],
      );
      assert.equal(h.emulator.counters().calls['values.batchUpdate'], 1);
    }));
});
