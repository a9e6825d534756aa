import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Flusher } from '../../src/sheets/keeper/flusher.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { SheetsError } from '../../src/sheets/errors.js';
import type { CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { EVENTS_HEADER as HEADER, eventRow as row, openFlusherRig, type FlusherRig } from '../fixtures/test-flusher.js';


describe('flusher backoff per range', () => {
  let rig: FlusherRig;
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let journal: Journal;
  let flusher: Flusher;

  beforeEach(async () => {
    rig = await openFlusherRig('corral-flusher-');
    ({ clock, backend, log, journal, flusher } = rig);
  });
  afterEach(() => rig.close());

  const traffic = (ms: number, prefix: string) => rig.traffic(ms, prefix);

  it('a tab Google keeps refusing is tried on its backoff, not at every flush that has new rows; all rows go out once it is back', async () => {
    backend.tabs.delete('Events'); // deleted or renamed: 400 "Unable to parse range"
    await traffic(10 * 60_000, 'e');
    const calls = backend.count('append');
    const errors = log.lines().filter((l) => l.level === 'error').length;
    // Backoff of 1, 2, 4, ... 32 s: about 23 retries in 10 minutes, each a call and its halves.
    assert.ok(calls <= 80, `${calls} append calls in 10 minutes of refusals (was one per flush with new rows: 1200)`);
    assert.ok(errors <= 80, `${errors} error lines in 10 minutes (was 1200)`);
    assert.equal(journal.backlogRows(), 600, 'every row is kept');
    backend.tabs.set('Events', [HEADER]);
    await traffic(40_000, 'late');
    assert.equal(journal.backlogRows(), 0);
    const ids = backend.ids('Events').slice(1);
    assert.equal(ids.length, 640);
    assert.equal(new Set(ids).size, 640, 'each row once');
  });

  it('a tab Google keeps refusing is an error line at the first refusal, then one a minute with the count, and one line when it takes rows again', async () => {
    backend.tabs.delete('Events');
    await traffic(10 * 60_000, 'e');
    const failed = log.lines().filter((l) => l.event === 'sheets.append_failed');
    assert.ok(failed.length >= 1 && failed.length <= 11, `${failed.length} sheets.append_failed lines in 10 minutes`);
    assert.equal(failed[0]!.level, 'error');
    assert.equal(failed[0]!.range, 'Events');
    assert.equal((failed[0]!.err as { code?: string }).code, 'CORRAL_ERR_SHEETS_BAD_RANGE');
    const said = failed.reduce((n, l) => n + Number(l.failures), 0);
    assert.ok(said > failed.length, `${said} failures said in ${failed.length} lines`);
    const errors = log.lines().filter((l) => l.level === 'error' && l.event !== 'journal.backlog_stalled');
    assert.ok(errors.length <= 11, `${errors.length} error lines in 10 minutes`);

    backend.tabs.set('Events', [HEADER]);
    await traffic(40_000, 'late');
    assert.equal(journal.backlogRows(), 0);
    const recovered = log.lines().filter((l) => l.event === 'sheets.append_recovered');
    assert.equal(recovered.length, 1);
    assert.equal(recovered[0]!.range, 'Events');
  });

  it('one row Google refuses, tried again with the rows journaled after it for 10 minutes: a few error lines, not two per try', async () => {
    backend.refusedIds.add('e0');
    await traffic(10 * 60_000, 'e');
    assert.equal(journal.backlogRows(), 1, 'every row but the refused one went out');
    const alone = log.lines().filter((l) => l.event === 'sheets.append_refused_alone');
    assert.ok(alone.length >= 1 && alone.length <= 11, `${alone.length} sheets.append_refused_alone lines in 10 minutes`);
    assert.equal(alone[0]!.entry, journal.live()[0]!.id);
    assert.deepEqual(alone[0]!.rowIds, ['e0']);
    const errors = log.lines().filter((l) => l.level === 'error' && l.event !== 'journal.backlog_stalled');
    assert.ok(errors.length <= 22, `${errors.length} error lines in 10 minutes`);
  });

  it("a 429 with Retry-After: no append to the range, old rows or new, before Google's wait has passed", async () => {
    const appendValues = backend.appendValues.bind(backend);
    let refusals = 1;
    backend.appendValues = async (range, rows) => {
      if (refusals-- > 0) {
        backend.calls.push({ op: 'append', range, rows: rows.length });
        throw new SheetsError('CORRAL_ERR_SHEETS_QUOTA', 'quota exhausted', { status: 429, reason: 'RESOURCE_EXHAUSTED', applied: 'no', retryable: true, retryAfterMs: 120_000 });
      }
      return appendValues(range, rows);
    };
    await traffic(119_000, 'r');
    assert.equal(backend.count('append'), 1, 'only the refused call within the 120 s Google asked for');
    await traffic(2_000, 'after');
    assert.equal(backend.count('append'), 2, 'then one append with every row');
    assert.equal(journal.backlogRows(), 0);
    assert.equal(backend.ids('Events').length - 1, 121);
  });

  it('rows stuck behind a failing append are alerted once they have waited 5 minutes, hourly while it lasts, and cleared once they are in', async () => {
    backend.tabs.delete('Events');
    const stalled = () => log.lines().filter((l) => l.event === 'journal.backlog_stalled');
    await journal.add('Events', [row('s0')]);
    for (let t = 0; t < 4 * 60_000; t += 30_000) {
      await flusher.flushOnce({ wait: true });
      await clock.advance(30_000);
    }
    assert.deepEqual(stalled(), [], 'four minutes is not yet stalled');
    for (let t = 0; t < 90 * 60_000; t += 30_000) {
      if (t % 60_000 === 0) await journal.add('Events', [row(`s${t}`)]);
      await flusher.flushOnce({ wait: true });
      await clock.advance(30_000);
    }
    const said = stalled();
    assert.equal(said.length, 2, 'at 5 minutes, and an hour later');
    assert.equal(said[0]?.level, 'error');
    assert.equal(said[0]?.oldestSeconds, 300);
    assert.ok(Number(said[1]?.rows) > 60, 'with the backlog as it is then');
    backend.tabs.set('Events', [HEADER]);
    await clock.advance(60_000);
    await flusher.flushOnce({ wait: true });
    assert.equal(journal.backlogRows(), 0);
    assert.equal(log.lines().filter((l) => l.event === 'journal.backlog_cleared').length, 1);
  });

  it('a 5xx outage: appends and read-backs of a range follow its backoff', async () => {
    backend.failAppends = 'lost-before'; // timeouts, outcome unknown: read back before any resend
    await traffic(5 * 60_000, 'u');
    const appends = backend.count('append');
    const reads = backend.count('get');
    assert.ok(appends + reads <= 60, `${appends} appends and ${reads} read-backs in 5 minutes of timeouts`);
    backend.failAppends = 'none';
    await traffic(60_000, 'ok');
    assert.equal(journal.backlogRows(), 0);
    assert.equal(backend.ids('Events').length - 1, 360);
  });
});
