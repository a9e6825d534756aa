// The host cache handed from a draining keeper to the next one (keeper/cache-handoff.ts): the file
// itself, and keepers started one after the other on one data dir, as a reload that changes the
// keeper's settings starts them.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CACHE_HANDOFF_FILE, dropCacheHandoff, readCacheHandoff, saveCacheHandoff } from '../../src/sheets/keeper/cache-handoff.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import type { KeeperSettings } from '../../src/sheets/keeper/keeper-options.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import type { CachedValue } from '../../src/sheets/keeper/cached-value.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { FakeClock, SteppedClock } from '../fixtures/fake-clock.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;
const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];

function cached(range: string, values: string[][], fetchedAt: number): CachedValue {
  return { range, values, jsonBytes: Buffer.from(JSON.stringify(values)), fetchStartedAt: fetchedAt - 800, fetchedAt, expiresAt: fetchedAt + 60_000 };
}

describe('the cache handoff file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-handoff-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives back what was saved; the file stays until it is dropped', async () => {
    const players = [['name', 'code'], ['Alice', 'P001'], ['Zoë "Z"\nNewline', 'P002']];
    await saveCacheHandoff(dir, 'google S1', [cached('Players', players, T0), cached('Events!A:E', [], T0 - 5000)], T0 + 100);
    const taken = await readCacheHandoff(dir, 'google S1', T0 + 1000, HOUR);
    assert.equal(taken.kind, 'restored');
    assert.ok(taken.kind === 'restored');
    assert.deepEqual(
      taken.values.map((v) => [v.range, v.values, v.fetchStartedAt, v.fetchedAt, v.jsonBytes.toString()]),
      [
        ['Players', players, T0 - 800, T0, JSON.stringify(players)],
        ['Events!A:E', [], T0 - 5800, T0 - 5000, '[]'],
      ],
    );
    assert.equal(taken.savedAt, T0 + 100);
    assert.deepEqual(await readCacheHandoff(dir, 'google S1', T0 + 1000, HOUR), taken, 'left for a start after this one');
    await dropCacheHandoff(dir);
    assert.equal(existsSync(join(dir, CACHE_HANDOFF_FILE)), false);
    assert.deepEqual(await readCacheHandoff(dir, 'google S1', T0 + 1000, HOUR), { kind: 'none' });
  });

  it("is not used for another sheet, nor when cut short or damaged; it is deleted all the same", async () => {
    const save = () => saveCacheHandoff(dir, 'google S1', [cached('Players', [['a']], T0), cached('Events', [['b']], T0)], T0);
    await save();
    const other = await readCacheHandoff(dir, 'google S2 via https://sheets.googleapis.com', T0, HOUR);
    assert.equal(other.kind, 'ignored');
    assert.match(other.kind === 'ignored' ? other.reason : '', /another sheet's values \(google S1\)/);
    assert.equal(existsSync(join(dir, CACHE_HANDOFF_FILE)), false);

    const path = join(dir, CACHE_HANDOFF_FILE);
    const damaged: [string, (text: string) => string, RegExp][] = [
      ['cut short', (t) => t.slice(0, t.lastIndexOf('[["b"]]')), /1 lines of values for 2 ranges/],
      ['a line damaged', (t) => t.replace('[["b"]]', '[["b"'), /values of Events are not JSON/],
      ['not rows of strings', (t) => t.replace('[["b"]]', '[["b",7]]'), /values of Events are not rows of strings/],
      ['header damaged', (t) => `x${t}`, /header is not JSON/],
      ['another version', (t) => t.replace('"v":1', '"v":2'), /unknown version 2/],
    ];
    for (const [what, damage, reason] of damaged) {
      await save();
      writeFileSync(path, damage(readFileSync(path, 'utf8')));
      const taken = await readCacheHandoff(dir, 'google S1', T0, HOUR);
      assert.equal(taken.kind, 'ignored', what);
      assert.match(taken.kind === 'ignored' ? taken.reason : '', reason, what);
      assert.equal(existsSync(path), false, `${what}: deleted`);
    }
  });

  it('one that cannot be read (a directory in its place, as an I/O error or a file over 2 GiB) is dropped, not tried again at every start', async () => {
    mkdirSync(join(dir, CACHE_HANDOFF_FILE));
    const taken = await readCacheHandoff(dir, 'src', T0, HOUR);
    assert.equal(taken.kind, 'ignored');
    if (taken.kind === 'ignored') assert.match(taken.reason, /^it cannot be read \(EISDIR/);
    assert.equal(existsSync(join(dir, CACHE_HANDOFF_FILE)), false);
    assert.deepEqual(await readCacheHandoff(dir, 'src', T0, HOUR), { kind: 'none' });
  });

  it('drops values that could no longer be served, and values from after now (a clock set back), but names every copy the file holds; removes a temporary file never renamed', async () => {
    await saveCacheHandoff(dir, 'src', [cached('Old', [['o']], T0 - HOUR - 1), cached('Kept', [['k']], T0 - HOUR + 1), cached('Future', [['f']], T0 + 10)], T0);
    writeFileSync(join(dir, `${CACHE_HANDOFF_FILE}.tmp`), 'half a file');
    const taken = await readCacheHandoff(dir, 'src', T0, HOUR);
    assert.ok(taken.kind === 'restored');
    assert.deepEqual(taken.values.map((v) => v.range), ['Kept']);
    assert.deepEqual([taken.tooOld, taken.ahead], [1, 1]);
    // The journal keeps what they need while the file is left: a keeper with other settings may serve them.
    assert.deepEqual(taken.copies, [
      { range: 'Old', fetchStartedAt: T0 - HOUR - 801 },
      { range: 'Kept', fetchStartedAt: T0 - HOUR - 799 },
      { range: 'Future', fetchStartedAt: T0 - 790 },
    ]);
    assert.equal(existsSync(join(dir, `${CACHE_HANDOFF_FILE}.tmp`)), false);
  });
});

