// The keeper behind its unix socket with real worker clients in front (same process: the wire,
// the L1s, the push invalidation and the restart handling are all real).

import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sheetsFailure } from '../../src/app/deps.js';
import { DataDirWriteError, JournalFullError, RetryLaterError, type CorralError } from '../../src/errors.js';
import { destinationOf } from '../../src/sheets/destination.js';
import { encodeRecord } from '../../src/sheets/keeper/journal-file.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import type { KeeperSettings } from '../../src/sheets/keeper/keeper-options.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { MAX_APPEND_BYTES } from '../../src/sheets/keeper/protocol.js';
import { KeeperServer } from '../../src/sheets/keeper/server.js';
import { keeperSocketPath } from '../../src/sheets/keeper/socket-path.js';
import type { SheetsClient } from '../../src/sheets/types.js';
import { createWorkerSheetsClient } from '../../src/sheets/worker-client.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];

async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The JSON text of an answer the keeper writes in pieces. */
function text(parts: readonly Buffer[]): string {
  return Buffer.concat(parts).toString('utf8');
}

/** Runs `fn` with JSON.stringify counting its calls on values `counted` selects. */
async function countingStringify<T>(counted: (value: unknown) => boolean, fn: () => Promise<T>): Promise<{ result: T; calls: number }> {
  const realStringify = JSON.stringify;
  let calls = 0;
  JSON.stringify = ((value: unknown, ...rest: never[]) => {
    if (counted(value)) calls++;
    return realStringify(value, ...rest);
  }) as typeof JSON.stringify;
  try {
    return { result: await fn(), calls };
  } finally {
    JSON.stringify = realStringify;
  }
}

