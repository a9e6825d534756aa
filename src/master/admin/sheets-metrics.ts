// The Sheets layer in /metrics, one metric per figure, named as Prometheus names them: counters
// end in _total and only grow, gauges carry their unit. The figures come from the heartbeats the
// master holds: the keeper's counts, and each worker's L1 counts.
//
// The counters are each live process's own count (the keeper's and every worker's, which start at
// 0 with the process) plus what the exited ones reported last (the arbiter keeps it), as the
// stats count them: a worker replaced or a keeper restarted never makes them go back, nor loses
// what it counted after the last scrape (only what it counted after its last heartbeat, when it
// is killed outright). They took each process's growth between scrapes, which lost all of that:
// a reload every 15 s scrape lost up to 15 s of every worker's hits.

import { Gauge, type Registry } from 'prom-client';
import { growingCounter } from './growing-counter.js';
import type { ExitedSheetsCounts } from '../child-exits.js';
import { sheetsFiguresOf, type Extra, type SheetsFigures } from './sheets-figures.js';
import type { AdminView } from './view.js';

function count(extra: Extra | undefined, name: string): number | undefined {
  const v = extra?.[name];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

type Count = keyof ExitedSheetsCounts;

export function registerSheetsMetrics(view: AdminView, registers: Registry[]): void {
  /** The count the keeper and each worker report under these names, summed (none: that role counts none). */
  const counter = (name: string, help: string, keeper: Count | undefined, worker: Count | readonly Count[] | undefined) =>
    growingCounter(name, help, registers, () => {
      const exited = view.servedByExited().sheets;
      const workers: readonly Count[] = worker === undefined ? [] : typeof worker === 'string' ? [worker] : worker;
      let now = keeper ? exited[keeper] : 0;
      for (const n of workers) now += exited[n];
      for (const c of view.children()) {
        const names = c.role === 'keeper' ? (keeper ? [keeper] : []) : workers;
        for (const n of names) now += count(c.figures?.extra, n) ?? 0;
      }
      return now;
    });

  counter('corral_sheets_cache_hits_total', "Reads answered from a cache tier: workers' L1 and the keeper's host tier (fresh or stale).", 'cacheHits', 'l1Hits');
  counter('corral_sheets_cache_misses_total', 'Reads that waited for a fetch from Google (misses of the keeper\'s host tier).', 'cacheMisses', undefined);
  counter('corral_sheets_stale_answers_total', "Reads answered older than SHEET_CACHE_TTL: the keeper's stale hits, and the workers' L1 hits of a stale copy and stale fallbacks.", 'cacheStaleHits', ['l1StaleHits', 'l1StaleFallbacks']);
  counter('corral_sheets_journal_appends_refused_total', 'Appends refused because the write journal could not be written (disk full, I/O error) or a write of it hung: the app answered them 503 not_saved.', 'journalAppendsRefused', undefined);
  counter('corral_sheets_upstream_calls_total', 'Calls that reached the Sheets API, retries and read-backs included.', 'upstreamCallsTotal', undefined);
  counter('corral_sheets_shared_reads_total', 'Ranges the keeper took from Redis (REDIS_URL), fetched by another host (or by this one before a restart), instead of reading Google.', 'sharedReads', undefined);
  counter('corral_sheets_quota_alone_grants_total', "Calls to Google paid from this host's share of the quota because Redis (REDIS_URL) was unreachable.", 'aloneQuotaGrants', undefined);

  // No sample while no keeper reports the figure (none running, another backend): an absent
  // series reads as unknown, where a 0 would read as an empty journal or a full quota.
  const gauge = (name: string, help: string, pick: (f: SheetsFigures) => number | null) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const v = pick(sheetsFiguresOf(view.children()));
        if (v === null) this.remove();
        else this.set(v);
      },
    });
  gauge('corral_sheets_quota_reads_left', 'Read calls the host-wide quota bucket allows now (SHEETS_READS_PER_MINUTE refills it).', (f) => f.quota_reads_left);
  gauge('corral_sheets_quota_reads_queued', "Reads waiting for a token of the host-wide read quota: over 0 while the minute's quota is spent (those a client waits for go first).", (f) => f.quota_reads_queued);
  gauge('corral_sheets_quota_writes_left', 'Write calls the host-wide quota bucket allows now (SHEETS_WRITES_PER_MINUTE refills it).', (f) => f.quota_writes_left);
  gauge('corral_sheets_journal_backlog_rows', 'Journaled rows Google does not have yet.', (f) => f.journal_backlog);
  gauge('corral_sheets_journal_held_rows', 'Journaled rows held for another sheet than this one (SHEET_ID or SHEETS_API_URL changed while they waited): never sent here; over 0 needs the operator.', (f) => f.journal_held_rows);
  gauge('corral_sheets_journal_oldest_row_age_seconds', 'Age of the oldest journaled row Google does not have yet (0 with none): grows while appends fail.', (f) => f.journal_oldest_seconds);
  gauge('corral_sheets_journal_writable', 'The write journal takes appends (1), or its last append could not be written (0: disk full, I/O error), or a write of it has hung for 10 s or more (0: a dead mount, a failing drive), and appends are refused.', (f) => (f.journal_writable === null ? null : f.journal_writable ? 1 : 0));
  gauge('corral_sheets_ranges_failing', "Ranges whose last fetch from Google failed, or whose fetch in flight has an attempt failed (answered stale meanwhile, or failing): over 0 while Google fails; failing ranges are retried in the background, so it falls back to 0 once Google answers.", (f) => f.ranges_failing);
  new Gauge({
    name: 'corral_sheets_redis_connected',
    help: "The keeper's link to Redis (REDIS_URL) is up (1) or down (0: the host reads Google and spends the quota on its own share); absent without REDIS_URL.",
    registers,
    collect() {
      const keeper = view.children().find((c) => c.role === 'keeper' && typeof c.figures?.extra?.redisConnected === 'boolean');
      if (!keeper) this.remove();
      else this.set(keeper.figures?.extra?.redisConnected === true ? 1 : 0);
    },
  });
  gauge('corral_sheets_max_staleness_seconds', 'Worst staleness (seconds past SHEET_CACHE_TTL) of an answer the keeper served in the last minute; 0 when all were fresh.', (f) => f.max_stale_seconds);
}
