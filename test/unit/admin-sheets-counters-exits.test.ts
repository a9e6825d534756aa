// The corral_sheets_*_total counters keep what a process counted between the last scrape and its
// exit: they are the live processes' counts plus the exited ones' last reports, as the stats'
// `sheets` figures are. They took each process's growth between two scrapes, so hits a worker
// counted after the last scrape were lost when it was replaced (audit: 50 hits, then kill -9 of
// both workers; the stats said 99 hits, /metrics 49, and stayed there).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import { statsOf } from '../../src/master/admin/figures.js';
import { addServed } from '../../src/master/child-exits.js';
import type { ChildRecord } from '../../src/master/registry.js';
import type { ChildSnapshot } from '../../src/master/admin/view.js';
import { child, createFakeView, testSettings, type FakeView } from '../fixtures/fake-admin-view.js';

/** What the arbiter's reap does with a child that exited: its last report goes to the exited counts. */
function exit(view: FakeView, gone: ChildSnapshot): void {
  addServed(view.exited, gone as unknown as ChildRecord);
  view.kids = view.kids.filter((k) => k !== gone);
}

const keeperCounts = (hits: number, misses: number, upstream: number, refused: number) => ({
  extra: { cacheHits: hits, cacheMisses: misses, cacheStaleHits: 0, upstreamCallsTotal: upstream, journalAppendsRefused: refused },
});

describe('/metrics Sheets counters across exits', () => {
  it('count what a worker and the keeper counted after the last scrape, before they exited, as the stats do', async () => {
    const view = createFakeView(testSettings(), [child(1, 101, 'ready', { extra: { l1Hits: 10, l1StaleFallbacks: 1 } }), child(0, 100, 'ready', keeperCounts(5, 2, 3, 0), 'keeper')]);
    const metrics = createAdminMetrics(view, () => undefined);
    const scraped = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await metrics.render())?.[1]);
    assert.equal(await scraped('corral_sheets_cache_hits_total'), 15);

    // Between two scrapes: the worker answers 100 more reads from its L1 and the keeper makes 6
    // more upstream calls, and each reports it in a heartbeat; then both are killed and replaced.
    const worker = child(1, 101, 'ready', { extra: { l1Hits: 110, l1StaleFallbacks: 3, l1StaleHits: 7 } });
    const keeper = child(0, 100, 'ready', keeperCounts(5, 4, 9, 2), 'keeper');
    view.kids = [worker, keeper];
    exit(view, worker);
    exit(view, keeper);
    view.kids.push(child(2, 102, 'ready', { extra: { l1Hits: 0, l1StaleFallbacks: 0 } }), child(0, 103, 'ready', keeperCounts(0, 0, 0, 0), 'keeper'));

    const stats = statsOf(view, { host: undefined, upstreamPerMinute: null }).sheets;
    assert.equal(stats.cache_hits, 115);
    assert.equal(await scraped('corral_sheets_cache_hits_total'), stats.cache_hits, 'the same count as the stats');
    assert.equal(await scraped('corral_sheets_cache_misses_total'), stats.cache_misses);
    assert.equal(await scraped('corral_sheets_stale_answers_total'), 10);
    assert.equal(stats.stale_answers, 10, 'the same count as the stats');
    assert.equal(await scraped('corral_sheets_upstream_calls_total'), 9);
    assert.equal(stats.upstream_calls_total, 9, "the stats' upstream_calls_total counts the keeper that exited too, as the counter of the same name does");
    assert.equal(await scraped('corral_sheets_journal_appends_refused_total'), 2);

    // The new processes count on from there.
    view.kids = [child(2, 102, 'ready', { extra: { l1Hits: 7 } }), child(0, 103, 'ready', keeperCounts(1, 1, 1, 0), 'keeper')];
    assert.equal(await scraped('corral_sheets_cache_hits_total'), 115 + 8);
    assert.equal(await scraped('corral_sheets_upstream_calls_total'), 10);
  });
});