describe('keeper over its local socket, with worker clients', () => {
  let dir: string;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let keeper: Keeper | undefined;
  const clients: SheetsClient[] = [];
  let settings: KeeperSettings & { SHEET_ID: string | undefined };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-keeper-'));
    backend = new FakeBackend({ Events: [HEADER, ['ev-1', 'P001', 'joined', '', '2024-01-01']], Players: [['name', 'code'], ['Alice', 'P001']] });
    log = await captureLogger();
    settings = { ...testKeeperSettings(dir, { SHEETS_FLUSH_INTERVAL_MS: 50 }), SHEET_ID: 'fake' };
    // The sheet the worker clients' settings name: a keeper serving another refuses them (destination.ts).
    backend.destination = destinationOf(settings);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await keeper?.close();
    keeper = undefined;
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startKeeper(b: FakeBackend = backend): Promise<Keeper> {
    b.destination = destinationOf(settings);
    keeper = await Keeper.start({ settings, logger: log.logger, socketPath: keeperSocketPath(dir), openBackend: async (pace) => paced(b, pace), lockWaitMs: 2000 });
    return keeper;
  }

  function client(): SheetsClient {
    const c = createWorkerSheetsClient({ ...settings, SHEET_CACHE_MAX_STALE: 3600 }, log.logger, { retryDelayMs: 100 });
    clients.push(c);
    return c;
  }

  it('reads through the keeper once, then from each worker\'s L1', async () => {
    await startKeeper();
    const [a, b] = [client(), client()];
    backend.hold();
    const first = Promise.all([...Array.from({ length: 20 }, () => a.read('Players')), ...Array.from({ length: 20 }, () => b.read('Players'))]);
    await until(() => backend.count('get') === 1, 'the upstream call');
    backend.release();
    const reads = await first;
    for (const r of reads) assert.deepEqual(r.values, [['name', 'code'], ['Alice', 'P001']]);
    assert.equal(backend.count('get'), 1, 'two workers, 40 concurrent misses: one upstream call');
    for (let i = 0; i < 50; i++) await a.read('Players');
    assert.equal(a.figures().l1Hits, 50);
    assert.equal(a.figures().l1Misses, 20);
    assert.equal(backend.count('get'), 1);
    const rec = await b.records('Players');
    assert.deepEqual(rec.records, [{ name: 'Alice', code: 'P001' }]);
    // The held copy is served synchronously, as the same object while its staleness holds.
    assert.equal(client().cachedRecords('Players'), undefined, 'a fresh worker holds nothing');
    const held = b.cachedRecords('Players');
    assert.deepEqual(held?.records, rec.records);
    assert.equal(b.cachedRecords('Players'), held);
    const kf = keeper?.figures() ?? {};
    for (const k of ['cacheHits', 'cacheMisses', 'upstreamCallsTotal', 'upstreamCallsPerMinute', 'readTokensLeft', 'writeTokensLeft', 'journalBacklogRows', 'maxStaleSeconds', 'backend']) {
      assert.ok(k in kf, `keeper figure ${k}`);
    }
    assert.equal(kf.upstreamCallsPerMinute, 1);
    assert.equal(kf.readTokensLeft, 299);
  });

  it("exports' reads (keep: false) share the keeper's one copy and leave each worker's L1 without it; a range the worker holds stays held", async () => {
    await startKeeper();
    const [a, b] = [client(), client()];
    await a.read('Players');
    backend.hold();
    const exports = [a, b].flatMap((w) => Array.from({ length: 5 }, () => w.read('Events', { keep: false })));
    await until(() => backend.count('get') === 2, 'the upstream call for Events');
    backend.release();
    for (const r of await Promise.all(exports)) assert.equal(r.values.length, 2);
    assert.equal(backend.count('get'), 2, 'one upstream call for Players, one for the ten exports of Events');
    for (const w of [a, b]) assert.equal(w.figures().l1Misses, w === a ? 6 : 5);
    assert.equal(a.figures().l1Entries, 1, 'Players alone');
    assert.equal(b.figures().l1Entries, 0);
    assert.equal(b.figures().l1Bytes, 0);
    assert.ok(a.cachedRecords('Players'), 'the range read to be kept is held');
    assert.equal(a.cachedRecords('Events'), undefined);
    // The next export is answered from the keeper's copy, no new call to Google.
    assert.equal((await b.read('Events', { keep: false })).values.length, 2);
    assert.equal(backend.count('get'), 2);
  });

  it('a worker with no copies (just started) gets a range the keeper holds at once, while its first fills of other ranges wait for Google on every connection', async () => {
    await startKeeper();
    await client().read('Players');
    assert.equal(backend.count('get'), 1);
    // Google stalls: the new worker's reads of ranges nobody read wait for it, on all its
    // first-fill connections (an admin's exports with the read quota spent do the same).
    backend.hold();
    const fresh = client();
    const exports = Array.from({ length: 10 }, (_, i) => fresh.read(`Tab${i}`).catch((err: unknown) => err));
    await until(() => backend.count('get') === 9, 'eight first fills at Google');
    let answered: { values: readonly (readonly string[])[] } | undefined;
    void fresh.read('Players').then((r) => (answered = r));
    // Before, that read queued behind them until Google answered (in production: the worker's
    // answer wait, 15 s, then 503), though the keeper held Players.
    await until(() => answered, 'the read of Players the keeper holds', 3000);
    assert.deepEqual(answered?.values, [['name', 'code'], ['Alice', 'P001']]);
    assert.equal(backend.count('get'), 9, 'no call for Players');
    backend.release();
    await Promise.all(exports);
  });

  it("a read of a range in backoff after Google failed says when the keeper tries it again, and the app's 503 says it in Retry-After", async () => {
    await startKeeper();
    backend.failReads = true;
    const worker = client();
    await assert.rejects(worker.read('Players'), { code: 'CORRAL_ERR_SHEETS_UNAVAILABLE' });
    // The fetch failed: the range waits for the tier's backoff (at most the 60 s TTL here).
    const err = (await worker.read('Players').catch((e: unknown) => e)) as CorralError & { retryAfterMs?: number };
    assert.equal(err.code, 'CORRAL_ERR_SHEETS_UNAVAILABLE');
    assert.equal(typeof err.retryAfterMs, 'number', 'the wire carried the backoff');
    assert.ok((err.retryAfterMs ?? -1) > 0 && (err.retryAfterMs ?? 0) <= 60_000, String(err.retryAfterMs));
    const answer = sheetsFailure(err);
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['Retry-After'], String(Math.min(60, Math.max(1, Math.ceil((err.retryAfterMs ?? 0) / 1000)))));
    // A failure with no such hint keeps the default.
    assert.equal(sheetsFailure(new Error('x')).headers['Retry-After'], '5');
    assert.equal(sheetsFailure(new RetryLaterError('CORRAL_ERR_SHEETS_UNAVAILABLE', 'x', 600_000)).headers['Retry-After'], '60', 'at most a minute');
    assert.equal(sheetsFailure(new RetryLaterError('CORRAL_ERR_SHEETS_UNAVAILABLE', 'x', 0)).headers['Retry-After'], '1', 'at least a second');
  });

  it('append is durable before it resolves, and every worker reads its own writes', async () => {
    await startKeeper();
    const [a, b] = [client(), client()];
    await a.read('Events');
    await b.read('Events');
    backend.hold(); // Google is slow: the rows stay in the journal for now.
    assert.ok(a.cachedRecords('Events'));
    const receipt = await a.append('Events', [['ev-2', 'P002', 'goal', 'a header', '2024-03-02']]);
    assert.equal(receipt.rows, 1);
    assert.equal(a.cachedRecords('Events'), undefined, 'after its own append, a worker asks the keeper again');
    assert.ok(receipt.id);
    assert.equal(keeper?.figures().journalBacklogRows, 1);
    const mine = await a.read('Events');
    assert.equal(mine.pendingRows, 1);
    assert.deepEqual(mine.values.at(-1), ['ev-2', 'P002', 'goal', 'a header', '2024-03-02']);
    // The other worker had Events in its L1: the keeper's push invalidation ends that copy.
    const theirs = await until(async () => {
      const r = await b.read('Events');
      return r.pendingRows === 1 ? r : undefined;
    }, 'worker b to see the journaled row');
    assert.equal(theirs.values.length, 3);
    backend.release();
    await until(() => backend.ids('Events').includes('ev-2'), 'the flush');
    await until(() => keeper?.figures().journalBacklogRows === 0, 'the done record');
    // Flushed but the cached value predates it: still shown once, not twice.
    const after = await a.read('Events');
    assert.equal(after.values.filter((r) => r[0] === 'ev-2').length, 1);
  });

  it('a flushed row stays in reads of a cached copy fetched before it reached Google, past the journal retention', async () => {
    const clock = new FakeClock(Date.now());
    settings = { ...settings, SHEET_CACHE_TTL: 3600, SHEETS_FLUSH_INTERVAL_MS: 600_000 };
    keeper = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, clock, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
    const ids = async () => (await (keeper as Keeper).read('Events')).values.map((r) => r[0]);
    assert.deepEqual(await ids(), ['event_id', 'ev-1']);
    await keeper.append('Events', [['ev-X', 'P002', 'goal', '', '2024-03-02']]);
    await keeper.flush();
    assert.ok(backend.ids('Events').includes('ev-X'), 'in Google');
    // 11 minutes on (the journal keeps done entries 10), another flush trims the journal; the
    // cached copy (TTL 1 h) is from before ev-X reached Google.
    await clock.advance(11 * 60_000);
    await keeper.append('Events', [['ev-Y', 'P003', 'goal', '', '2024-03-02']]);
    await keeper.flush();
    assert.deepEqual(await ids(), ['event_id', 'ev-1', 'ev-X', 'ev-Y']);
  });

  it('a read not starting at column A shows a row that reached Google while still journaled once, in its columns', async () => {
    settings = { ...settings, SHEETS_FLUSH_INTERVAL_MS: 600_000 };
    const k = (keeper = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000, unsureDelayMs: 600_000 }));
    // The append reaches Google but its answer is lost: the rows stay journaled (unsure) until a
    // read-back, while the fetches below already hold them.
    backend.failAppends = 'lost-after';
    await k.append('Events', [['ev-2', 'P002', 'goal', '', '2024-03-02']]);
    await k.flush();
    assert.ok(backend.ids('Events').includes('ev-2'), 'in Google');
    assert.equal(k.figures().journalBacklogRows, 1, 'and still in the journal');
    await k.append('Events', [['ev-3', 'P003', 'card', 'late', '2024-03-03']]);
    const cases: [string, string[][]][] = [
      ['Events', [HEADER, ['ev-1', 'P001', 'joined', '', '2024-01-01'], ['ev-2', 'P002', 'goal', '', '2024-03-02'], ['ev-3', 'P003', 'card', 'late', '2024-03-03']]],
      ['Events!B:D', [['player', 'kind', 'detail'], ['P001', 'joined'], ['P002', 'goal'], ['P003', 'card', 'late']]],
      ['Events!B1:D', [['player', 'kind', 'detail'], ['P001', 'joined'], ['P002', 'goal'], ['P003', 'card', 'late']]],
      ['Events!C:E', [['kind', 'detail', 'at'], ['joined', '', '2024-01-01'], ['goal', '', '2024-03-02'], ['card', 'late', '2024-03-03']]],
      ['Events!A:B', [['event_id', 'player'], ['ev-1', 'P001'], ['ev-2', 'P002'], ['ev-3', 'P003']]],
      ['Events!B3:C', [['P002', 'goal'], ['P003', 'card']]],
    ];
    for (const [range, values] of cases) {
      const r = await k.read(range);
      assert.deepEqual(r.values, values, range);
      assert.equal(r.pendingRows, 1, `${range}: only ev-3 comes from the journal`);
    }
  });

  it('rows appended to a range starting at column B are read back there, once (SHEET_EVENTS_RANGE = Log!B:C)', async () => {
    backend.tabs.set('Log', [
      ['', 'event_id', 'player'],
      ['', 'ev-1', 'P001'],
    ]);
    settings = { ...settings, SHEETS_FLUSH_INTERVAL_MS: 600_000 };
    const k = (keeper = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000, unsureDelayMs: 600_000 }));
    backend.failAppends = 'lost-after';
    await k.append('Log!B:C', [['ev-2', 'P002']]);
    await k.flush();
    assert.deepEqual(backend.tabs.get('Log')?.at(-1), ['', 'ev-2', 'P002'], 'in Google, from column B');
    await k.append('Log!B:C', [['ev-3', 'P003']]);
    const r = await k.read('Log!B:C');
    assert.deepEqual(r.values, [
      ['event_id', 'player'],
      ['ev-1', 'P001'],
      ['ev-2', 'P002'],
      ['ev-3', 'P003'],
    ]);
    assert.equal(r.pendingRows, 1);
    assert.deepEqual((await k.read('Log')).values.at(-1), ['', 'ev-3', 'P003'], 'a read from column A shows the row from B');
  });

  it('upstreamCallsTotal counts every call that reached the backend, retried appends included', async () => {
    await startKeeper();
    const a = client();
    await a.read('Events');
    backend.failAppends = 'refused';
    await a.append('Events', [['ev-r1', 'P001', 'goal', '', '2024-03-02']]);
    await until(() => backend.count('append') >= 1, 'a refused append');
    backend.failAppends = 'none';
    await until(() => backend.ids('Events').includes('ev-r1'), 'the retried append');
    const calls = backend.count('get') + backend.count('append');
    assert.ok(calls >= 3, `one read and at least two appends (${calls})`);
    assert.equal(keeper?.figures().upstreamCallsTotal, calls);
  });

  it("a read with nothing pending reuses the tier's JSON of the values instead of serialising them again", async () => {
    const k = await startKeeper();
    await k.read('Events');
    const { result: plain, calls: valuesSerialised } = await countingStringify((v) => typeof v === 'object' && v !== null && 'values' in v, () => k.readAnswer('Events'));
    assert.equal(valuesSerialised, 0);
    const { via: _via, now: _now, ...expected } = await k.read('Events');
    const { now: answeredAt, ...answer } = JSON.parse(text(plain)) as { now: number };
    assert.deepEqual(answer, { ...expected, via: 'fresh' });
    assert.equal(typeof answeredAt, 'number', "the answer carries the keeper's clock");
    const other = await k.readAnswer('Events');
    const valuesPiece = other.find((piece) => piece.toString('utf8') === JSON.stringify(expected.values));
    assert.ok(valuesPiece && plain.includes(valuesPiece), 'a second answer writes the very bytes of the values the first wrote (one copy, shared)');
    // With a journaled row to merge, the answer carries it.
    backend.hold();
    await k.append('Events', [['ev-j1', 'P001', 'goal', '', '2024-03-02']]);
    const merged = JSON.parse(text(await k.readAnswer('Events'))) as { values: string[][]; pendingRows: number };
    assert.equal(merged.pendingRows, 1);
    assert.deepEqual(merged.values.at(-1), ['ev-j1', 'P001', 'goal', '', '2024-03-02']);
    backend.release();
  });

  it('a read with journaled rows below the fetched ones serialises only those rows, not the whole tab again', async () => {
    const k = await startKeeper();
    await k.read('Events');
    await k.read('Events!A:C');
    backend.hold();
    await k.append('Events', [['ev-j3', 'P003', 'goal', '', '2024-03-04']]);
    const wholeTab = (v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) && 'values' in v) || (Array.isArray(v) && Array.isArray(v[0]) && v[0][0] === 'event_id');
    const { result: whole, calls } = await countingStringify(wholeTab, () => k.readAnswer('Events'));
    assert.equal(calls, 0, 'the fetched rows are not serialised again');
    const read = JSON.parse(text(whole)) as { values: string[][]; pendingRows: number };
    assert.deepEqual(read.values, [HEADER, ['ev-1', 'P001', 'joined', '', '2024-01-01'], ['ev-j3', 'P003', 'goal', '', '2024-03-04']]);
    assert.equal(read.pendingRows, 1);
    const { result: cut, calls: cutCalls } = await countingStringify(wholeTab, () => k.readAnswer('Events!A:C'));
    assert.equal(cutCalls, 0);
    assert.deepEqual((JSON.parse(text(cut)) as { values: string[][] }).values, [['event_id', 'player', 'kind'], ['ev-1', 'P001', 'joined'], ['ev-j3', 'P003', 'goal']]);
    backend.release();
  });

  it('a widened read (right of column A) with nothing pending is cut and serialised once per fetch, not per read', async () => {
    const k = await startKeeper();
    const first = JSON.parse(text(await k.readAnswer('Events!B:C'))) as { values: string[][] };
    assert.deepEqual(first.values, [
      ['player', 'kind'],
      ['P001', 'joined'],
    ]);
    const { result: again, calls: arraysSerialised } = await countingStringify(Array.isArray, () => k.readAnswer('Events!B:C'));
    assert.equal(arraysSerialised, 0, 'the cut of this fetch is reused');
    assert.deepEqual((JSON.parse(text(again)) as { values: string[][] }).values, first.values);
    assert.equal(backend.count('get'), 1, 'one upstream fetch (Events!A:C) behind both reads');
    // A journaled row is merged (not the memo of the fetch without it).
    backend.hold();
    await k.append('Events', [['ev-j2', 'P002', 'goal', '', '2024-03-02']]);
    const merged = JSON.parse(text(await k.readAnswer('Events!B:C'))) as { values: string[][]; pendingRows: number };
    assert.equal(merged.pendingRows, 1);
    assert.deepEqual(merged.values.at(-1), ['P002', 'goal']);
    backend.release();
  });

  it("a refresh of a range that did not change keeps every worker's rows (the same arrays); a change in the sheet or another worker's append brings new ones", async () => {
    // 2 s: a copy past its TTL is answered stale while the keeper refreshes, and held a second.
    settings = { ...settings, SHEET_CACHE_TTL: 2 };
    const k = await startKeeper();
    const [a, b] = [client(), client()];
    const first = await a.read('Events');
    const firstRecords = await a.records('Events');
    // Past the TTL: the keeper refreshes, finds the same rows, and says so; only the times move on.
    const refreshed = await until(
      async () => {
        const r = await a.read('Events');
        return !r.stale && r.fetchedAt > first.fetchedAt && r;
      },
      'a refreshed copy',
      10_000,
    );
    assert.ok(backend.count('get', 'Events') >= 2, 'fetched again');
    assert.equal(refreshed.values, first.values, 'the rows held, not a parse of the same rows');
    assert.equal((await a.records('Events')).records, firstRecords.records);
    assert.ok(Number(a.figures().l1UnchangedRefreshes) >= 1);
    assert.ok(Number(k.figures().unchangedAnswers) >= 1);
    // Another worker's append: the keeper's notice ends a's copy, and its next read has the row.
    const row = ['ev-2', 'P002', 'goal', '', '2024-03-02'];
    await b.append('Events', [row]);
    const withRow = await until(async () => {
      const r = await a.read('Events');
      return r.values.length === 3 && r;
    }, "the appended row in the other worker's copy", 10_000);
    assert.deepEqual(withRow.values.at(-1), row);
    assert.notEqual(withRow.values, first.values);
    // A change made in the sheet itself: the next refresh brings it.
    backend.tabs.get('Events')?.splice(1, 0, ['ev-0', 'P000', 'joined', '', '2023-12-31']);
    const edited = await until(async () => {
      const r = await a.read('Events');
      return r.values[1]?.[0] === 'ev-0' && r;
    }, 'the edit in the sheet', 10_000);
    assert.notEqual(edited.values, withRow.values);
  });

  it("an append over the keeper's body limit is refused as invalid before it is sent, not retried as an unreachable keeper", async () => {
    await startKeeper();
    const a = client();
    const big = [['ev-big', 'P001', 'goal', 'x'.repeat(MAX_APPEND_BYTES), '2024-05-01']];
    await assert.rejects(a.append('Events', big), (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_APPEND_INVALID' && /nothing was sent/.test(e.message));
    assert.equal(a.figures().keeperRetries, 0, 'not sent twice');
    assert.equal(keeper?.requestStats().requests, 0, 'nothing reached the keeper');
    // One under the limit still goes.
    assert.equal((await a.append('Events', [['ev-ok', 'P001', 'goal', 'x'.repeat(1024), '2024-05-01']])).rows, 1);
  });

  it('keeper errors reach the app with their codes', async () => {
    await startKeeper();
    const a = client();
    await assert.rejects(a.read('Nope'), (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_SHEETS_BAD_RANGE');
    await assert.rejects(a.append('Events', [['', 'no id']]), (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_APPEND_INVALID');
  });

  it('survives a keeper restart: retry once, L1 copies held while it is down, CORRAL_ERR_KEEPER_UNAVAILABLE without a copy', async () => {
    await startKeeper();
    const a = client();
    await a.read('Players');
    await a.append('Events', [['ev-9', 'P009', 'joined', '', '2024-04-01']]);
    await until(() => backend.ids('Events').includes('ev-9'), 'the flush');
    await keeper?.close();
    keeper = undefined;
    // Keeper down: the copy of Players (its 60 s TTL not passed, no write known) keeps its hold
    // until a keeper answers the watch again, and is served without asking for one.
    const held = await a.read('Players');
    assert.deepEqual(held.values, [['name', 'code'], ['Alice', 'P001']]);
    assert.equal(a.figures().l1StaleFallbacks, 0);
    await assert.rejects(a.read('Events'), (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_KEEPER_UNAVAILABLE');
    await assert.rejects(a.append('Events', [['ev-10', 'P010', 'joined', '', '2024-04-02']]), (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_KEEPER_UNAVAILABLE');
    assert.ok((a.figures().keeperRetries as number) >= 2, 'each failed call was retried once');
    // A new keeper on the same data dir: the same client recovers without being recreated (the
    // new keeper's first answer to the watch, a new epoch, ends the hold of the Players copy).
    const restarted = new FakeBackend({ Events: backend.tabs.get('Events') ?? [], Players: [['name', 'code'], ['Alice', 'P001'], ['Bob', 'P002']] });
    await startKeeper(restarted);
    const fresh = await until(async () => {
      const r = await a.read('Players').catch(() => undefined);
      return r && r.values.length === 3 ? r : undefined;
    }, 'a read from the new keeper');
    assert.equal(fresh.stale, false);
    const ok = await a.append('Events', [['ev-11', 'P011', 'joined', '', '2024-04-03']]);
    assert.equal(ok.rows, 1);
    await until(() => restarted.ids('Events').includes('ev-11'), 'the flush by the new keeper');
    assert.equal(restarted.ids('Events').filter((id) => id === 'ev-9').length, 1);
  });

  it("a copy answered before the worker's first long poll is answered is not held past another worker's append acknowledged in between", async () => {
    await startKeeper();
    // Between worker a and the keeper: its long polls held back until the test lets them go, as
    // for a worker that started while the keeper was away (a reload restarting it): the reads the
    // master's keeper-ready woke reach the new keeper at once, its long poll up to 200 ms later.
    const gated: Array<() => void> = [];
    let gateOpen = false;
    let watches = 0;
    const sockets = new Set<Socket>();
    const proxyPath = join(dir, 'proxy.sock');
    const proxy = createNetServer((down) => {
      const up = connect(keeperSocketPath(dir));
      for (const s of [down, up]) sockets.add(s);
      up.on('data', (c: Buffer) => down.write(c));
      up.on('close', () => down.destroy());
      down.on('close', () => up.destroy());
      down.on('data', (c: Buffer) => {
        const watch = c.toString('latin1').startsWith('GET /watch');
        if (watch) watches++;
        if (watch && !gateOpen) gated.push(() => up.write(c));
        else up.write(c);
      });
    });
    await new Promise<void>((r) => proxy.listen(proxyPath, r));
    const a = createWorkerSheetsClient({ ...settings, SHEET_CACHE_MAX_STALE: 3600 }, log.logger, { socketPath: proxyPath, retryDelayMs: 100 });
    try {
      const b = client();
      assert.equal((await a.read('Events')).values.length, 2);
      await b.append('Events', [['ev-2', 'P002', 'goal', '', '2024-03-02']]);
      // Its first long poll reaches the keeper only now, after the append the keeper published.
      await until(() => gated.length === 1, "worker a's first long poll");
      gateOpen = true;
      for (const send of gated.splice(0)) send();
      await until(() => watches >= 2, 'the first long poll answered (the next one sent)');
      const seen = await a.read('Events');
      assert.deepEqual(
        seen.values.map((r) => r[0]),
        ['event_id', 'ev-1', 'ev-2'],
        "worker a reads the row acknowledged to worker b, not its copy from before it for the TTL's 60 s",
      );
    } finally {
      await a.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('a closing keeper that answers /watch at once with nothing is not polled in a tight loop', async () => {
    // What a draining keeper does: every watch answered immediately, nothing changed, same epoch.
    let watches = 0;
    const socketPath = join(dir, 'closing.sock');
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/watch')) watches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ epoch: 'e1', version: 3, sheets: [], all: false }));
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
    try {
      const c = createWorkerSheetsClient(settings, log.logger, { socketPath, watchPauseMs: 200 });
      clients.push(c);
      await until(() => watches >= 2, 'the first watches');
      const before = watches;
      await new Promise((r) => setTimeout(r, 500));
      // 200 ms pauses: about 2-3 polls in 500 ms; a tight loop makes hundreds.
      assert.ok(watches - before <= 5, `${watches - before} watch requests in 500 ms`);
      await c.close();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('a journal with a damaged line before valid records: they are replayed and the keeper logs journal.damaged', async () => {
    const add = (id: string) => encodeRecord({ k: 'add', id, r: 'Events', rows: [[id, 'P001', 'goal', '', '2024-05-01']], at: 1 });
    const damage = '\0'.repeat(30) + '\n';
    writeFileSync(join(dir, 'sheets.journal'), add('ev-j1') + damage + add('ev-j2') + add('ev-j3').slice(0, 20));
    keeper = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000, unsureDelayMs: 0 });
    const warn = log.lines().find((l) => l.event === 'journal.damaged');
    assert.deepEqual(
      { level: warn?.level, skippedLines: warn?.skippedLines, skippedBytes: warn?.skippedBytes, truncatedBytes: warn?.truncatedBytes },
      { level: 'warn', skippedLines: 1, skippedBytes: 31, truncatedBytes: 20 },
    );
    // It names the copy of the damaged bytes and says what to do with it.
    const quarantine = String(warn?.quarantine);
    assert.equal(dirname(quarantine), dir);
    assert.match(basename(quarantine), /^sheets\.journal\.damaged-/);
    assert.ok(String(warn?.msg).includes(quarantine) && /re-entered by hand/.test(String(warn?.msg)), String(warn?.msg));
    assert.deepEqual(warn?.pieces, [
      { kind: 'skipped', offset: Buffer.byteLength(add('ev-j1')), bytes: 31, lines: 1 },
      { kind: 'tail', offset: Buffer.byteLength(add('ev-j1') + damage + add('ev-j2')), bytes: 20, lines: 1 },
    ]);
    const copy = readFileSync(quarantine, 'utf8');
    assert.ok(copy.includes(damage) && copy.includes(add('ev-j3').slice(0, 20)), 'the damaged bytes are in it');
    const replay = log.lines().find((l) => l.event === 'journal.replayed');
    assert.deepEqual({ pending: replay?.pending, unsure: replay?.unsure, truncatedBytes: replay?.truncatedBytes }, { pending: 0, unsure: 2, truncatedBytes: 20 });
    await until(() => backend.ids('Events').includes('ev-j2'), 'the replayed rows to reach the sheet');
    assert.deepEqual(backend.ids('Events'), ['event_id', 'ev-1', 'ev-j1', 'ev-j2']);
  });

  it('a journal ending in a write cut short: its bytes are kept and logged at info (journal.torn_tail), not as damage', async () => {
    const add = (id: string) => encodeRecord({ k: 'add', id, r: 'Events', rows: [[id, 'P001', 'goal', '', '2024-05-01']], at: 1 });
    const cut = add('ev-j2').slice(0, 50);
    writeFileSync(join(dir, 'sheets.journal'), add('ev-j1') + cut);
    keeper = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
    assert.equal(log.lines().find((l) => l.event === 'journal.damaged'), undefined, 'never acknowledged: no warning');
    const torn = log.lines().find((l) => l.event === 'journal.torn_tail');
    assert.deepEqual({ level: torn?.level, truncatedBytes: torn?.truncatedBytes }, { level: 'info', truncatedBytes: 50 });
    assert.ok(readFileSync(String(torn?.quarantine), 'utf8').includes(cut));
    assert.ok(String(torn?.msg).includes(String(torn?.quarantine)));
    assert.deepEqual(torn?.rows, [], 'the cut bytes began no row');
  });

  it('a write cut short that began rows names them, at warn: a file cut by something other than a crash looks the same and may have held acknowledged ones', async () => {
    const add = (id: string) => encodeRecord({ k: 'add', id, r: 'Events', rows: [[id, 'P001', 'goal', '', '2024-05-01']], at: 1 });
    const cut = add('ev-j2').slice(0, 70);
    assert.ok(cut.includes('"rows":[["ev-j2","'), cut);
    writeFileSync(join(dir, 'sheets.journal'), add('ev-j1') + cut);
    keeper = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
    const torn = log.lines().find((l) => l.event === 'journal.torn_tail');
    assert.deepEqual({ level: torn?.level, rows: torn?.rows }, { level: 'warn', rows: ['ev-j2'] });
    assert.match(String(torn?.msg), /It began 1 row \(ev-j2\): after a crash their clients were told nothing, after a failed write that nothing was saved, and retry; if something other than a crash cut the file .* check the sheet for them before deleting that file$/);
    // The whole records replay as before.
    await until(() => backend.ids('Events').includes('ev-j1'), 'the whole record to reach the sheet');
  });

  it('drain flushes the journal before closing', async () => {
    await startKeeper();
    const a = client();
    backend.failAppends = 'refused';
    await a.append('Events', [['ev-d1', 'P001', 'goal', '', '2024-05-01']]);
    await until(() => backend.count('append') >= 1, 'a refused append');
    backend.failAppends = 'none';
    const left = await (keeper as Keeper).drain(Date.now() + 5000);
    keeper = undefined;
    assert.equal(left, 0);
    assert.ok(backend.ids('Events').includes('ev-d1'));
    assert.ok(backend.closed);
  });

  it('a socket outside the data dir: a directory another user could have made is refused by the keeper and by the workers, and no connection reaches a socket there', async () => {
    // Where a long CORRAL_DATA_DIR puts the socket: the temp dir's corral-<uid> (socket-path.ts).
    const socketDir = join(dir, 'corral-sockets');
    const socketPath = join(socketDir, 'keeper-test.sock');
    mkdirSync(socketDir);
    chmodSync(socketDir, 0o777);
    // Another user's keeper-to-be, already listening at the keeper's name.
    let squatted = 0;
    const squatter = createServer((_req, res) => {
      squatted++;
      res.end('{}');
    });
    await new Promise<void>((resolve) => squatter.listen(socketPath, resolve));
    try {
      const refused = (err: CorralError) => {
        assert.equal(err.code, 'CORRAL_ERR_KEEPER_SOCKET_DIR');
        assert.match(err.message, /its directory .*corral-sockets is open to other users \(mode 777\)/);
        return true;
      };
      // Kept in `keeper` so that one started by mistake is closed after the test.
      const start = async () => (keeper = await Keeper.start({ settings, logger: log.logger, socketPath, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 }));
      await assert.rejects(start(), refused);
      const worker = createWorkerSheetsClient(settings, log.logger, { socketPath, retryDelayMs: 10, watch: false });
      clients.push(worker);
      await assert.rejects(worker.read('Players'), refused);
      await assert.rejects(worker.append('Events', [['ev-s1', 'P001', 'goal', '', '2024']]), refused);
      assert.equal(squatted, 0, 'no request reached the socket in that directory');

      if (process.getuid?.() === 0) {
        // Closed to others but made by another user (nobody): refused just the same.
        chmodSync(socketDir, 0o700);
        chownSync(socketDir, 65534, 65534);
        await assert.rejects(start(), (err: CorralError) => err.code === 'CORRAL_ERR_KEEPER_SOCKET_DIR' && /belongs to uid 65534, not to this user \(uid 0\)/.test(err.message));
        await assert.rejects(worker.read('Players'), (err: CorralError) => err.code === 'CORRAL_ERR_KEEPER_SOCKET_DIR');
        chownSync(socketDir, 0, 0);
      }
      // This user's alone: the keeper takes the name over and the same worker reads through it.
      chmodSync(socketDir, 0o700);
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
      await start();
      assert.equal((await worker.read('Players')).values.length, 2);
      assert.equal(squatted, 0);

      // A symlink in its place (to a directory of this user's) is no directory of the keeper's.
      await keeper?.close();
      keeper = undefined;
      const elsewhere = join(dir, 'elsewhere');
      mkdirSync(elsewhere, { mode: 0o700 });
      rmSync(socketDir, { recursive: true });
      symlinkSync(elsewhere, socketDir);
      await assert.rejects(start(), (err: CorralError) => err.code === 'CORRAL_ERR_KEEPER_SOCKET_DIR' && /is a symlink/.test(err.message));
    } finally {
      squatter.close();
    }
  });
});

describe("the keeper socket's status for an append the journal refused", () => {
  let root: string;
  let log: CapturedLogger;
  let server: KeeperServer | undefined;
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'corral-keeper-status-'));
    log = await captureLogger();
  });
  afterEach(async () => {
    await server?.close();
    log.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** POST /append over the socket, answered by a handler that throws `refusal`: the status and the body's code. */
  async function refused(refusal: Error): Promise<[number, unknown]> {
    const socket = join(root, `keeper-${Math.random().toString(36).slice(2)}.sock`);
    await server?.close();
    server = new KeeperServer(
      socket,
      {
        read: async () => undefined,
        append: async () => {
          throw refusal;
        },
        watch: async () => ({ version: 0, epoch: 'e', sheets: [], all: false }),
        settleLogin: async () => ({ shared: false, reason: 'none' }),
        figures: () => ({}),
      },
      log.logger,
      'digest',
    );
    await server.listen();
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: socket, method: 'POST', path: '/append', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve([res.statusCode ?? 0, (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: unknown }).code]));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ range: 'Events', rows: [['ev-1']] }));
    });
  }

  it('is 507 for a full backlog as for a journal that cannot be written, not 502 (an upstream failure)', async () => {
    assert.deepEqual(await refused(new JournalFullError('/data/sheets.journal', 2048, 1024)), [507, 'CORRAL_ERR_JOURNAL_FULL']);
    assert.deepEqual(await refused(new DataDirWriteError('the journal', '/data/sheets.journal', Object.assign(new Error('no space'), { code: 'ENOSPC' }))), [507, 'CORRAL_ERR_JOURNAL_UNWRITABLE']);
  });
});
