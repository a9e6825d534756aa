import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sheetsFiguresOf, statsOf } from '../../src/master/admin/figures.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

describe('Sheets figures', () => {
  it("count the workers' L1 hits in the hit ratio and take upstream calls from the keeper's meter", () => {
    const f = sheetsFiguresOf([
      child(1, 11, 'ready', { extra: { l1Hits: 700, l1Misses: 100, l1StaleFallbacks: 2 } }),
      child(2, 12, 'ready', { extra: { l1Hits: 200, l1Misses: 50, l1StaleFallbacks: 1 } }),
      child(3, 13, 'booting', undefined),
      // Of the 150 L1 misses, 140 reached the keeper: 40 hits (5 stale), 100 waited for Google.
      child(0, 10, 'ready', { extra: { cacheHits: 40, cacheStaleHits: 5, cacheMisses: 100, upstreamReads: 9, journalAppendCalls: 3, upstreamCallsTotal: 17 } }, 'keeper'),
    ]);
    assert.equal(f.l1_hits, 900);
    assert.equal(f.l1_misses, 150);
    assert.equal(f.cache_hits, 940);
    assert.equal(f.cache_misses, 100);
    assert.equal(f.cache_hit_ratio, Math.round((940 / 1040) * 1000) / 1000);
    assert.equal(f.stale_answers, 8);
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
  it("carry the live workers' 5xx answers and the 5xx rate the history measured", () => {
    const view = createFakeView(testSettings(), [child(1, 11, 'ready', { requestsServed: 90, errorsServed: 40 }), child(2, 12, 'ready', { requestsServed: 10, errorsServed: 2 })]);
    const s = statsOf(view, { host: undefined, requestsPerSecond: 20, errorsPerSecond: 8.5, upstreamPerMinute: null });
    assert.equal(s.totals.requests_served, 100);
    assert.equal(s.totals.errors_served, 42);
    assert.equal(s.totals.errors_per_second, 8.5);
  });
});
