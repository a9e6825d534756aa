import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capacityFromView, statsOf } from '../../src/master/admin/figures.js';
import { sheetsFiguresOf } from '../../src/master/admin/sheets-figures.js';
import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';
import { noneServed } from '../../src/master/child-exits.js';
import { createHostMonitor } from '../../src/master/host-monitor.js';

describe('Sheets figures', () => {
  it("count the workers' L1 hits in the hit ratio and take upstream calls from the keeper's meter", () => {
    const f = sheetsFiguresOf([
      // Of the 900 L1 hits, 34 served a stale answer of the keeper's, held a moment.
      child(1, 11, 'ready', { extra: { l1Hits: 700, l1Misses: 100, l1StaleFallbacks: 2, l1StaleHits: 30 } }),
      child(2, 12, 'ready', { extra: { l1Hits: 200, l1Misses: 50, l1StaleFallbacks: 1, l1StaleHits: 4 } }),
      child(3, 13, 'booting', undefined),
      // Of the 150 L1 misses, 140 reached the keeper: 40 hits (5 stale), 100 waited for Google.
      child(0, 10, 'ready', { extra: { cacheHits: 40, cacheStaleHits: 5, cacheMisses: 100, upstreamReads: 9, journalAppendCalls: 3, upstreamCallsTotal: 17 } }, 'keeper'),
    ]);
    assert.equal(f.l1_hits, 900);
    assert.equal(f.l1_misses, 150);
    assert.equal(f.cache_hits, 940);
    assert.equal(f.cache_misses, 100);
    assert.equal(f.cache_hit_ratio, Math.round((940 / 1040) * 1000) / 1000);
    assert.equal(f.stale_answers, 42, "the keeper's stale hits, the workers' fallbacks and their hits of a stale copy");
    assert.equal(f.upstream_calls_total, 17, 'the meter (retries and read-backs included), not reads + append calls');
  });

  it('count the ranges whose last fetch from Google failed', () => {
    assert.equal(sheetsFiguresOf([child(0, 10, 'ready', { extra: { rangesFailing: 2 } }, 'keeper')]).ranges_failing, 2);
    assert.equal(sheetsFiguresOf([child(1, 11, 'ready', {})]).ranges_failing, null);
  });

  it('say whether the journal takes appends, and how many it refused', () => {
    const full = sheetsFiguresOf([child(0, 10, 'ready', { extra: { journalWritable: false, journalAppendsRefused: 31 } }, 'keeper')]);
    assert.equal(full.journal_writable, false);
    assert.equal(full.journal_appends_refused, 31);
    const none = sheetsFiguresOf([child(1, 11, 'ready', {})]);
    assert.equal(none.journal_writable, null);
    assert.equal(none.journal_appends_refused, null);
  });

  it('are null where nobody reports them', () => {
    const f = sheetsFiguresOf([child(1, 11, 'ready', {})]);
    assert.equal(f.cache_hit_ratio, null);
    assert.equal(f.l1_hits, null);
    assert.equal(f.upstream_calls_total, null);
  });
});

