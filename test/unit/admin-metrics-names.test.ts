// /metrics as Prometheus expects it: counters end in _total and never go back, whichever
// processes come and go between scrapes; a gauge carries one unit, named in its name; the Sheets
// figures are one metric each, absent while no keeper reports them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import { addServed } from '../../src/master/child-exits.js';
import type { ChildRecord } from '../../src/master/registry.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

interface Family {
  readonly type: string;
  readonly help: string;
  readonly samples: Map<string, number>;
}

function parse(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) {
      f = { type: '', help: '', samples: new Map() };
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\w+) (.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2] as string);
      families.set(meta[2] as string, meta[1] === 'HELP' ? { ...f, help: meta[3] as string } : { ...f, type: meta[3] as string });
      continue;
    }
    const sample = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (sample) family(sample[1] as string).samples.set(sample[2] ?? '', Number(sample[3]));
  }
  return families;
}

const keeperExtra = (hits: number) => ({ extra: { cacheHits: hits, cacheStaleHits: 2, cacheMisses: 10, upstreamCallsTotal: 12, readTokensLeft: 55, readQueue: 9, writeTokensLeft: 60, journalBacklogRows: 3, journalHeldRows: 2, journalOldestRowSeconds: 40, maxStaleSeconds: 7, rangesFailing: 1, journalWritable: false, journalAppendsRefused: 4 } });

describe('/metrics names and counters', () => {
  it('counters end in _total, gauges do not, every family has help, and none mixes units under a label', async () => {
    const view = createFakeView(testSettings(), [child(1, 101, 'ready', { extra: { l1Hits: 5 } }), child(0, 100, 'ready', keeperExtra(20), 'keeper')]);
    const families = parse(await createAdminMetrics(view, () => undefined).render());
    assert.ok(families.size > 20);
    for (const [name, f] of families) {
      assert.ok(name.startsWith('corral_'), name);
      assert.ok(f.help.length > 10, `${name} has help`);
      if (f.type === 'counter') assert.match(name, /_total$/, `counter ${name}`);
      else assert.doesNotMatch(name, /_total$/, `${f.type} ${name}`);
      for (const labels of f.samples.keys()) assert.doesNotMatch(labels, /figure=/, `${name} mixes figures of different units under one name`);
    }
    const value = (name: string) => families.get(name)?.samples.get('');
    assert.equal(value('corral_sheets_cache_hits_total'), 25, "the keeper's hits and the worker's L1 hits");
    assert.equal(value('corral_sheets_cache_misses_total'), 10);
    assert.equal(value('corral_sheets_stale_answers_total'), 2);
    assert.equal(value('corral_sheets_upstream_calls_total'), 12);
    assert.equal(value('corral_sheets_quota_reads_left'), 55);
    assert.equal(value('corral_sheets_quota_reads_queued'), 9);
    assert.equal(value('corral_sheets_journal_backlog_rows'), 3);
    assert.equal(value('corral_sheets_journal_held_rows'), 2);
    assert.equal(value('corral_sheets_journal_oldest_row_age_seconds'), 40);
    assert.equal(value('corral_sheets_max_staleness_seconds'), 7);
    assert.equal(value('corral_sheets_ranges_failing'), 1);
    assert.equal(value('corral_sheets_journal_writable'), 0);
    assert.equal(value('corral_sheets_journal_appends_refused_total'), 4);
  });

  it('no counter goes back when a worker is replaced and the keeper restarts, and the Sheets gauges are absent with no keeper', async () => {
    const view = createFakeView(testSettings(), [
      child(1, 101, 'ready', { requestsServed: 500, extra: { l1Hits: 300, l1StaleFallbacks: 4 } }),
      child(2, 102, 'ready', { requestsServed: 200, extra: { l1Hits: 100 } }),
      child(0, 100, 'ready', keeperExtra(50), 'keeper'),
    ]);
    const metrics = createAdminMetrics(view, () => undefined);
    const counters = (families: Map<string, Family>) => new Map([...families].filter(([, f]) => f.type === 'counter').map(([n, f]) => [n, f.samples.get('') ?? 0]));
    const first = counters(parse(await metrics.render()));
    assert.equal(first.get('corral_sheets_cache_hits_total'), 450);

    // Worker 1 is replaced (its last report goes to the exited totals, as the arbiter does) and the
    // keeper restarts: the new processes count from 0.
    addServed(view.exited, view.kids[0] as unknown as ChildRecord);
    addServed(view.exited, view.kids[2] as unknown as ChildRecord);
    view.kids = [child(1, 103, 'ready', { requestsServed: 3, extra: { l1Hits: 1 } }), view.kids[1]!];
    const noKeeper = parse(await metrics.render());
    for (const name of ['corral_sheets_quota_reads_left', 'corral_sheets_quota_reads_queued', 'corral_sheets_journal_backlog_rows', 'corral_sheets_journal_held_rows', 'corral_sheets_journal_oldest_row_age_seconds']) {
      assert.equal(noKeeper.get(name)?.samples.size ?? 0, 0, `${name} has no sample with no keeper`);
    }
    view.kids.push(child(0, 104, 'ready', keeperExtra(6), 'keeper'));
    const second = counters(parse(await metrics.render()));
    for (const [name, v] of first) assert.ok((second.get(name) ?? 0) >= v, `${name} went from ${v} to ${second.get(name)}`);
    assert.equal(second.get('corral_sheets_cache_hits_total'), 450 + 1 + 6, 'the new processes add to the total');
    assert.equal(second.get('corral_requests_total'), 703);
  });
});
