import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CounterAcrossProcesses, createHistory } from '../../src/master/admin/history.js';
import { createHostMonitor } from '../../src/master/host-monitor.js';
import { LatencyBuckets } from '../../src/latency-buckets.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';
import { noneServed } from '../../src/master/child-exits.js';
import { startMonitoring } from '../../src/master/admin/monitoring.js';
import { createLogger } from '../../src/log/logger.js';

/** A beat's request durations: `n` requests of `ms` each, per group. */
function durations(...groups: [n: number, ms: number][]): number[] {
  const b = new LatencyBuckets();
  for (const [n, ms] of groups) for (let i = 0; i < n; i++) b.recordMs(ms);
  return b.toPairs();
}

describe('CounterAcrossProcesses', () => {
  it('stays monotonic when processes come and go', () => {
    const c = new CounterAcrossProcesses();
    assert.equal(c.observe(new Map([[1, 10], [2, 5]])), 15);
    assert.equal(c.observe(new Map([[1, 12], [2, 9]])), 21);
    assert.equal(c.observe(new Map([[1, 20], [3, 4]])), 33, 'pid 2 retired, pid 3 new');
    assert.equal(c.observe(new Map([[1, 20]])), 33);
  });
});

describe('history ring buffer', () => {
  it('derives requests/s and upstream calls/min from cumulative counters and keeps the last N samples', () => {
    const view = createFakeView(testSettings(), [
      child(1, 11, 'ready', { requestsServed: 0, latencyP99Ms: 3, activeConnections: 2 }),
      child(0, 10, 'ready', { extra: { upstreamCallsTotal: 1 } }, 'keeper'),
    ]);
    const h = createHistory({ capacity: 3 });
    const host = { at: 0, cpuPercent: 12.5, ramPercent: 40, ramUsedBytes: 1, ramTotalBytes: 2, cpuCount: 2 };
    const first = h.record(view, host, 1_000);
    assert.equal(first.rps, null, 'no rate from a single point');
    view.kids = [child(1, 11, 'ready', { requestsServed: 500, latencyP99Ms: 7, activeConnections: 4 }), child(0, 10, 'ready', { extra: { upstreamCallsTotal: 3 } }, 'keeper')];
    view.beats.add(11, durations([500, 7]), view.now());
    const s = h.record(view, host, 6_000);
    assert.equal(s.rps, 100);
    assert.equal(s.upstream_per_min, 24);
    assert.ok(s.p99_ms !== null && s.p99_ms >= 7 && s.p99_ms <= 7.07, String(s.p99_ms));
    assert.equal(s.cpu, 12.5);
    assert.equal(s.connections, 4);
    h.record(view, undefined, 11_000);
    h.record(view, undefined, 16_000);
    assert.deepEqual(h.samples().map((x) => x.t), [6_000, 11_000, 16_000]);
    assert.equal(h.latest()?.rps, 0);
    assert.equal(h.latest()?.cpu, null);
  });
});

describe('p99 in the history', () => {
  it('counts every request answered since the previous sample, all workers\' and exited ones\', not the last beat\'s alone', () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', { latencyP99Ms: 0 }), child(2, 12, 'ready', { latencyP99Ms: 0 })]);
    const h = createHistory();
    assert.equal(h.record(view, undefined, 1_000).p99_ms, 0, 'no request yet: 0');
    // The audit's case: five 1.5 s logins answered in one beat of the five between two samples;
    // each worker's last beat before the sample was idle (latencyP99Ms 0), which was all it charted.
    view.beats.add(11, durations([40, 2]), view.now());
    view.beats.add(12, durations([5, 1522.7]), view.now());
    view.beats.add(13, durations([30, 3]), view.now());
    view.beats.add(11, [], view.now());
    const s = h.record(view, undefined, 6_000);
    assert.ok(s.p99_ms !== null && s.p99_ms >= 1522.7 && s.p99_ms < 1540, String(s.p99_ms));
    assert.equal(h.record(view, undefined, 11_000).p99_ms, 0, 'none since: 0, each request counted in one sample');
    view.kids = [];
    assert.equal(h.record(view, undefined, 16_000).p99_ms, null, 'no worker');
  });
});

describe('the connections of a history sample', () => {
  it('are null before any worker reported its figures (nothing measured), and the reported ones\' sum after', () => {
    const booting = createFakeView(testSettings(), [child(1, 11, 'booting', undefined), child(2, 12, 'booting', undefined)]);
    assert.equal(createHistory().record(booting, undefined, 1_000).connections, null);
    const serving = createFakeView(testSettings(), [child(1, 11, 'ready', { activeConnections: 3 }), child(2, 12, 'ready', { activeConnections: 0 })]);
    assert.equal(createHistory().record(serving, undefined, 1_000).connections, 3);
  });
});

describe('5xx answers per second in the history', () => {
  it('are derived from the workers\' 5xx counts, exited workers\' included, and never negative', () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', { requestsServed: 100, errorsServed: 10 })]);
    const h = createHistory();
    assert.equal(h.record(view, undefined, 1_000).errors_per_s, null, 'no rate from a single point');
    // Google fails: worker 1 answers 40 more 5xx and is replaced by worker 2, which answers 25.
    view.exited = { requests: 200, errors: 50, refused: 0, idleClosed: 0, sheets: noneServed().sheets };
    view.kids = [child(2, 12, 'ready', { requestsServed: 30, errorsServed: 25 })];
    assert.equal(h.record(view, undefined, 6_000).errors_per_s, 13);
    assert.equal(h.record(view, undefined, 11_000).errors_per_s, 0);
  });
});