describe('stats totals', () => {
  it("carry the workers' 5xx answers and the rates measured over the last 5 s", () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', { requestsServed: 90, errorsServed: 40 }), child(2, 12, 'ready', { requestsServed: 10, errorsServed: 2 })]);
    const s = statsOf(view, { host: undefined, rates: { requests_per_second: 20, errors_per_second: 8.5, connections_refused_per_second: 3 }, upstreamPerMinute: null });
    assert.equal(s.totals.requests_served, 100);
    assert.equal(s.totals.errors_served, 42);
    assert.equal(s.totals.errors_per_second, 8.5);
    assert.equal(s.totals.connections_refused_per_second, 3);
  });

  it('count what exited workers served, as /metrics does, and name the live workers\' share apart: a replacement changes neither lifetime total', async () => {
    const view = createFakeView(testSettings(), [
      child(1, 11, 'ready', { requestsServed: 90, errorsServed: 4, connectionsRefused: 3 }),
      child(2, 12, 'ready', { requestsServed: 10, errorsServed: 1, connectionsRefused: 2 }),
    ]);
    const metrics = createAdminMetrics(view, () => undefined);
    const scraped = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await metrics.render())?.[1]);
    const before = statsOf(view, { host: undefined, upstreamPerMinute: null });
    assert.equal(before.totals.requests_served, await scraped('corral_requests_total'));
    // Worker 1 is replaced: its last report goes to the exited workers' count, its successor starts at 0.
    view.exited = { requests: 90, errors: 4, refused: 3, idleClosed: 0, sheets: noneServed().sheets };
    view.kids = [child(3, 13, 'ready', { requestsServed: 0, errorsServed: 0 }), view.kids[1]!];
    const after = statsOf(view, { host: undefined, upstreamPerMinute: null });
    assert.deepEqual(
      [after.totals.requests_served, after.totals.errors_served, after.totals.connections_refused],
      [100, 5, 5],
      'lifetime totals, exited workers included',
    );
    assert.equal(after.totals.requests_served, await scraped('corral_requests_total'));
    assert.equal(after.totals.errors_served, await scraped('corral_request_errors_total'));
    assert.equal(after.totals.connections_refused, await scraped('corral_connections_refused_total'));
    assert.deepEqual([after.totals.requests_served_by_live_workers, after.totals.errors_served_by_live_workers], [10, 1]);
  });
});

describe('stats Sheets figures across a reload', () => {
  it('keep what the replaced workers counted: the hit ratio stays where it was, as the /metrics counters do', async () => {
    const keeper = child(0, 10, 'ready', { extra: { cacheHits: 2, cacheMisses: 1, cacheStaleHits: 0 } }, 'keeper');
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', { extra: { l1Hits: 1500, l1Misses: 2, l1StaleFallbacks: 0 } }), child(2, 12, 'ready', { extra: { l1Hits: 1482, l1Misses: 1, l1StaleFallbacks: 0 } }), keeper]);
    const metrics = createAdminMetrics(view, () => undefined);
    const scraped = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await metrics.render())?.[1]);
    const before = statsOf(view, { host: undefined, upstreamPerMinute: null }).sheets;
    assert.deepEqual([before.cache_hits, before.cache_misses, before.cache_hit_ratio], [2984, 1, 1]);
    assert.equal(await scraped('corral_sheets_cache_hits_total'), 2984);
    // A reload: both workers replaced (their last reports kept), the keeper kept, no traffic since.
    view.exited = { ...noneServed(), sheets: { ...noneServed().sheets, l1Hits: 2982, l1Misses: 3 } };
    view.kids = [child(3, 13, 'ready', { extra: { l1Hits: 0, l1Misses: 0, l1StaleFallbacks: 0 } }), child(4, 14, 'ready', { extra: { l1Hits: 0, l1Misses: 0, l1StaleFallbacks: 0 } }), keeper];
    const after = statsOf(view, { host: undefined, upstreamPerMinute: null }).sheets;
    // Counted by the live processes alone it was 2 hits for 1 miss: 0.667.
    assert.deepEqual([after.cache_hits, after.cache_misses, after.cache_hit_ratio, after.l1_hits, after.l1_misses], [2984, 1, 1, 2982, 3]);
    assert.equal(await scraped('corral_sheets_cache_hits_total'), 2984, 'the same count as /metrics');
  });
});

