import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { RetryListener, ValueRange } from '../../src/sheets/backend.js';
import { SheetsError } from '../../src/sheets/errors.js';
import { STATE_BYTES } from '../../src/sheets/keeper/cache-budget.js';
import { sleepOn } from '../../src/sheets/keeper/clock.js';
import { paced, pacer } from '../../src/sheets/keeper/pacing.js';
import { QUOTA_WINDOW_MS, QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { UNASKED_RETRIES } from '../../src/sheets/keeper/range-failures.js';
import { ReadTier } from '../../src/sheets/keeper/read-tier.js';
import { UpstreamMeter } from '../../src/sheets/keeper/upstream-meter.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock, settle } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';

const PLAYERS = [
  ['name', 'code'],
  ['Alice', 'P001'],
];
const TTL = 30_000;
const MAX_STALE = 600_000;

/** A read's outcome if it is already settled, 'waiting' if it still waits (for the fake clock). */
async function outcome(p: Promise<unknown>): Promise<string> {
  const settled = p.then(
    () => 'answered',
    (err: Error & { code?: string }) => err.code ?? err.message,
  );
  await settle();
  return Promise.race([settled, Promise.resolve('waiting')]);
}

describe('keeper cache tier (L2)', () => {
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let tier: ReadTier;
  let changes: string[];

  beforeEach(async () => {
    clock = new FakeClock();
    backend = new FakeBackend({ Players: PLAYERS });
    log = await captureLogger();
    changes = [];
    tier = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 1 << 20, clock, onChange: (r) => changes.push(r) });
  });
  afterEach(() => {
    tier.close();
    log.close();
  });

  it('20 reads of distinct ranges in flight listen on the one closing signal without a MaxListenersExceededWarning', async () => {
    // As the Google client does: each call in flight listens for the abort, and stops when done.
    const listening = new (class extends FakeBackend {
      override async getValues(range: string, signal?: AbortSignal): Promise<ValueRange> {
        const onAbort = () => {};
        signal?.addEventListener('abort', onAbort);
        try {
          return await super.getValues(range);
        } finally {
          signal?.removeEventListener('abort', onAbort);
        }
      }
    })(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`T${i}`, PLAYERS])));
    const wide = new ReadTier({ backend: listening, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 1 << 20, clock });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      listening.hold();
      const reads = Array.from({ length: 20 }, (_, i) => wide.get(`'T${i}'`));
      await settle();
      assert.equal(listening.count('get'), 20, 'all twenty in flight at once');
      listening.release();
      await Promise.all(reads);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
      wide.close();
    }
  });

  it('single-flight: 200 concurrent misses on one range make one upstream call', async () => {
    backend.hold();
    const reads = Array.from({ length: 200 }, () => tier.get('Players'));
    await settle();
    assert.equal(backend.count('get', 'Players'), 1);
    backend.release();
    const answers = await Promise.all(reads);
    assert.equal(backend.count('get', 'Players'), 1);
    for (const a of answers) assert.deepEqual(a.value.values, PLAYERS);
    assert.equal(answers.filter((a) => a.via === 'miss').length, 200);
    // A first fill is no change: no worker holds a copy of it from this keeper yet.
    assert.deepEqual(changes, []);
  });

  it("holds the backend's own rows, not a copy of them; only a row with a cell that is not a string is rewritten", async () => {
    const rows = [['name', 'code'], ['Alice', 'P001'], ['Bob', 7 as unknown as string], ['Carol', 'P003']];
    const answer = { range: 'Players!A1:B4', majorDimension: 'ROWS' as const, values: rows };
    const own = new ReadTier({
      backend: {
        kind: 'google',
        description: 'a fixed answer',
        source: 'a fixed answer',
        destination: 'a fixed sheet',
        getValues: async () => answer,
        batchGetValues: async () => [answer],
        appendValues: async () => ({ updatedRange: '', updatedRows: 0 }),
        close: async () => undefined,
      },
      logger: log.logger,
      ttlMs: TTL,
      maxStaleMs: MAX_STALE,
      maxBytes: 1 << 20,
      clock,
    });
    try {
      const mixed = (await own.get('Players')).value.values;
      assert.deepEqual(mixed, [['name', 'code'], ['Alice', 'P001'], ['Bob', '7'], ['Carol', 'P003']]);
      assert.equal(mixed[0], rows[0], 'rows before the first non-string cell are the same arrays');
      assert.equal(mixed[3], rows[3], 'and so are the rows after it');
      rows[2] = ['Bob', 'P002'];
      await clock.advance(TTL + 1);
      await own.get('Players');
      await settle();
      const strings = (await own.get('Players')).value.values;
      assert.equal(strings, rows, 'all strings: the very array the backend answered');
      assert.equal(JSON.parse((await own.get('Players')).value.jsonBytes.toString('utf8'))[2][1], 'P002');
    } finally {
      own.close();
    }
  });

  it('a refresh that changed the values tells the workers; one that did not, stays quiet', async () => {
    await tier.get('Players');
    await clock.advance(TTL + 1);
    await tier.get('Players');
    await settle();
    assert.equal(backend.count('get'), 2);
    assert.deepEqual(changes, [], 'same values');
    (backend.tabs.get('Players') as string[][]).push(['Bob', 'P002']);
    await clock.advance(TTL + 1);
    await tier.get('Players');
    await settle();
    assert.deepEqual(changes, ['Players']);
  });

  it('a refresh that finds the same bytes keeps the rows and bytes held (the same objects) with its own times; other bytes are a new value', async () => {
    const first = (await tier.get('Players')).value;
    await clock.advance(TTL + 1);
    await tier.get('Players');
    await settle();
    const refreshed = (await tier.get('Players')).value;
    assert.equal(backend.count('get'), 2);
    assert.notEqual(refreshed, first, 'a new value');
    assert.equal(refreshed.values, first.values, 'holding the same rows');
    assert.equal(refreshed.jsonBytes, first.jsonBytes, 'and the same bytes, so the copy keeps its name (copy-identity.ts)');
    assert.equal(refreshed.fetchedAt, first.fetchedAt + TTL + 1, 'with the new fetch time');
    assert.equal(refreshed.expiresAt, refreshed.fetchedAt + TTL);
    (backend.tabs.get('Players') as string[][]).push(['Bob', 'P002']);
    await clock.advance(TTL + 1);
    await tier.get('Players');
    await settle();
    const changed = (await tier.get('Players')).value;
    assert.notEqual(changed.values, first.values);
    assert.notEqual(changed.jsonBytes, first.jsonBytes);
    assert.equal(changed.values.length, 3);
  });

  it('tells the journal whether a copy from before a time can still be served (and so still needs its rows)', async () => {
    const t0 = clock.now();
    await tier.get('Players');
    const isPlayers = (r: string) => r === 'Players';
    assert.equal(tier.hasValueFetchedBy(isPlayers, t0), true);
    assert.equal(tier.hasValueFetchedBy(isPlayers, t0 - 1), false, 'fetched after that time');
    assert.equal(tier.hasValueFetchedBy((r) => r === 'Events', t0), false);
    // Past its max staleness the copy is never served again, so it holds nothing back.
    await clock.advance(TTL + MAX_STALE + 1);
    assert.equal(tier.hasValueFetchedBy(isPlayers, t0), false);
  });

  it('a copy evicted while its refresh is in flight, and still answered, still holds back the journal\'s done rows (and is held, and handed over)', async () => {
    // Room for the range and little else: ranges handed over after it evict it while its
    // stale-while-revalidate refresh is held upstream (as one queued for a read token).
    const small = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 8192, clock });
    const t0 = clock.now();
    await small.get('Players');
    await clock.advance(TTL + 1);
    backend.hold();
    assert.equal((await small.get('Players')).via, 'stale');
    const rows = Array.from({ length: 20 }, (_, i) => [`r${i}`, 'x'.repeat(40)]);
    small.restore(['T_a', 'T_b', 'T_c'].map((range) => ({ range, values: rows, jsonBytes: Buffer.from(JSON.stringify(rows)), fetchStartedAt: clock.now(), fetchedAt: clock.now() })));
    // Still answered from that copy (its fetch is joined, not made again)...
    const again = await small.get('Players');
    assert.equal(again.via, 'stale');
    // ...so the rows that reached Google after it began are still needed by its reads.
    assert.equal(small.hasValueFetchedBy((r) => r === 'Players', t0), true);
    assert.equal(small.holdsServable('Players'), true);
    assert.ok(small.servableValues().some((v) => v.range === 'Players'));
    backend.release();
    await settle();
    assert.equal(backend.count('get', 'Players'), 2);
    small.close();
  });

  it('fresh within the TTL: no upstream call', async () => {
    await tier.get('Players');
    await clock.advance(TTL - 1);
    const a = await tier.get('Players');
    assert.equal(a.via, 'fresh');
    assert.equal(a.stale, false);
    assert.equal(backend.count('get'), 1);
  });

  it('stale-while-revalidate: an expired value is answered at once while ONE refresh runs', async () => {
    await tier.get('Players');
    await clock.advance(TTL + 5000);
    backend.hold();
    (backend.tabs.get('Players') as string[][]).push(['Bob', 'P002']);
    // Many readers after expiry: all answered from the stale copy, one background refresh.
    const answers = await Promise.all(Array.from({ length: 50 }, () => tier.get('Players')));
    for (const a of answers) {
      assert.equal(a.via, 'stale');
      assert.equal(a.stale, true);
      assert.equal(a.staleSeconds, 5);
      assert.equal(a.value.values.length, 2, 'the old value, not waiting for the refresh');
    }
    assert.equal(backend.count('get'), 2, 'exactly one refresh started');
    backend.release();
    await settle();
    const after = await tier.get('Players');
    assert.equal(after.via, 'fresh');
    assert.equal(after.value.values.length, 3);
    assert.equal(backend.count('get'), 2);
  });

  it('with SHEET_CACHE_MAX_STALE 0 no expired copy is served: the readers after an expiry wait for the one refresh', async () => {
    const strict = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: 0, maxBytes: 1 << 20, clock });
    try {
      await strict.get('Players');
      await clock.advance(TTL + 1);
      backend.hold();
      (backend.tabs.get('Players') as string[][]).push(['Bob', 'P002']);
      const readers = Array.from({ length: 5 }, () => strict.get('Players'));
      assert.equal(await outcome(readers[0]!), 'waiting', 'held for Google, not answered the expired copy');
      backend.release();
      for (const a of await Promise.all(readers)) assert.deepEqual([a.via, a.stale, a.value.values.length], ['miss', false, 3]);
      assert.equal(backend.count('get'), 2, 'one refresh for all of them');
    } finally {
      strict.close();
    }
  });

  it('the next refresh comes a full TTL after the previous fetch completed', async () => {
    backend.hold();
    const first = tier.get('Players');
    await clock.advance(800);
    backend.release();
    await first;
    // Expires TTL after completion (t=800), not after the start (t=0).
    await clock.advance(TTL - 1);
    assert.equal((await tier.get('Players')).via, 'fresh');
    await clock.advance(1);
    assert.equal((await tier.get('Players')).via, 'stale');
    await settle();
    assert.equal(backend.count('get'), 2);
  });

  it('stale-if-error: serves the last good value while upstream fails, said at the first failure, then at most once a minute with the count, then once at the end', async () => {
    await tier.get('Players');
    backend.failReads = true;
    await clock.advance(TTL);
    const seen: number[] = [];
    // Two minutes of failing upstream, a read every second.
    for (let i = 0; i < 120; i++) {
      const a = await tier.get('Players');
      assert.deepEqual(a.value.values, PLAYERS);
      assert.equal(a.stale, true);
      seen.push(a.staleSeconds);
      await clock.advance(1000);
    }
    assert.ok((seen.at(-1) ?? 0) >= 119, 'the staleness figure grows');
    assert.ok((tier.figures().maxStaleSeconds ?? 0) >= 119);
    assert.equal(tier.figures().rangesFailing, 1);
    const upstreamCalls = backend.count('get');
    const failedCalls = upstreamCalls - 1;
    assert.ok(upstreamCalls < 30, `failed refreshes back off instead of hammering (${upstreamCalls} calls in 120 s)`);
    const failed = () => log.lines().filter((l) => l.event === 'sheets.upstream_read_failed' && l.range === 'Players');
    const lines = failed();
    // The first failure at once, with its cause; in the two minutes after it, one or two lines
    // more (at most one a minute, retries being at least a second apart), each with the count since.
    assert.ok(lines.length >= 2 && lines.length <= 3, `${lines.length} lines for ${failedCalls} failed refreshes`);
    assert.deepEqual([lines[0]?.level, lines[0]?.failures, (lines[0]?.err as { code?: string }).code], ['warn', 1, 'CORRAL_ERR_SHEETS_UNAVAILABLE']);
    assert.ok(lines.slice(1).every((l) => l.level === 'warn' && Number(l.failures) > 1), 'the later lines count several failures each');
    assert.ok(lines.reduce((n, l) => n + Number(l.failures), 0) <= failedCalls);
    // Recovery: a new value, one recovery line with the count of the whole failure.
    backend.failReads = false;
    await clock.advance(TTL);
    await tier.get('Players');
    await settle();
    const fresh = await tier.get('Players');
    assert.equal(fresh.stale, false);
    const recovered = log.lines().filter((l) => l.event === 'sheets.upstream_read_recovered');
    assert.deepEqual(
      recovered.map((l) => [l.level, l.range, l.failures]),
      [['info', 'Players', backend.count('get') - 2]],
    );
    assert.ok(String(recovered[0]?.msg).includes('refreshed again'));
    // A later failure, more than a minute after the last line, is said again at once.
    backend.failReads = true;
    await clock.advance(TTL + 1);
    await tier.get('Players');
    await settle();
    assert.equal(failed().length, lines.length + 1);
    assert.equal(failed().at(-1)?.failures, 1);
  });

  it('a failure no retry mends (the tab deleted) is said at once, though a blip of 503s was said less than a minute before', async () => {
    await tier.get('Players');
    const failed = () => log.lines().filter((l) => l.event === 'sheets.upstream_read_failed' && l.range === 'Players');
    backend.failReads = true;
    await clock.advance(TTL);
    await tier.get('Players');
    await settle();
    assert.deepEqual(failed().map((l) => (l.err as { code?: string }).code), ['CORRAL_ERR_SHEETS_UNAVAILABLE']);
    // The blip ends; 10 s later the tab is gone.
    backend.failReads = false;
    await clock.advance(5000);
    await tier.get('Players');
    await settle();
    backend.tabs.delete('Players');
    await clock.advance(TTL + 10_000);
    await tier.get('Players');
    await settle();
    assert.deepEqual(failed().map((l) => (l.err as { code?: string }).code), ['CORRAL_ERR_SHEETS_UNAVAILABLE', 'CORRAL_ERR_SHEETS_BAD_RANGE']);
  });

  it("a failed refresh is not retried before the Retry-After Google sent, even past the TTL", async () => {
    await tier.get('Players');
    const fill = backend.getValues.bind(backend);
    backend.getValues = async (range: string) => {
      backend.calls.push({ op: 'get', range });
      throw new SheetsError('CORRAL_ERR_SHEETS_QUOTA', "fake: 429 RESOURCE_EXHAUSTED", { status: 429, reason: 'RESOURCE_EXHAUSTED', applied: 'no', retryable: true, retryAfterMs: 90_000 });
    };
    await clock.advance(TTL);
    await tier.get('Players');
    await settle();
    assert.equal(backend.count('get'), 2, 'the refresh that got the 429');
    // A read a second for 80 s, well past the 30 s TTL: stale answers, no call.
    for (let i = 0; i < 80; i++) {
      assert.equal((await tier.get('Players')).stale, true);
      await clock.advance(1000);
    }
    assert.equal(backend.count('get'), 2, 'nothing before the 90 s Google asked for');
    backend.getValues = fill;
    await clock.advance(11_000);
    await tier.get('Players');
    await settle();
    assert.equal(backend.count('get'), 3, 'the next refresh once the wait is over');
  });

  it('past SHEET_CACHE_MAX_STALE the value is no longer served: the error reaches the caller', async () => {
    await tier.get('Players');
    backend.failReads = true;
    await clock.advance(TTL + MAX_STALE + 1);
    await assert.rejects(tier.get('Players'), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_SHEETS_UNAVAILABLE');
  });

  it('a failing range whose copy passes SHEET_CACHE_MAX_STALE says at once that its reads fail, not up to a minute after its line that the copy is served', async () => {
    const maxStale = 20_000;
    const short = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: maxStale, maxBytes: 1 << 20, clock });
    try {
      await short.get('Players');
      backend.failReads = true;
      await clock.advance(TTL + 1);
      assert.equal((await short.get('Players')).via, 'stale');
      await settle();
      const failed = () => log.lines().filter((l) => l.event === 'sheets.upstream_read_failed' && l.range === 'Players');
      assert.equal(failed().length, 1);
      assert.match(String(failed()[0]?.msg), /serving the last good value/);
      // A read a second past max-stale is answered the error: said with it, 20 s after the first line.
      await clock.advance(maxStale);
      await assert.rejects(short.get('Players'), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_SHEETS_UNAVAILABLE');
      const lines = failed();
      assert.equal(lines.length, 2, 'said at once');
      assert.match(String(lines[1]?.msg), /reads of this range fail/);
      assert.deepEqual([lines[1]?.level, lines[1]?.maxStaleSeconds, (lines[1]?.err as { code?: string }).code], ['warn', 20, 'CORRAL_ERR_SHEETS_UNAVAILABLE']);
      assert.ok(Number(lines[1]?.staleSeconds) >= 20, String(lines[1]?.staleSeconds));
      // Once: the reads after it, and the retries' failures within the minute, say nothing more.
      for (let i = 0; i < 10; i++) {
        await assert.rejects(short.get('Players'));
        await clock.advance(1000);
      }
      assert.equal(failed().length, 2);
    } finally {
      short.close();
    }
  });

  describe('past SHEET_CACHE_MAX_STALE, a read never waits through the retries of a failing Google', () => {
    const ttl = 2000;
    const maxStale = 3000;
    let short: ReadTier;
    /** Upstream attempts of the calls since the test began (each call tries up to 5 times). */
    let attempts: number;
    let failing: boolean;
    beforeEach(async () => {
      short = new ReadTier({ backend, logger: log.logger, ttlMs: ttl, maxStaleMs: maxStale, maxBytes: 1 << 20, clock });
      await short.get('Players');
      attempts = 0;
      failing = true;
      // Google's client: 5 attempts, each failed one told to onRetry then followed by a backoff of
      // 1, 2, 4, 8 s (15 s in all); an attempt answers once `failing` is off.
      const fill = backend.getValues.bind(backend);
      backend.getValues = async (range: string, signal?: AbortSignal, onRetry?: RetryListener) => {
        backend.calls.push({ op: 'get', range });
        for (let attempt = 1; ; attempt++) {
          attempts++;
          if (!failing) return fill(range);
          const err = new SheetsError('CORRAL_ERR_SHEETS_UNAVAILABLE', 'fake: 503 backend error', { status: 503, reason: 'UNAVAILABLE', applied: 'maybe', retryable: true });
          if (attempt === 5) throw err;
          onRetry?.(err);
          await sleepOn(clock, 1000 * 2 ** (attempt - 1), signal);
        }
      };
    });
    afterEach(() => short.close());

    it('a read that finds the refresh in flight retrying gets its error at once, and so does every read until Google answers, which the reads after it see', async () => {
      await clock.advance(ttl);
      // Within max-stale: the stale copy, and one refresh, whose first attempt fails.
      assert.equal((await short.get('Players')).via, 'stale');
      await clock.advance(maxStale + 1);
      // Past max-stale while that refresh waits out its backoff: the error now, not in 15 s.
      assert.equal(await outcome(short.get('Players')), 'CORRAL_ERR_SHEETS_UNAVAILABLE');
      // Every second for a minute: each read answered at once, the refresh gone through all its
      // attempts, then retried in the background no more often than the tier's backoff.
      for (let i = 0; i < 60; i++) {
        assert.equal(await outcome(short.get('Players')), 'CORRAL_ERR_SHEETS_UNAVAILABLE', `read ${i}`);
        await clock.advance(1000);
      }
      const calls = backend.count('get');
      assert.ok(calls >= 3 && calls <= 8, `the failing range is still tried, but not by every read (${calls} calls)`);
      // Google recovers: a read starts the refresh (after the backoff) and the next ones have its value.
      failing = false;
      await clock.advance(ttl);
      const during = await outcome(short.get('Players'));
      await clock.advance(16_000);
      const after = await short.get('Players');
      assert.ok(during === 'answered' || during === 'CORRAL_ERR_SHEETS_UNAVAILABLE', during);
      assert.equal(after.stale, false);
      assert.deepEqual(after.value.values, PLAYERS);
    });

    it("a range counts as failing from its refresh's first failed attempt, not only once all of Google's retries failed", async () => {
      await clock.advance(ttl);
      assert.equal((await short.get('Players')).via, 'stale');
      await settle();
      // The first attempt failed; the refresh waits 1 s to retry (15 s of retries in all).
      assert.equal(short.figures().rangesFailing, 1);
      failing = false;
      await clock.advance(1000);
      assert.equal(short.figures().rangesFailing, 0, 'the retry worked');
    });

    it("the recovered line's duration counts from the first failed attempt, not from the moment Google's retries gave up", async () => {
      await clock.advance(ttl);
      const firstFailed = clock.now();
      assert.equal((await short.get('Players')).via, 'stale');
      // The refresh's five attempts (15 s), then the tier's backoff and background retries.
      await clock.advance(40_000);
      failing = false;
      await clock.advance(30_000);
      await short.get('Players');
      await settle();
      const recovered = log.lines().filter((l) => l.event === 'sheets.upstream_read_recovered');
      assert.equal(recovered.length, 1);
      // Google failed for 40 s from the first attempt; the retries gave up 15 s into it.
      const seconds = Number(recovered[0]?.failedForSeconds);
      assert.ok(seconds >= 40 && seconds <= Math.round((clock.now() - firstFailed) / 1000), `failedForSeconds ${seconds}`);
    });

    it("with no failure seen, a read waits for the refresh's first attempt only: its value, or its error at once", async () => {
      failing = false;
      // A range nobody read for a while, Google answering: the read waits, and has the value.
      await clock.advance(ttl + maxStale + 1);
      const idle = await short.get('Players');
      assert.deepEqual([idle.via, idle.stale], ['miss', false]);
      // Again, Google now failing: the error as soon as the first attempt failed, not after 15 s.
      failing = true;
      await clock.advance(ttl + maxStale + 1);
      const before = backend.count('get');
      assert.equal(await outcome(short.get('Players')), 'CORRAL_ERR_SHEETS_UNAVAILABLE');
      assert.equal(backend.count('get'), before + 1);
      assert.equal(attempts, 2, "the idle range's fill, then one failed attempt: the read did not wait for the retries");
    });
  });

  it('a cold miss while upstream fails errors, without a second call per caller', async () => {
    backend.failReads = true;
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => tier.get('Players')));
    assert.ok(results.every((r) => r.status === 'rejected'));
    assert.equal(backend.count('get'), 1);
    await assert.rejects(tier.get('Players'));
    assert.equal(backend.count('get'), 1, 'inside the backoff, callers get the last error');
  });

  it('a range bigger than the whole byte budget is still cached: one upstream read per TTL, and one warning that the budget is exceeded', async () => {
    const small = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 4096, budgetSetting: 'CORRAL_L1_CACHE_MB', clock });
    backend.tabs.set('Big', Array.from({ length: 200 }, (_, i) => [`row${i}`, 'x'.repeat(50)]));
    const warnings = () => log.lines().filter((l) => l.event === 'sheets.range_over_budget' && l.range === 'Big');
    const before = warnings().length;
    assert.equal((await small.get('Big')).via, 'miss');
    for (let i = 0; i < 5; i++) {
      await clock.advance(1000);
      assert.equal((await small.get('Big')).via, 'fresh');
    }
    assert.equal(backend.count('get', 'Big'), 1);
    // Refreshed after its TTL: the range is still as large, and still reported only once.
    await clock.advance(TTL);
    await small.get('Big');
    assert.equal(warnings().length - before, 1);
    assert.match(String(warnings().at(-1)?.msg), /more than half the cache budget of 0\.0 MB: it stays cached .*; but two such ranges cannot stay together: each pushes the other out, whose next read then waits for upstream; raise CORRAL_L1_CACHE_MB$/);
    small.close();
  });

  it('cached values are bounded by bytes: filling past the budget evicts the least recently used ranges', async () => {
    const small = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 16_384, clock });
    const rows = Array.from({ length: 20 }, (_, i) => [`r${i}`, 'x'.repeat(50)]);
    for (let i = 0; i < 50; i++) backend.tabs.set(`Tab_${i}`, rows);
    for (let i = 0; i < 50; i++) await small.get(`Tab_${i}`);
    // Each value is about 2.4 KB (x2 for V8's strings): a 16 KB budget holds a handful, not 50.
    const cached = small.figures().rangesCached ?? 0;
    assert.ok(cached <= 8, `${cached} ranges cached`);
    assert.equal((await small.get('Tab_49')).via, 'fresh');
    assert.equal((await small.get('Tab_0')).via, 'miss');
    small.close();
  });

  it('a range evicted while its fetch is in flight is not fetched a second time: a read of it meanwhile joins that fetch', async () => {
    // Room for three states without a value: the fourth range asked for evicts the first, whose
    // fetch is still held upstream (as one queued for a read token while other ranges fill up).
    const small = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 3 * STATE_BYTES + 100, clock });
    for (const t of ['A', 'B', 'G', 'D']) backend.tabs.set(t, PLAYERS);
    backend.hold();
    const first = small.get('A');
    const others = ['B', 'G', 'D'].map((t) => small.get(t));
    await settle();
    const again = small.get('A');
    await settle();
    assert.equal(backend.count('get', 'A'), 1, 'one upstream read of A in flight, not two');
    backend.release();
    const [a1, a2] = await Promise.all([first, again, ...others]);
    assert.equal(a1?.value, a2?.value, 'both reads of A answered by the one fetch');
    assert.equal(backend.count('get', 'A'), 1);
    small.close();
  });

  it('ranges that only failed are bounded by the byte budget too: 2000 distinct bad ranges keep at most budget / STATE_BYTES states', async () => {
    // Each holds its error and its log line's counts but no value: counted 1 byte each, they were
    // bounded by nothing (through the real keeper, 8000 distinct ones all stayed, with a 4 MB
    // budget, about 1.6 KB of heap each).
    const budget = 256 * 1024;
    const small = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: budget, clock });
    for (let i = 0; i < 2000; i++) await assert.rejects(small.get(`Nope${i}!A1:B2`), { code: 'CORRAL_ERR_SHEETS_BAD_RANGE' });
    const kept = small.figures().rangesCached ?? 0;
    assert.ok(kept <= budget / STATE_BYTES, `${kept} failed ranges kept in a ${budget} byte budget`);
    // A good range still finds room, and stays.
    assert.equal((await small.get('Players')).via, 'miss');
    assert.equal((await small.get('Players')).via, 'fresh');
    small.close();
  });

  it('one range bigger than the budget and a small one, read alternately: one upstream read each per TTL', async () => {
    const small = new ReadTier({ backend, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 4096, clock });
    backend.tabs.set('Big', Array.from({ length: 200 }, (_, i) => [`row${i}`, 'x'.repeat(50)]));
    for (let i = 0; i < 5; i++) {
      await small.get('Big');
      await small.get('Players');
      await clock.advance(1000);
    }
    assert.equal(backend.count('get', 'Big'), 1);
    assert.equal(backend.count('get', 'Players'), 1);
    small.close();
  });

  describe('a failing range that no read asks for again', () => {
    const failingCount = () => tier.figures().rangesFailing;
    const recovered = () => log.lines().filter((l) => l.event === 'sheets.upstream_read_recovered' && l.range === 'Events!1:1');
    beforeEach(() => backend.tabs.set('Events', [['event_id', 'at', 'player', 'kind', 'detail']]));

    it('is retried in the background: once Google answers, it stops counting as failing and its recovered line is said, with no read', async () => {
      backend.failReads = true;
      await assert.rejects(tier.get('Events!1:1'));
      assert.equal(failingCount(), 1);
      await clock.advance(5000);
      assert.equal(failingCount(), 1, 'still failing');
      backend.failReads = false;
      // The retries are on the tier's backoff, capped at the TTL: within one TTL of Google's return.
      await clock.advance(TTL);
      assert.equal(failingCount(), 0);
      assert.equal(recovered().length, 1);
      assert.equal(recovered()[0]?.failures, backend.count('get', 'Events!1:1') - 1);
      // Recovered: no more background reads of it.
      const calls = backend.count('get');
      await clock.advance(10 * TTL);
      assert.equal(backend.count('get'), calls);
    });

    it(`is retried at most ${UNASKED_RETRIES} times, then no longer counted as failing (said once), until a read asks for it again`, async () => {
      backend.failReads = true;
      await assert.rejects(tier.get('Events!1:1'));
      await clock.advance(10 * TTL);
      assert.equal(backend.count('get', 'Events!1:1'), 1 + UNASKED_RETRIES, 'the read, then the bounded background retries');
      assert.equal(failingCount(), 0, 'given up on: nobody needs it');
      const unasked = log.lines().filter((l) => l.event === 'sheets.upstream_read_unasked');
      assert.deepEqual(unasked.map((l) => [l.range, l.retries, l.retries_uncalled]), [['Events!1:1', UNASKED_RETRIES, 0]]);
      assert.doesNotMatch(String(unasked[0]?.msg), /Google/, 'each retry was an answer of Google\'s');
      await clock.advance(10 * TTL);
      assert.equal(backend.count('get', 'Events!1:1'), 1 + UNASKED_RETRIES, 'and not read again');
      // A read asks for it again: it is tried, counted as failing, and retried again.
      await assert.rejects(tier.get('Events!1:1'));
      assert.equal(failingCount(), 1);
      assert.equal(backend.count('get', 'Events!1:1'), 2 + UNASKED_RETRIES);
      backend.failReads = false;
      await clock.advance(TTL);
      assert.equal(failingCount(), 0);
      assert.equal(recovered().length, 1);
    });

    it('says how many of its retries made no call to Google (this host\'s full read queue refused them)', async () => {
      // The read queue full for the whole time: every background retry is refused here, not by Google.
      const full = new (class extends FakeBackend {
        override async getValues(range: string): Promise<ValueRange> {
          if (range.startsWith('Events')) throw Object.assign(new Error('the read queue is full'), { code: 'CORRAL_ERR_QUEUE_FULL' });
          return super.getValues(range);
        }
      })({ Players: PLAYERS });
      const queued = new ReadTier({ backend: full, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 1 << 20, clock });
      try {
        await assert.rejects(queued.get('Events!1:1'));
        await clock.advance(10 * TTL);
        const unasked = log.lines().filter((l) => l.event === 'sheets.upstream_read_unasked');
        assert.deepEqual(unasked.map((l) => [l.retries, l.retries_uncalled]), [[UNASKED_RETRIES, UNASKED_RETRIES]]);
        assert.match(String(unasked[0]?.msg), new RegExp(`after ${UNASKED_RETRIES} retries that no read asked for \\(none of them reached Google: this host's full read queue`));
      } finally {
        queued.close();
      }
    });

    it('counts a background retry a read joined as the read\'s, not among the retries that made no call to Google', async () => {
      // The read queue full throughout; a read asks for the range while a background retry is in
      // flight and shares its failure: that failure is the read's, and the retries start again.
      let gate: Promise<void> | undefined;
      let open = (): void => {};
      const full = new (class extends FakeBackend {
        override async getValues(range: string): Promise<ValueRange> {
          if (!range.startsWith('Events')) return super.getValues(range);
          this.events++;
          if (gate) await gate;
          throw Object.assign(new Error('the read queue is full'), { code: 'CORRAL_ERR_QUEUE_FULL' });
        }
        events = 0;
      })({ Players: PLAYERS });
      const queued = new ReadTier({ backend: full, logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 1 << 20, clock });
      try {
        await assert.rejects(queued.get('Events!1:1'));
        gate = new Promise((r) => (open = r));
        await clock.advance(TTL);
        assert.equal(full.events, 2, 'the first background retry is in flight');
        const joined = queued.get('Events!1:1');
        gate = undefined;
        open();
        await assert.rejects(joined);
        await clock.advance(10 * TTL);
        const unasked = log.lines().filter((l) => l.event === 'sheets.upstream_read_unasked');
        assert.deepEqual(unasked.map((l) => [l.retries, l.retries_uncalled]), [[UNASKED_RETRIES, UNASKED_RETRIES]]);
      } finally {
        queued.close();
      }
    });

    it('refused by Google as a range (400: no such tab) is not retried unasked nor counted as failing; a read after its backoff finds the tab made meanwhile', async () => {
      const err = await tier.get('Evnets!1:1').then(
        () => undefined,
        (e: { code?: string }) => e,
      );
      assert.equal(err?.code, 'CORRAL_ERR_SHEETS_BAD_RANGE');
      await clock.advance(10 * TTL);
      assert.equal(backend.count('get', 'Evnets!1:1'), 1, 'each retry would fail alike and spend a read token');
      assert.equal(failingCount(), 0, 'a typo nobody reads again is no failing range');
      assert.deepEqual(log.lines().filter((l) => l.event === 'sheets.upstream_read_unasked').map((l) => l.range), []);
      // The operator makes the tab: the next read tries again (its backoff long passed) and gets it.
      backend.tabs.set('Evnets', [['event_id']]);
      assert.deepEqual((await tier.get('Evnets!1:1')).value.values, [['event_id']]);
      assert.equal(backend.count('get', 'Evnets!1:1'), 2);
    });

    it('is not retried after close()', async () => {
      backend.failReads = true;
      await assert.rejects(tier.get('Events!1:1'));
      tier.close();
      await clock.advance(10 * TTL);
      assert.equal(backend.count('get', 'Events!1:1'), 1);
      assert.equal(clock.pending(), 0, 'no retry timer left behind');
    });
  });

  it('pacing: reads beyond the host quota queue instead of reaching upstream', async () => {
    const quota = new QuotaBucket({ name: 'reads', perMinute: 3, maxQueue: 1, clock });
    const writes = new QuotaBucket({ name: 'writes', perMinute: 3, maxQueue: 1, clock });
    const meter = new UpstreamMeter(clock);
    const pacedTier = new ReadTier({ backend: paced(backend, pacer(quota, writes, meter)), logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 1 << 20, clock });
    backend.tabs.set('A', [['x']]);
    backend.tabs.set('B', [['x']]);
    backend.tabs.set('G', [['x']]);
    backend.tabs.set('D', [['x']]);
    backend.tabs.set('E', [['x']]);
    await Promise.all(['A', 'B', 'G'].map((r) => pacedTier.get(r)));
    const d = pacedTier.get('D');
    await assert.rejects(pacedTier.get('E'), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_QUEUE_FULL');
    await settle();
    assert.equal(backend.count('get'), 3, 'D waits for a token; E was refused');
    // Said as the host's full queue, once, not as an upstream failure of the range.
    const full = log.lines().filter((l) => l.event === 'sheets.read_queue_full');
    assert.deepEqual(full.map((l) => [l.level, l.code, l.range, l.reads]), [['warn', 'CORRAL_ERR_QUEUE_FULL', 'E', 1]]);
    assert.equal(log.lines().filter((l) => l.event === 'sheets.upstream_read_failed').length, 0);
    assert.equal(meter.perMinute('read'), 3);
    await clock.advance(QUOTA_WINDOW_MS);
    await d;
    assert.equal(backend.count('get'), 4);
    pacedTier.close();
  });

  describe('a read a client waits for takes the next read token before background refreshes', () => {
    let quota: QuotaBucket;
    let pacedTier: ReadTier;
    /**
     * A tier paced by a read bucket of `perMinute`, as the keeper's (pacer over the fake backend),
     * told a client read's wait for its token by `clientWait` of that bucket, if given.
     */
    const pacedBy = (perMinute: number, ttlMs: number, maxStaleMs: number, clientWait?: (bucket: QuotaBucket, joined?: object) => number) => {
      quota = new QuotaBucket({ name: 'reads', perMinute, maxQueue: 10, clock });
      const writes = new QuotaBucket({ name: 'writes', perMinute, maxQueue: 10, clock });
      const bucket = quota;
      const readQuotaWaitMs = clientWait ? (joined?: object) => clientWait(bucket, joined) : undefined;
      pacedTier = new ReadTier({ backend: paced(backend, pacer(quota, writes, new UpstreamMeter(clock))), logger: log.logger, ttlMs, maxStaleMs, maxBytes: 1 << 20, clock, ...(readQuotaWaitMs ? { readQuotaWaitMs } : {}) });
    };
    /**
     * The minute's two read tokens spent on A and B, then G, D and E read with no copy: answered at
     * once (QUOTA_WAIT), their reads queued in that order, as clients' reads (they go first).
     */
    const minuteSpentWithReadsQueued = async (tabs: readonly string[]) => {
      // As the keeper asks (keeper.ts): a new read's turn, or the turn of the fetch it joins.
      pacedBy(2, TTL, MAX_STALE, (bucket, joined) => bucket.msUntilTurn(true, joined));
      for (const r of tabs) backend.tabs.set(r, [[r.toLowerCase()]]);
      await pacedTier.get('A');
      await pacedTier.get('B');
      for (const r of ['G', 'D', 'E']) await assert.rejects(pacedTier.get(r), (e: { code?: string }) => e.code === 'CORRAL_ERR_SHEETS_QUOTA_WAIT');
      await settle();
      assert.equal(quota.queued(), 3);
    };
    /** The ranges read upstream since call `from`, in order. */
    const readsSince = (from: number) => backend.calls.slice(from).map((c) => c.range);
    afterEach(() => pacedTier.close());

    it('the read quota spent, stale ranges refreshing in the background: a range no copy holds is fetched first when a token frees', async () => {
      pacedBy(3, TTL, MAX_STALE);
      const start = clock.now();
      for (const r of ['A', 'B', 'D']) {
        backend.tabs.set(r, [[r]]);
        await pacedTier.get(r);
        await clock.advance(1000);
      }
      backend.tabs.set('G', [['G']]);
      // Every range stale; reading them answers the stale copy and queues a refresh for a token.
      await clock.advance(TTL);
      for (const r of ['A', 'B', 'D']) assert.equal((await pacedTier.get(r)).via, 'stale');
      const from = backend.calls.length;
      const c = pacedTier.get('G');
      await settle();
      assert.equal(quota.queued(), 4);
      // The first token back goes to the read a client waits for, then the refreshes, in turn.
      await clock.advance(start + QUOTA_WINDOW_MS - clock.now());
      assert.equal(await outcome(c), 'answered');
      assert.deepEqual(readsSince(from), ['G']);
      assert.deepEqual((await c).value.values, [['G']]);
      await clock.advance(62_000);
      assert.deepEqual(readsSince(from), ['G', 'A', 'B', 'D'], 'the background refreshes went after it, none dropped');
      assert.equal(quota.stats().ahead, 1);
      assert.equal(quota.queued(), 0);
    });

    it('a read with no copy that would wait over a second for its token is answered at once (RetryLater with the wait), its read queued; one whose fetch holds its token waits for it', async () => {
      pacedBy(1, TTL, MAX_STALE, (bucket) => bucket.msUntilFree());
      backend.tabs.set('A', [['a']]);
      backend.tabs.set('B', [['b']]);
      // A token free: the first fill waits for Google as before; a read joining it while it is at
      // Google (its token granted, none left) waits for it too, rather than a minute's Retry-After.
      backend.hold();
      const first = pacedTier.get('A');
      await settle();
      const joining = pacedTier.get('A');
      backend.release();
      assert.deepEqual((await first).value.values, [['a']]);
      assert.deepEqual((await joining).value.values, [['a']]);
      assert.equal(backend.count('get', 'A'), 1);
      // The minute's token spent: B is answered at once with the wait, and its read queued.
      const start = clock.now();
      const err = await pacedTier.get('B').then(
        () => undefined,
        (e: Error & { code?: string; retryAfterMs?: number }) => e,
      );
      assert.equal(err?.code, 'CORRAL_ERR_SHEETS_QUOTA_WAIT');
      assert.ok((err?.retryAfterMs ?? 0) > 59_000, String(err?.retryAfterMs));
      assert.equal(clock.now(), start, 'at once');
      await settle();
      assert.equal(quota.queued(), 1, 'its read waits for the token');
      const said = log.lines().filter((l) => l.event === 'sheets.read_quota_wait');
      assert.deepEqual([said.length, said[0]?.range, said[0]?.code], [1, 'B', 'CORRAL_ERR_SHEETS_QUOTA_WAIT']);
      // Asked again meanwhile: at once again, one read still.
      await assert.rejects(pacedTier.get('B'), (e: { code?: string }) => e.code === 'CORRAL_ERR_SHEETS_QUOTA_WAIT');
      await clock.advance(QUOTA_WINDOW_MS);
      await settle();
      assert.equal(backend.count('get', 'B'), 1);
      // The retry finds the copy.
      assert.deepEqual((await pacedTier.get('B')).value.values, [['b']]);
    });

    it('a read with no copy behind client reads already queued is answered at once, even when the first token back is under a second away (it was held behind them)', async () => {
      await minuteSpentWithReadsQueued(['A', 'B', 'G', 'D', 'E', 'F']);
      // 0.3 s before the first token comes back, another range: its turn is behind the three.
      await clock.advance(QUOTA_WINDOW_MS - 300);
      const start = clock.now();
      const err = await pacedTier.get('F').then(
        () => undefined,
        (e: Error & { code?: string; retryAfterMs?: number }) => e,
      );
      assert.equal(err?.code, 'CORRAL_ERR_SHEETS_QUOTA_WAIT');
      assert.ok((err?.retryAfterMs ?? 0) >= QUOTA_WINDOW_MS - 300, String(err?.retryAfterMs));
      assert.equal(clock.now(), start, 'at once');
      // The queued reads go in turn as the tokens come back; F's copy comes with its own.
      await clock.advance(3 * QUOTA_WINDOW_MS);
      await settle();
      assert.deepEqual(['G', 'D', 'E', 'F'].map((r) => backend.count('get', r)), [1, 1, 1, 1]);
      assert.deepEqual((await pacedTier.get('F')).value.values, [['f']]);
    });

    it('a second reader of a range whose fetch waits for a token under a second away joins it and is served, not answered 503 with a new read\'s turn', async () => {
      quota = new QuotaBucket({ name: 'reads', perMinute: 2, maxQueue: 10, clock });
      const writes = new QuotaBucket({ name: 'writes', perMinute: 2, maxQueue: 10, clock });
      pacedTier = new ReadTier({ backend: paced(backend, pacer(quota, writes, new UpstreamMeter(clock))), logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 1 << 20, clock, readQuotaWaitMs: (joined) => quota.msUntilTurn(true, joined) });
      for (const r of ['A', 'B', 'G']) backend.tabs.set(r, [[r.toLowerCase()]]);
      const start = clock.now();
      await pacedTier.get('A');
      await clock.advance(30_000);
      await pacedTier.get('B');
      // 0.5 s before A's token comes back: G's read goes on, its fetch queued for that token.
      await clock.advance(start + QUOTA_WINDOW_MS - 500 - clock.now());
      const first = pacedTier.get('G');
      await settle();
      assert.equal(quota.queued(), 1);
      await clock.advance(100);
      // A second reader joins that fetch: its token is 0.4 s away, not a new read's 30 s.
      const second = pacedTier.get('G');
      await settle();
      await clock.advance(400);
      assert.deepEqual((await first).value.values, [['g']]);
      assert.deepEqual((await second).value.values, [['g']]);
      assert.equal(backend.count('get', 'G'), 1);
    });

    it("a reader joining a fetch queued behind other client reads is answered at once when that fetch's own turn is over a second away, though the first token back is not", async () => {
      await minuteSpentWithReadsQueued(['A', 'B', 'G', 'D', 'E']);
      // 0.3 s before the two tokens come back: D's fetch has the second, E's waits a window more.
      await clock.advance(QUOTA_WINDOW_MS - 300);
      const d = pacedTier.get('D');
      const e = pacedTier.get('E');
      // Not held until its fetch's turn, a minute away (the worker's bound first: 503 after 15 s).
      assert.equal(await outcome(e), 'CORRAL_ERR_SHEETS_QUOTA_WAIT');
      const err = await e.then(
        () => undefined,
        (x: Error & { retryAfterMs?: number }) => x,
      );
      assert.ok((err?.retryAfterMs ?? 0) >= QUOTA_WINDOW_MS - 300, String(err?.retryAfterMs));
      await clock.advance(300);
      assert.deepEqual((await d).value.values, [['d']]);
      await clock.advance(QUOTA_WINDOW_MS);
      await settle();
      assert.deepEqual(['G', 'D', 'E'].map((r) => backend.count('get', r)), [1, 1, 1], 'one fetch each');
      assert.deepEqual((await pacedTier.get('E')).value.values, [['e']]);
    });

    it("a read with no copy whose fetch the hosts' shared window tells to wait is answered at once; one joining when the slot is under a second away waits for it", async () => {
      quota = new QuotaBucket({ name: 'reads', perMinute: 10, maxQueue: 10, clock });
      const writes = new QuotaBucket({ name: 'writes', perMinute: 10, maxQueue: 10, clock });
      // The shared window (Redis) as the pacer sees it: told to wait 1.5 s for a slot, then granted.
      const shared = (_kind: 'read' | 'write', signal?: AbortSignal, onWait?: (waitMs: number) => void) => {
        onWait?.(1500);
        return sleepOn(clock, 1500, signal);
      };
      pacedTier = new ReadTier({ backend: paced(backend, pacer(quota, writes, new UpstreamMeter(clock), shared)), logger: log.logger, ttlMs: TTL, maxStaleMs: MAX_STALE, maxBytes: 1 << 20, clock, readQuotaWaitMs: () => quota.msUntilFree() });
      backend.tabs.set('A', [['a']]);
      const start = clock.now();
      const err = await pacedTier.get('A').then(
        () => undefined,
        (e: Error & { code?: string; retryAfterMs?: number }) => e,
      );
      assert.equal(err?.code, 'CORRAL_ERR_SHEETS_QUOTA_WAIT');
      assert.equal(err?.retryAfterMs, 1500);
      assert.equal(clock.now(), start, 'at once');
      // 1.4 s later the slot is 0.1 s away: a read joining the fetch waits for it, not 503 "1.5 s".
      await clock.advance(1400);
      const joining = pacedTier.get('A');
      await settle();
      await clock.advance(100);
      assert.deepEqual((await joining).value.values, [['a']]);
      assert.equal(backend.count('get', 'A'), 1, 'one fetch');
    });

    it("a client that joins a background refresh still waiting for its token (its copy now too stale to serve) makes it go first", async () => {
      const ttl = 2000;
      const maxStale = 3000;
      pacedBy(2, ttl, maxStale);
      const start = clock.now();
      backend.tabs.set('X', [['x']]);
      backend.tabs.set('Y', [['y']]);
      await pacedTier.get('X');
      await clock.advance(1000);
      await pacedTier.get('Y');
      // Both stale: each read answers its copy and queues a refresh, X's first.
      await clock.advance(ttl + 1);
      assert.equal((await pacedTier.get('X')).via, 'stale');
      assert.equal((await pacedTier.get('Y')).via, 'stale');
      const from = backend.calls.length;
      assert.equal(quota.queued(), 2);
      // Y's copy passes max-stale while its refresh waits: a read of it now waits for that refresh.
      await clock.advance(start + 1000 + ttl + maxStale + 1 - clock.now());
      const y = pacedTier.get('Y');
      await settle();
      assert.equal(quota.queued(), 2, 'no second fetch of Y: the read joined the one queued');
      await clock.advance(start + QUOTA_WINDOW_MS - clock.now());
      assert.deepEqual(readsSince(from), ['Y'], "Y's refresh went ahead of X's, queued before it");
      assert.equal(await outcome(y), 'answered');
      assert.deepEqual((await y).value.values, [['y']]);
      await clock.advance(1000);
      assert.deepEqual(readsSince(from), ['Y', 'X']);
    });

    it("once an attempt of a too-stale range's refresh failed, its client has the error and the retries wait behind reads a client waits for", async () => {
      const ttl = 2000;
      const maxStale = 3000;
      quota = new QuotaBucket({ name: 'reads', perMinute: 2, maxQueue: 10, clock });
      const before = pacer(quota, new QuotaBucket({ name: 'writes', perMinute: 2, maxQueue: 10, clock }), new UpstreamMeter(clock));
      // As Google's client: every attempt pays its token; a failed one is told to onRetry, then
      // retried after 1 s.
      let failing = false;
      const fill = backend.getValues.bind(backend);
      const attempts: string[] = [];
      backend.getValues = async (range: string, signal?: AbortSignal, onRetry?: RetryListener) => {
        for (let attempt = 1; ; attempt++) {
          await before({ kind: 'read' }, signal);
          attempts.push(range);
          if (!failing || attempt === 5) return fill(range);
          onRetry?.(new SheetsError('CORRAL_ERR_SHEETS_UNAVAILABLE', 'fake: 503 backend error', { status: 503, reason: 'UNAVAILABLE', applied: 'maybe', retryable: true }));
          await sleepOn(clock, 1000, signal);
        }
      };
      pacedTier = new ReadTier({ backend, logger: log.logger, ttlMs: ttl, maxStaleMs: maxStale, maxBytes: 1 << 20, clock });
      const start = clock.now();
      backend.tabs.set('X', [['x']]);
      backend.tabs.set('Z', [['z']]);
      await pacedTier.get('X');
      // X past max-stale, Google failing: the read waits for the first attempt only, and has its error.
      await clock.advance(ttl + maxStale + 1000);
      failing = true;
      assert.equal(await outcome(pacedTier.get('X')), 'CORRAL_ERR_SHEETS_UNAVAILABLE');
      failing = false;
      // The retry, 1 s later, finds the window full; then a client reads Z, which no copy holds.
      await clock.advance(1000);
      assert.equal(quota.queued(), 1);
      const z = pacedTier.get('Z');
      await settle();
      assert.equal(quota.queued(), 2);
      await clock.advance(start + QUOTA_WINDOW_MS - clock.now());
      assert.deepEqual(attempts, ['X', 'X', 'Z'], "Z's read went ahead of the retry nobody waits for");
      assert.equal(await outcome(z), 'answered');
      // The retry goes when the token of X's first attempt comes back.
      await clock.advance(ttl + maxStale + 1000);
      assert.deepEqual(attempts, ['X', 'X', 'Z', 'X']);
      assert.deepEqual((await pacedTier.get('X')).value.values, [['x']]);
    });
  });
});