describe('keepers one after the other on one data dir', () => {
  let dir: string;
  let backend: FakeBackend;
  let log: CapturedLogger;
  const keepers: Keeper[] = [];
  let settings: KeeperSettings;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-handoff-keeper-'));
    backend = new FakeBackend({ Events: [HEADER, ['ev-1', 'P001', 'joined', '', '2024-01-01']], Players: [['name', 'code'], ['Alice', 'P001']] });
    log = await captureLogger();
    settings = testKeeperSettings(dir);
  });
  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(clock: FakeClock, s: KeeperSettings = settings): Promise<Keeper> {
    const k = await Keeper.start({ settings: s, logger: log.logger, socketPath: undefined, clock, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
    keepers.push(k);
    return k;
  }

  const events = (name: string) => log.lines().filter((l) => l.event === name);

  it('a keeper started after a drain answers from the cache it was handed, without calling Google, and refreshes it by its own TTL', async () => {
    const first = await start(new FakeClock(T0));
    const before = await first.read('Players');
    assert.equal(backend.count('get'), 1);
    await first.drain(T0 + 5000);
    assert.deepEqual(events('sheets.cache_handed_over').map((l) => l.ranges), [1]);

    // 20 s later, with a TTL of 30 s now (a setting a reload changed, which restarts the keeper).
    const clock = new FakeClock(T0 + 20_000);
    const next = await start(clock, { ...settings, SHEET_CACHE_TTL: 30 });
    const handed = await next.read('Players');
    assert.deepEqual([handed.via, handed.stale, handed.values, handed.fetchedAt], ['fresh', false, before.values, before.fetchedAt]);
    assert.equal(handed.expiresAt, before.fetchedAt + 30_000, "timed by this keeper's TTL");
    assert.equal(backend.count('get'), 1, 'no call to Google');
    const restored = events('sheets.cache_restored');
    assert.equal(restored.length, 1);
    assert.deepEqual([restored[0]?.ranges, restored[0]?.oldest_age_s], [1, 20]);

    // Past that TTL: the handed copy is served stale while one refresh runs, as a fetched one is.
    backend.tabs.get('Players')?.push(['Bob', 'P002']);
    await clock.advance(11_000);
    const stale = await next.read('Players');
    assert.deepEqual([stale.via, stale.stale], ['stale', true]);
    for (let i = 0; i < 50 && backend.count('get') < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(backend.count('get'), 2);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual((await next.read('Players')).values.at(-1), ['Bob', 'P002']);
  });

  it("a row acknowledged after the handed copy was fetched stays in reads of it, past the journal's retention", async () => {
    const first = await start(new FakeClock(T0));
    const copy = await first.read('Events');
    assert.deepEqual(copy.values.map((r) => r[0]), ['event_id', 'ev-1']);
    await first.append('Events', [['ev-X', 'P002', 'goal', '', '2024-03-02']]);
    await first.flush();
    assert.ok(backend.ids('Events').includes('ev-X'), 'in Google, after the copy was fetched');
    await first.drain(T0 + 5000);
    // 11 minutes on: the journal keeps done entries 10, unless a copy from before them is served.
    const next = await start(new FakeClock(T0 + 11 * 60_000));
    const read = await next.read('Events');
    // The handed copy (its refresh has just begun), with the row from the journal.
    assert.deepEqual([read.via, read.fetchedAt, read.pendingRows], ['stale', copy.fetchedAt, 1]);
    assert.deepEqual(read.values.map((r) => r[0]), ['event_id', 'ev-1', 'ev-X']);
  });

  // A keeper's clock is the wall clock at its start, then monotonic: after a step of the system
  // clock (NTP at boot) or a suspend during its life, it is that far from the next keeper's.
  for (const step of [HOUR, -HOUR]) {
    it(`a copy handed over by a keeper whose clock is an hour ${step > 0 ? 'behind' : 'ahead of'} the wall clock is served by its true age`, async () => {
      const clock = new SteppedClock(T0, step);
      const first = await start(clock);
      const before = await first.read('Players');
      await clock.advance(10_000);
      await first.drain(T0 + 15_000);
      // A second after the handoff: the next keeper's clock starts from the wall clock.
      const next = await start(new FakeClock(T0 + step + 11_000));
      const handed = await next.read('Players');
      assert.deepEqual([handed.via, handed.values, handed.fetchedAt], ['fresh', before.values, before.fetchedAt + step], 'fetched 11 s ago, not an hour');
      assert.equal(backend.count('get'), 1, 'no call to Google');
      assert.deepEqual(events('sheets.cache_restored').map((l) => [l.oldest_age_s, l.handed_over_s_ago]), [[11, 1]]);
    });
  }

  it("a row acknowledged after the handed copy was fetched stays in reads of it across a step of the first keeper's clock", async () => {
    const clock = new SteppedClock(T0, HOUR);
    const first = await start(clock);
    const copy = await first.read('Events');
    await clock.advance(1000);
    await first.append('Events', [['ev-X', 'P002', 'goal', '', '2024-03-02']]);
    await first.flush();
    assert.ok(backend.ids('Events').includes('ev-X'), 'in Google, after the copy was fetched');
    await first.drain(T0 + 6000);
    // 11 minutes on, on the wall clock: past the journal's retention of done entries, and the
    // copy's TTL, not its max staleness. Its done time and the copy's fetch start are compared on
    // one clock (both files hold wall-clock times): the row stays while the copy lacks it.
    const next = await start(new FakeClock(T0 + HOUR + 11 * 60_000));
    const read = await next.read('Events');
    assert.deepEqual([read.via, read.fetchedAt, read.pendingRows], ['stale', copy.fetchedAt + HOUR, 1]);
    assert.deepEqual(read.values.map((r) => r[0]), ['event_id', 'ev-1', 'ev-X']);
  });

  it("a row done before a step of the system clock during the first keeper's life stays in reads of the copy it handed over after the step", async () => {
    const clock = new SteppedClock(T0, 0);
    const first = await start(clock);
    const copy = await first.read('Events');
    await clock.advance(1000);
    await first.append('Events', [['ev-X', 'P002', 'goal', '', '2024-03-02']]);
    await first.flush();
    // NTP steps the system clock an hour forward: the done record is already written, the
    // handoff is not. Both must reach the next keeper on one clock.
    clock.step(HOUR);
    await first.drain(T0 + 6000);
    const next = await start(new FakeClock(T0 + HOUR + 11 * 60_000));
    const read = await next.read('Events');
    assert.deepEqual([read.via, read.fetchedAt, read.pendingRows], ['stale', copy.fetchedAt + HOUR, 1]);
    assert.deepEqual(read.values.map((r) => r[0]), ['event_id', 'ev-1', 'ev-X']);
  });

  it('a keeper that did not drain (a crash) hands nothing over, and a handed cache is used by one start only', async () => {
    const first = await start(new FakeClock(T0));
    await first.read('Players');
    await first.close();
    keepers.splice(0);
    const second = await start(new FakeClock(T0 + 1000));
    await second.read('Players');
    assert.equal(backend.count('get'), 2, 'nothing was handed over: fetched again');
    await second.drain(T0 + 6000);
    keepers.splice(0);
    const third = await start(new FakeClock(T0 + 2000));
    await third.read('Players');
    assert.equal(backend.count('get'), 2, 'handed over by the drain');
    // The third crashes: the fourth must not take the file the third took.
    await third.close();
    keepers.splice(0);
    const fourth = await start(new FakeClock(T0 + 3000));
    await fourth.read('Players');
    assert.equal(backend.count('get'), 3);
  });

  it('hands the cache over also when an append to Google hangs through the drain: the flush stops short of the deadline', async () => {
    // The system clock: the drain's deadline is a real one here.
    const first = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
    keepers.push(first);
    await first.read('Players');
    await first.append('Events', [['ev-H', 'P002', 'goal', '', '2024-03-02']]);
    backend.hold();
    const flushing = first.flush();
    for (let i = 0; i < 100 && backend.count('append') === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(backend.count('append'), 1, 'the append is on its way, and hangs');
    const left = await first.drain(Date.now() + 1500);
    backend.release();
    await flushing.catch(() => undefined);
    assert.equal(left, 1, 'the row stays journaled for the next keeper');
    assert.deepEqual(events('sheets.cache_handed_over').map((l) => l.ranges), [1]);
  });

  it('a keeper whose boot fails after it took the handed cache (before it served anything) leaves it to the keeper started next', async () => {
    const first = await start(new FakeClock(T0));
    await first.read('Players');
    await first.drain(T0 + 5000);
    keepers.splice(0);
    // The next keeper's boot fails after the handoff is taken and before it serves: here its
    // socket cannot be bound (something stands at its path); the same for a journal that cannot be
    // opened, a stop or a rollback while it replays, a replay killed as silent.
    const socketPath = join(dir, 'keeper.sock');
    mkdirSync(join(socketPath, 'x'), { recursive: true });
    await assert.rejects(Keeper.start({ settings, logger: log.logger, socketPath, clock: new FakeClock(T0 + 1000), openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 }));
    rmSync(socketPath, { recursive: true, force: true });
    // The keeper started after it (the master's next attempt, or the rollback's) gets the cache.
    const next = await start(new FakeClock(T0 + 2000));
    assert.equal((await next.read('Players')).via, 'fresh');
    assert.equal(backend.count('get'), 1, 'no call to Google');
  });

  it("a keeper whose boot fails after its journal's open let go of what it does not serve keeps the done entries the handed copies need: the keeper after it, with other settings, shows the row", async () => {
    const first = await start(new FakeClock(T0));
    const copy = await first.read('Events');
    await first.append('Events', [['ev-X', 'P002', 'goal', '', '2024-03-02']]);
    await first.flush();
    assert.ok(backend.ids('Events').includes('ev-X'), 'in Google, after the copy was fetched');
    await first.drain(T0 + 5000);
    keepers.splice(0);
    // 11 minutes on, past the journal's retention of done entries. A reload lowered
    // SHEET_CACHE_MAX_STALE: the copy is too old for this keeper, which restores nothing, and its
    // journal's open judges by what it serves. Its socket cannot be bound: it never serves.
    const socketPath = join(dir, 'keeper.sock');
    mkdirSync(join(socketPath, 'x'), { recursive: true });
    const lowered = { ...settings, SHEET_CACHE_MAX_STALE: 60 };
    await assert.rejects(Keeper.start({ settings: lowered, logger: log.logger, socketPath, clock: new FakeClock(T0 + 11 * 60_000), openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 }));
    rmSync(socketPath, { recursive: true, force: true });
    assert.deepEqual(events('sheets.cache_handoff_ignored').map((l) => l.too_old), [1]);
    // Rolled back to the old settings: the copy is servable again, and taken.
    const next = await start(new FakeClock(T0 + 11 * 60_000 + 1000));
    const read = await next.read('Events');
    assert.deepEqual([read.via, read.fetchedAt, read.pendingRows], ['stale', copy.fetchedAt, 1]);
    assert.deepEqual(read.values.map((r) => r[0]), ['event_id', 'ev-1', 'ev-X']);
  });

  it("is not served without the journal it was handed over beside (moved aside, as the README's rollback to an older build has it): rows acknowledged after the copy was fetched stay in reads", async () => {
    const first = await start(new FakeClock(T0));
    await first.read('Events');
    await first.append('Events', [['ev-X', 'P002', 'goal', '', '2024-03-02']]);
    await first.flush();
    assert.ok(backend.ids('Events').includes('ev-X'), 'in Google, after the copy was fetched');
    await first.drain(T0 + 5000);
    keepers.splice(0);
    // Stopped with "journal flushed"; the operator moves sheets.journal aside and starts again.
    renameSync(join(dir, 'sheets.journal'), join(dir, 'sheets.journal.old'));
    const next = await start(new FakeClock(T0 + 6000));
    const read = await next.read('Events');
    assert.ok(read.values.some((r) => r[0] === 'ev-X'), `ev-X, acknowledged and in the sheet, is in the read (${read.via}, ${read.values.map((r) => r[0]).join(' ')})`);
  });

  it('says why nothing was restored when every handed range is too old to be served', async () => {
    const first = await start(new FakeClock(T0));
    await first.read('Players');
    await first.drain(T0 + 5000);
    keepers.splice(0);
    // A start two hours later: past the TTL (60 s) and SHEET_CACHE_MAX_STALE (1 h).
    const next = await start(new FakeClock(T0 + 2 * HOUR));
    assert.equal((await next.read('Players')).via, 'miss');
    assert.deepEqual(events('sheets.cache_restored'), []);
    assert.deepEqual(events('sheets.cache_handoff_ignored').map((l) => [l.reason, l.too_old]), [['its 1 range is older than SHEET_CACHE_TTL + SHEET_CACHE_MAX_STALE', 1]]);
  });

  it('says that the clock was set back, not that the ranges are too old, when every handed range is from after now', async () => {
    const first = await start(new FakeClock(T0));
    await first.read('Players');
    await first.drain(T0 + 5000);
    keepers.splice(0);
    // The wall clock ran 10 minutes ahead while the first keeper ran, and was set right before the next.
    const next = await start(new FakeClock(T0 - 10 * 60_000));
    assert.equal((await next.read('Players')).via, 'miss');
    const ignored = events('sheets.cache_handoff_ignored');
    assert.deepEqual(ignored.map((l) => [l.too_old, l.ahead]), [[0, 1]]);
    assert.doesNotMatch(String(ignored[0]?.reason), /older than/);
    assert.match(String(ignored[0]?.reason), /fetched after now by this host's clock/);
  });

  it("is not used when the next keeper reads another sheet", async () => {
    const first = await start(new FakeClock(T0));
    await first.read('Players');
    await first.drain(T0 + 5000);
    keepers.splice(0);
    backend.source = 'fake backend, another sheet';
    const next = await start(new FakeClock(T0 + 1000));
    const read = await next.read('Players');
    assert.equal(read.via, 'miss');
    assert.equal(backend.count('get'), 2);
    const ignored = events('sheets.cache_handoff_ignored');
    assert.equal(ignored.length, 1);
    assert.match(String(ignored[0]?.reason), /another sheet's values \(fake backend\)/);
  });
});