describe('child exits', () => {
  it('are in the stats and in corral_child_exits_total by role and reason, every series there from the first scrape', async () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', {})]);
    const metrics = createAdminMetrics(view, () => undefined);
    const scraped = async (role: string, reason: string) => Number(new RegExp(`^corral_child_exits_total\\{role="${role}",reason="${reason}"\\} (\\d+)$`, 'm').exec(await metrics.render())?.[1]);
    assert.equal(await scraped('worker', 'died'), 0, 'the series is there before the first exit');
    assert.equal(await scraped('keeper', 'timeout'), 0);
    assert.deepEqual(statsOf(view, { host: undefined, upstreamPerMinute: null }).exits, { worker: {}, keeper: {} });
    view.exits = { worker: { died: 3, timeout: 1 }, keeper: { timeout: 1 } };
    assert.deepEqual(statsOf(view, { host: undefined, upstreamPerMinute: null }).exits, view.exits);
    assert.deepEqual([await scraped('worker', 'died'), await scraped('worker', 'timeout'), await scraped('keeper', 'timeout'), await scraped('worker', 'reload')], [3, 1, 1, 0]);
  });

  it('those a signal nobody in corral sent ended are in the stats and in corral_child_signal_deaths_total by signal: the usual ones from the first scrape, any other from its first death', async () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', {})]);
    const metrics = createAdminMetrics(view, () => undefined);
    const scraped = async (role: string, signal: string) => {
      const found = new RegExp(`^corral_child_signal_deaths_total\\{role="${role}",signal="${signal}"\\} (\\d+)$`, 'm').exec(await metrics.render());
      return found ? Number(found[1]) : undefined;
    };
    assert.equal(await scraped('worker', 'SIGKILL'), 0, 'the OOM killer\'s series is there before the first death');
    assert.equal(await scraped('keeper', 'SIGSEGV'), 0);
    assert.equal(await scraped('worker', 'SIGILL'), undefined, 'an unusual signal only once seen');
    assert.deepEqual(statsOf(view, { host: undefined, upstreamPerMinute: null }).exits_by_signal, { worker: {}, keeper: {} });
    view.signalDeaths = { worker: { SIGKILL: 2, SIGILL: 1 }, keeper: { SIGABRT: 1 } };
    assert.deepEqual(statsOf(view, { host: undefined, upstreamPerMinute: null }).exits_by_signal, view.signalDeaths);
    assert.deepEqual([await scraped('worker', 'SIGKILL'), await scraped('worker', 'SIGILL'), await scraped('keeper', 'SIGABRT'), await scraped('keeper', 'SIGKILL')], [2, 1, 1, 0]);
  });

  it("say when a keeper in its crash backoff comes back (keeper_respawn), null otherwise", () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', {})]);
    assert.equal(statsOf(view, { host: undefined, upstreamPerMinute: null }).keeper_respawn, null);
    view.keeperWaiting = { inMs: 6236, crashLoop: 6, failures: 6 };
    assert.deepEqual(statsOf(view, { host: undefined, upstreamPerMinute: null }).keeper_respawn, { in_ms: 6236, crash_loop: 6, failures: 6 });
  });
});

describe('stats host figures', () => {
  it('say how old the last host sample is, and mark it stale once three sampling intervals passed without one', () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', {})]);
    const sample = { cpuPercent: 12.5, ramPercent: 41, ramUsedBytes: 4e9, ramTotalBytes: 1e10, cpuCount: 2 };
    const fresh = statsOf(view, { host: { ...sample, at: Date.now() - 4000 }, hostIntervalMs: 5000, upstreamPerMinute: null });
    assert.equal(fresh.host?.stale, false);
    assert.ok((fresh.host?.sampled_s_ago ?? -1) >= 4 && (fresh.host?.sampled_s_ago ?? 99) < 5);
    // Measurements failing for a minute: the last figures are kept, and said to be old.
    const old = statsOf(view, { host: { ...sample, at: Date.now() - 60_000 }, hostIntervalMs: 5000, upstreamPerMinute: null });
    assert.equal(old.host?.stale, true);
    assert.equal(old.host?.cpu_percent, 12.5);
    assert.ok((old.host?.sampled_s_ago ?? -1) >= 60);
  });

  it("say where the CPU and RAM figures come from: the cgroup's quota and limit, or the machine's", () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', {})]);
    const sample = { at: Date.now(), cpuPercent: 97.5, ramPercent: 41, ramUsedBytes: 4e9, ramTotalBytes: 1e10, cpuCount: 2 };
    const plain = statsOf(view, { host: sample, upstreamPerMinute: null }).host;
    assert.deepEqual([plain?.cpu_from, plain?.ram_from], ['host', 'host']);
    const limited = statsOf(view, { host: { ...sample, cpuFrom: 'cgroup', ramFrom: 'cgroup' }, upstreamPerMinute: null }).host;
    assert.deepEqual([limited?.cpu_from, limited?.cpu_percent, limited?.cpus, limited?.ram_from], ['cgroup', 97.5, 2, 'cgroup']);
  });
});

