// The stats' requests, 5xx answers and refused connections per second: over the 5 s before the
// answer, not the history's last 5-second sample (stale by up to 5 s).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { RateWindow, servedTotalsOf, type ServedTotals } from '../../src/master/admin/rates.js';
import { startAdminServer } from '../../src/master/admin/server.js';
import { startMonitoring } from '../../src/master/admin/monitoring.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';
import { noneServed } from '../../src/master/child-exits.js';
import { monotonicNow } from '../../src/clock.js';

const TOKEN = 'rates-token-0123456789abcdef';
const logger = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger;
const totals = (requests: number, errors = 0, refused = 0): ServedTotals => ({ requests, errors, refused });

describe('RateWindow', () => {
  it('gives the rates over the 5 s before the moment they are read, recorded every second', () => {
    const w = new RateWindow();
    // 10 s of 1000 req/s from t = 0, then nothing.
    const served = (t: number) => Math.min(t, 10_000);
    const read: Record<number, number | null> = {};
    for (let t = 0; t <= 20_000; t += 500) {
      if (t % 1000 === 0) w.observe(totals(served(t)), t);
      read[t] = w.ratesAt(totals(served(t)), t).requests_per_second;
    }
    // Mid-load: 1000/s, where the 5-second sample taken at the load's start said 0.
    assert.equal(read[7_500], 1000);
    // 0.5 s after it stopped: the 5000 requests since the record at 5 s, over 5.5 s.
    assert.equal(read[10_500], Math.round((5000 / 5.5) * 10) / 10);
    // 5.5 s after it stopped: none in the last 5 s (the sample at 10 s said 1000 until 15 s).
    assert.equal(read[15_500], 0);
    assert.equal(read[20_000], 0);
  });

  it('splits 5xx answers and the connection cap\'s refusals, each counted once', () => {
    const w = new RateWindow();
    w.observe(totals(1000, 10, 0), 0);
    // At FULL: 300 connections refused 503 in 5 s; requests and 5xx answers did not move.
    assert.deepEqual(w.ratesAt(totals(1000, 10, 300), 5000), { requests_per_second: 0, errors_per_second: 0, connections_refused_per_second: 60 });
  });

  it('in the first seconds, is over the time since the first record, and unknown before a second passed', () => {
    const w = new RateWindow();
    assert.equal(w.ratesAt(totals(5), 0).requests_per_second, null, 'nothing recorded');
    w.observe(totals(0), 0);
    assert.equal(w.ratesAt(totals(5), 500).requests_per_second, null);
    assert.equal(w.ratesAt(totals(300), 2000).requests_per_second, 150);
  });

  it('keeps records in time order whatever order they come in, and only as many as a window needs', () => {
    const w = new RateWindow();
    w.observe(totals(100), 10_000);
    w.observe(totals(0), 5_000);
    assert.equal(w.ratesAt(totals(100), 10_000).requests_per_second, 20);
    for (let t = 11_000; t <= 100_000; t += 1000) w.observe(totals(100), t);
    assert.ok((w as unknown as { points: unknown[] }).points.length <= 7);
  });
});

describe('servedTotalsOf', () => {
  it('adds exited workers\' counts to the live workers\' and leaves the keeper out', () => {
    const view = createFakeView(testSettings(), [
      child(1, 11, 'ready', { requestsServed: 90, errorsServed: 4, connectionsRefused: 3 }),
      child(2, 12, 'booting', undefined),
      child(0, 10, 'ready', { requestsServed: 1000, errorsServed: 1000, connectionsRefused: 1000 }, 'keeper'),
    ]);
    view.exited = { requests: 10, errors: 1, refused: 2, idleClosed: 0, sheets: noneServed().sheets };
    assert.deepEqual(servedTotalsOf(view), { requests: 100, errors: 5, refused: 5 });
  });
});

describe('/api/admin/stats rates', () => {
  it('are over the 5 s before the answer: 0 once traffic stopped, though the last 5-second sample says thousands', async () => {
    const view = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' }), [child(1, 11, 'ready', { requestsServed: 0 })]);
    const monitoring = startMonitoring(view, logger, { historyIntervalMs: 3_600_000, alertIntervalMs: 3_600_000, ratesIntervalMs: 3_600_000 });
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring });
    const stats = async () =>
      ((await (await fetch(`http://127.0.0.1:${server.port}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { totals: { requests_per_second: number | null; errors_per_second: number | null; connections_refused_per_second: number | null } }).totals;
    try {
      // A 5 s load at 9368 req/s ended 6 s ago: the history's last sample (taken as it ended) says 9368.
      const now = monotonicNow();
      monitoring.history.record(view, undefined, now - 11_000);
      monitoring.rates.observe(servedTotalsOf(view), now - 11_000);
      view.kids = [child(1, 11, 'ready', { requestsServed: 46_840, errorsServed: 20, connectionsRefused: 300 })];
      monitoring.history.record(view, undefined, now - 6_000);
      monitoring.rates.observe(servedTotalsOf(view), now - 6_000);
      assert.equal(monitoring.history.latest()?.rps, 9368);
      const quiet = await stats();
      assert.deepEqual([quiet.requests_per_second, quiet.errors_per_second, quiet.connections_refused_per_second], [0, 0, 0]);
      // Traffic again: 5000 requests, 50 of them 5xx, and 500 refusals since a record 5 s ago.
      view.kids = [child(1, 11, 'ready', { requestsServed: 51_840, errorsServed: 70, connectionsRefused: 800 })];
      const asked = monotonicNow();
      const busy = await stats();
      const answered = monotonicNow();
      // Over the time since the record 6 s ago (the newest at least 5 s old), as of the answer: a
      // fixed bound (over 800 req/s) failed on a loaded machine whose answer came 250 ms late.
      const within = (rate: number | null, count: number) => {
        const [least, most] = [count / ((answered - (now - 6_000)) / 1000), count / ((asked - (now - 6_000)) / 1000)];
        return rate !== null && rate >= least - 1 && rate <= most + 1;
      };
      assert.ok(within(busy.requests_per_second, 5000), `${busy.requests_per_second} req/s, asked ${asked - now} ms and answered ${answered - now} ms after the records`);
      assert.ok(within(busy.connections_refused_per_second, 500), `${busy.connections_refused_per_second} refused/s`);
      assert.equal(monitoring.history.latest()?.rps, 9368, 'the history sample is unchanged: the stats no longer read it');
    } finally {
      await server.close();
      monitoring.close();
    }
  });

  it('are on the monotonic clock: a step of the wall clock between two records is no time that passed', (t) => {
    const view = createFakeView(testSettings({ CORRAL_WORKERS: '1' }), [child(1, 11, 'ready', { requestsServed: 0 })]);
    const monitoring = startMonitoring(view, logger, { historyIntervalMs: 3_600_000, alertIntervalMs: 3_600_000, ratesIntervalMs: 3_600_000 });
    try {
      monitoring.rates.observe(servedTotalsOf(view), monotonicNow() - 6_000);
      view.kids = [child(1, 11, 'ready', { requestsServed: 6_000 })];
      // NTP steps the wall clock an hour forward: over an hour of Date.now(), 6000 requests read ~1.7 req/s.
      const wall = Date.now;
      t.mock.method(Date, 'now', () => wall() + 3_600_000);
      const rps = monitoring.ratesNow().requests_per_second;
      assert.ok(rps !== null && rps > 900 && rps <= 1000, `${rps} req/s`);
    } finally {
      monitoring.close();
    }
  });
});