describe('connections refused per second in the history', () => {
  it('are the connection cap\'s 503s, apart from requests and 5xx answers, exited workers\' included', () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', { requestsServed: 100, errorsServed: 0, connectionsRefused: 0 })]);
    const h = createHistory();
    assert.equal(h.record(view, undefined, 1_000).refused_per_s, null, 'no rate from a single point');
    // At FULL: 300 refused in 5 s (200 by a worker since replaced), not one request served.
    view.exited = { requests: 100, errors: 0, refused: 200, idleClosed: 0, sheets: noneServed().sheets };
    view.kids = [child(2, 12, 'ready', { requestsServed: 0, errorsServed: 0, connectionsRefused: 100 })];
    const s = h.record(view, undefined, 6_000);
    assert.deepEqual([s.rps, s.errors_per_s, s.refused_per_s], [0, 0, 60]);
    assert.equal(h.record(view, undefined, 11_000).refused_per_s, 0);
  });
});

describe('history across worker replacements', () => {
  it('counts the requests of workers that exited between two samples', () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', { requestsServed: 100 })]);
    const h = createHistory();
    h.record(view, undefined, 1_000);
    // Worker 1 served 100 more and exited; worker 2 came and served 50; one more came and went (30).
    view.exited = { requests: 200 + 30, errors: 0, refused: 0, idleClosed: 0, sheets: noneServed().sheets };
    view.kids = [child(2, 12, 'ready', { requestsServed: 50 })];
    assert.equal(h.record(view, undefined, 2_000).rps, 180);
  });
});

describe('history across a step of the wall clock', () => {
  // NTP or `date -s` steps the master's wall clock; the master's own clock for durations does not
  // move (src/clock.ts). Every 5 s of the monotonic clock here, 500 requests: 100 req/s throughout.
  it('rates over the time that passed, and samples in time order ending at the wall clock now', (t) => {
    const logger = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger;
    let wall = Date.now();
    let elapsed = performance.now();
    t.mock.method(Date, 'now', () => wall);
    t.mock.method(performance, 'now', () => elapsed);
    const view = createFakeView(testSettings({ CORRAL_WORKERS: '1' }), [child(1, 11, 'ready', { requestsServed: 0 })]);
    const monitoring = startMonitoring(view, logger, { historyIntervalMs: 3_600_000, alertIntervalMs: 3_600_000, ratesIntervalMs: 3_600_000, hostIntervalMs: 3_600_000, historySamples: 10 });
    const fiveSecondsLater = (wallStep: number, served: number) => {
      // The monotonic clock has fractions of a millisecond, Date.now() none.
      elapsed += 5_000.4;
      wall += 5_000 + wallStep;
      view.kids = [child(1, 11, 'ready', { requestsServed: served })];
      monitoring.recordHistory();
      return monitoring.history.latest();
    };
    try {
      assert.equal(fiveSecondsLater(0, 500)?.rps, 100);
      // Stepped back an hour: the 5 s between the samples read as -3595 s, and the rate was unknown.
      assert.equal(fiveSecondsLater(-3_600_000, 1_000)?.rps, 100, 'after a step back');
      // Stepped forward an hour: 500 requests over 3605 s read as 0.1 req/s.
      assert.equal(fiveSecondsLater(3_600_000, 1_500)?.rps, 100, 'after a step forward');
      assert.equal(fiveSecondsLater(-3_600_000, 2_000)?.rps, 100, 'after a step back again');
      // The chart's x axis: in time order, 5 s apart, the last one now by the wall clock (the
      // steps left samples an hour before or after their neighbours, drawn as a line back and forth).
      const ts = monitoring.history.samples().map((s) => s.t);
      assert.equal(ts.at(-1), wall);
      assert.ok(ts.every(Number.isInteger), `whole milliseconds, as Date.now(): ${ts.join(', ')}`);
      const spacing = ts.slice(1).map((x, i) => x - (ts[i] ?? 0));
      assert.ok(spacing.length === 4 && spacing.every((d) => Math.abs(d - 5_000) <= 1), `${spacing.join(', ')} ms apart`);
    } finally {
      monitoring.close();
    }
  });
});

describe('host monitor', () => {
  it('samples CPU and RAM percentages in range without blocking callers', async () => {
    const m = createHostMonitor({ intervalMs: 60_000 });
    try {
      await m.sample();
      await new Promise((r) => setTimeout(r, 150));
      const s = await m.sample();
      assert.ok(s);
      assert.ok(s.cpuPercent !== null && s.cpuPercent >= 0 && s.cpuPercent <= 100, `cpu ${s.cpuPercent}`);
      assert.ok(s.ramPercent > 0 && s.ramPercent < 100, `ram ${s.ramPercent}`);
      assert.ok(s.ramTotalBytes > s.ramUsedBytes);
      assert.equal(m.latest(), s);
    } finally {
      m.close();
    }
  });

  it('has no CPU share in its first sample, the baseline the share is measured from (not a 0 that reads as idle)', async () => {
    const m = createHostMonitor({ intervalMs: 60_000 });
    try {
      // The monitor takes its baseline as it starts; this call shares that measurement.
      const first = await m.sample();
      assert.ok(first);
      assert.equal(first.cpuPercent, null);
      assert.ok(first.ramPercent > 0, 'RAM is known from the first sample');
      await new Promise((r) => setTimeout(r, 150));
      const second = await m.sample();
      assert.ok(second?.cpuPercent !== null && second?.cpuPercent !== undefined && second.cpuPercent >= 0, `cpu ${second?.cpuPercent}`);
    } finally {
      m.close();
    }
  });
});