describe('capacity of a worker not beating', () => {
  it('counts the connections it held, not the refusals, idle closures and peak of its last interval, long over', () => {
    // They held the host FULL (can_accept_new false) until CORRAL_TIMEOUT replaced the worker.
    const stuck = child(1, 101, 'ready', { activeConnections: 3, idleConnections: 1, peakBusyConnections: 10, connectionsRefusedInInterval: 4, idleClosedInInterval: 2 });
    Object.defineProperty(stuck, 'lastBeatAt', { get: () => Date.now() - 20_000 });
    const serving = child(2, 102, 'ready', { activeConnections: 1, idleConnections: 0, peakBusyConnections: 1, connectionsRefusedInInterval: 0 });
    const view = createFakeView(testSettings({ CORRAL_WORKER_CONNECTIONS: '10' }), [stuck, serving]);
    const c = capacityFromView(view);
    assert.deepEqual(
      [c.status, c.can_accept_new, c.refused_last_interval, c.idle_closed_last_interval, c.peak_busy_connections, c.current_connections, c.idle_connections],
      ['LOW', true, 0, 0, 3, 4, 1],
    );
    // Beating again, its interval's figures count as before.
    Object.defineProperty(stuck, 'lastBeatAt', { get: () => Date.now() - 500 });
    assert.equal(capacityFromView(view).status, 'FULL');
  });
});

describe('host figures across a step of the wall clock', () => {
  // A host CPU/RAM sample, then some time passes (on the monotonic clock) and NTP steps the wall clock.
  const HOUR_MS = 3_600_000;
  const hostAfterStep = async (t: import('node:test').TestContext, stepMs: number, sinceSampleMs: number) => {
    let elapsed = performance.now();
    t.mock.method(performance, 'now', () => elapsed);
    const monitor = createHostMonitor({ intervalMs: 5000, readMemory: async () => ({ total: 8 * 2 ** 30, available: 6 * 2 ** 30 }) });
    try {
      const read = await monitor.sample();
      const sampledWall = Date.now();
      assert.equal(read?.ramPercent, 25);
      elapsed += sinceSampleMs;
      const wall = Date.now;
      t.mock.method(Date, 'now', () => wall() + stepMs);
      const view = createFakeView(testSettings(), [child(1, 101, 'ready', {})]);
      return { host: statsOf(view, { host: monitor.latest(), hostIntervalMs: monitor.intervalMs, upstreamPerMinute: null }).host, sampledWall };
    } finally {
      monitor.close();
    }
  };

  it('an hour forward: the sample is 3.2 s old, not stale; sampled_at is the wall clock\'s reading when it was taken', async (t) => {
    // It read "stale" with sampled_s_ago 3603.2: the dashboard greyed CPU and RAM, "not measured for 3603 s".
    const { host, sampledWall } = await hostAfterStep(t, HOUR_MS, 3_200);
    assert.equal(host?.stale, false);
    assert.equal(host?.sampled_s_ago, 3.2);
    assert.ok(Math.abs(sampledWall - Date.parse(host?.sampled_at ?? '')) < 50, `sampled_at ${host?.sampled_at}, sampled at ${new Date(sampledWall).toISOString()}`);
  });

  it('an hour back, then no sample for 16 s (the measurement hangs): stale, not held fresh for an hour', async (t) => {
    const { host } = await hostAfterStep(t, -HOUR_MS, 16_000);
    assert.equal(host?.stale, true);
    assert.equal(host?.sampled_s_ago, 16);
  });
});
