// A journal write whose fsync is slow: every append of the group waited as long for its
// acknowledgement. Told by the journal file (SLOW_SYNC_MS), said by the keeper as
// `journal.slow_sync`: at the first, then at most once a minute with the count and the longest.
// And one that does not return (a dead mount, a failing drive): said while it lasts, past
// SYNC_STUCK_MS (journal.sync_stuck), new appends refused meanwhile (journal-sync-watch.ts).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test, it } from 'node:test';
import { JournalWriteStuckError } from '../../src/errors.js';
import { JournalFile, SLOW_SYNC_MS, SYNC_STUCK_MS } from '../../src/sheets/keeper/journal-file.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { JournalSlowSyncLog } from '../../src/sheets/keeper/slow-sync-log.js';
import { JournalSyncStuckLog } from '../../src/sheets/keeper/sync-stuck-log.js';
import { SyncWatch } from '../../src/sheets/keeper/journal-sync-watch.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock, settle } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const row = (id: string) => [id, 'P001', 'goal', `detail ${id}`, '2024-03-02T15:12:00Z'];

test('a group whose write and fsync take SLOW_SYNC_MS or longer is told with how long and its bytes; a fast one is not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-slow-sync-'));
  let slowMs = 0;
  // The handle's fsync held back as a saturated disk holds it.
  const slowDisk = (fh: FileHandle): FileHandle =>
    new Proxy(fh, {
      get(target, prop) {
        if (prop === 'datasync') return async () => {
          if (slowMs > 0) await new Promise((r) => setTimeout(r, slowMs));
          return target.datasync();
        };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  try {
    const { file } = await JournalFile.open(join(dir, 'sheets.journal'), { wrapHandle: slowDisk });
    const told: Array<[number, number]> = [];
    file.onSlowSync((ms, bytes) => told.push([ms, bytes]));
    await file.append([{ k: 'add', id: 'fast' }]);
    assert.deepEqual(told, []);
    slowMs = SLOW_SYNC_MS + 100;
    await file.append([{ k: 'add', id: 'slow' }]);
    assert.equal(told.length, 1);
    assert.ok((told[0]?.[0] ?? 0) >= SLOW_SYNC_MS, `${told[0]?.[0]} ms`);
    assert.ok((told[0]?.[1] ?? 0) > 0);
    // A telling that throws (a log that cannot be written) fails no append: the group is durable.
    file.onSlowSync(() => {
      throw new Error('the log cannot be written');
    });
    await file.append([{ k: 'add', id: 'slow-again' }]);
    await file.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal.slow_sync is said at the first, then at most once a minute with the count and the longest', async () => {
  const log = await captureLogger();
  try {
    let now = 0;
    const said = new JournalSlowSyncLog(log.logger, '/var/lib/corral/sheets.journal', () => now);
    said.said(3200, 512);
    said.said(45_000, 256);
    now += 61_000;
    said.said(1500, 128);
    const lines = log.lines().filter((l) => l.event === 'journal.slow_sync');
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.level, 'warn');
    assert.equal(lines[0]?.ms, 3200);
    assert.match(String(lines[0]?.msg), /^keeper: writing and fsyncing the journal \/var\/lib\/corral\/sheets\.journal took 3\.2 s: the appends of that write, and the requests that added them, waited as long/);
    assert.equal(lines[1]?.slow, 2);
    assert.equal(lines[1]?.longest_ms, 45_000);
    assert.match(String(lines[1]?.msg), /^keeper: 2 more journal writes took a second or more since the last such line, the longest 45 s/);
  } finally {
    log.close();
  }
});

/**
 * Handles whose fsync (datasync, the group commit's) hangs while `hang.on`, as on a dead network
 * mount, until `hang.release()`; `hang.waiting` says whether a write waits in it.
 */
function hangingDisk(): { wrap: (fh: FileHandle) => FileHandle; hang: { on: boolean; waiting: boolean; release: () => void } } {
  const hang = { on: false, waiting: false, release: () => undefined as void };
  const wrap = (fh: FileHandle): FileHandle =>
    new Proxy(fh, {
      get(target, prop) {
        if (prop === 'datasync' && hang.on) {
          return () =>
            new Promise<void>((resolve, reject) => {
              hang.waiting = true;
              hang.release = () => {
                hang.waiting = false;
                target.datasync().then(resolve, reject);
              };
            });
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return { wrap, hang };
}

/** `p`, or a failure when it has not settled within a few turns of the loop: "at once", not queued behind a write. */
function atOnce<T>(p: Promise<T>): Promise<T> {
  return Promise.race([p, settle().then(settle).then(settle).then(() => Promise.reject(new Error('not answered at once: queued behind the write that hangs')))]);
}

/** Waits (real time, up to 5 s: the write before the hang is real I/O, slow on a loaded box) for `ok`. */
async function until(what: string, ok: () => boolean): Promise<void> {
  // 500 turns of the loop were a few milliseconds: with other test runs on the two cores the
  // keeper's first write had not reached its fsync yet, about one run in five.
  const end = performance.now() + 5_000;
  while (!ok() && performance.now() < end) await new Promise((r) => setTimeout(r, 1));
  assert.ok(ok(), what);
}

describe('a write of the journal that does not return (a hung disk)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-sync-stuck-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is told once SYNC_STUCK_MS have passed, while it lasts, and again when it returns, with the appends refused meanwhile', async () => {
    const { wrap, hang } = hangingDisk();
    const syncClock = new FakeClock();
    const { file } = await JournalFile.open(join(dir, 'sheets.journal'), { wrapHandle: wrap, syncClock });
    const told: string[] = [];
    file.onSyncStuck({
      stuck: (w) => told.push(`stuck ${w.what} ${w.ms} ms ${w.bytes} bytes`),
      returned: (w, refused, err) => told.push(`returned ${w.what} ${w.ms} ms, ${refused} refused${err ? `, ${err.message}` : ''}`),
    });
    hang.on = true;
    let acknowledged = false;
    const append = file.append([{ k: 'add', id: 'a' }]).then(() => (acknowledged = true));
    await until('the write waits in its fsync', () => hang.waiting);
    const bytes = file.bytes();
    await syncClock.advance(SYNC_STUCK_MS - 1);
    assert.deepEqual(told, []);
    assert.equal(file.writes.stuckFor(), undefined);
    assert.equal(file.writes.refusal(file.path), undefined, 'a slow write is no stuck one');
    await syncClock.advance(1);
    assert.equal(told.length, 1, 'said while the fsync has not returned');
    assert.match(told[0] ?? '', new RegExp(`^stuck append ${SYNC_STUCK_MS} ms \\d+ bytes$`));
    assert.equal(file.writes.stuckFor(), SYNC_STUCK_MS);
    const refusal = file.writes.refusal(file.path);
    assert.ok(refusal instanceof JournalWriteStuckError);
    assert.deepEqual([refusal.code, refusal.path, refusal.stuckMs, refusal.errno], ['CORRAL_ERR_JOURNAL_UNWRITABLE', file.path, SYNC_STUCK_MS, undefined]);
    assert.match(refusal.message, /a write of it has not returned for 10 s \(the data disk hangs/);
    await syncClock.advance(30_000);
    assert.equal(told.length, 1, 'once per write, not again while it lasts');
    assert.equal(acknowledged, false);
    hang.on = false;
    hang.release();
    await append;
    assert.deepEqual(told.slice(1), [`returned append ${SYNC_STUCK_MS + 30_000} ms, 1 refused`]);
    assert.equal(file.writes.stuckFor(), undefined);
    assert.equal(file.writes.refusal(file.path), undefined);
    assert.equal(file.writes.refusedSinceOpen, 1);
    assert.ok(file.bytes() > bytes);
    await file.close();
  });

  it('a journal put back from memory before a group of appends (deleted meanwhile) is judged as a rewrite of its size, not as the group', async () => {
    // The rewrite's fsync hangs a while, as a slow disk's does for 30 MiB.
    const hang = { on: false, waiting: false, release: () => undefined as void };
    const wrap = (fh: FileHandle): FileHandle =>
      new Proxy(fh, {
        get(target, prop) {
          if (prop === 'sync' && hang.on) {
            return () =>
              new Promise<void>((resolve, reject) => {
                hang.waiting = true;
                hang.release = () => {
                  hang.waiting = false;
                  target.sync().then(resolve, reject);
                };
              });
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    const syncClock = new FakeClock();
    const path = join(dir, 'sheets.journal');
    const { file } = await JournalFile.open(path, { wrapHandle: wrap, syncClock });
    const big = { k: 'add', id: 'a', pad: 'x'.repeat(30 * 1048576) };
    await file.append([big]);
    file.recoverReplacementWith({ snapshot: () => [big], told: () => undefined });
    const told: string[] = [];
    file.onSyncStuck({ stuck: (w) => told.push(w.what), returned: () => undefined });
    rmSync(path);
    hang.on = true;
    const append = file.append([{ k: 'add', id: 'b' }]);
    try {
      // 30 MiB written first: real time, not turns of the loop.
      for (let i = 0; i < 1000 && !hang.waiting; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(hang.waiting, 'the rewrite waits in its fsync');
      // Judged as the group of appends it runs in, it was a hung disk at 10 s: appends refused 503.
      await syncClock.advance(SYNC_STUCK_MS + 2_000);
      assert.deepEqual(told, [], '30 MiB put back: 10 s and 3 s more');
      assert.equal(file.writes.refusal(file.path), undefined);
      await syncClock.advance(1_100);
      assert.deepEqual(told, ['rewrite']);
    } finally {
      hang.on = false;
      hang.release();
      await append.catch(() => undefined);
      await file.close();
    }
  });

  it('refuses new appends at once, journaling nothing, while the appends it carries wait for it', async () => {
    const { wrap, hang } = hangingDisk();
    const syncClock = new FakeClock();
    const { journal } = await Journal.open({ dir, destination: 'the sheet', file: { wrapHandle: wrap, syncClock } });
    try {
      hang.on = true;
      let first: unknown;
      const waiting = journal.add('Events', [row('ev-1')]).then((r) => (first = r));
      await until('the write waits in its fsync', () => hang.waiting);
      await syncClock.advance(SYNC_STUCK_MS);
      const bytes = journal.fileBytes();
      await assert.rejects(atOnce(journal.add('Events', [row('ev-2')])), (err: JournalWriteStuckError) => err instanceof JournalWriteStuckError && err.code === 'CORRAL_ERR_JOURNAL_UNWRITABLE');
      assert.equal(journal.fileBytes(), bytes, 'nothing journaled for it');
      assert.deepEqual(journal.rowsFor('Events', 0), [], 'nor shown');
      // A retry of the rows in the stuck write waits with them: their outcome is not known yet.
      let retried: unknown;
      const retry = journal.add('Events', [row('ev-1')]).then((r) => (retried = r));
      await settle();
      assert.deepEqual([first, retried], [undefined, undefined]);
      assert.equal(journal.syncStuckFor(), SYNC_STUCK_MS);
      assert.equal(journal.appendsRefusedStuck(), 1);
      hang.on = false;
      hang.release();
      await Promise.all([waiting, retry]);
      assert.equal((retried as { duplicates: number }).duplicates, 1);
      assert.equal(journal.syncStuckFor(), undefined);
      await journal.add('Events', [row('ev-2')]);
      assert.deepEqual(journal.live().map((e) => e.rows[0]?.[0]), ['ev-1', 'ev-2']);
    } finally {
      hang.on = false;
      hang.release();
      await journal.close();
    }
  });

  it('the keeper says journal.sync_stuck while it lasts, reports the journal not writable, refuses appends unacknowledged, and says when it returned', async () => {
    const { wrap, hang } = hangingDisk();
    const syncClock = new FakeClock();
    const log = await captureLogger();
    const k = await Keeper.start({
      settings: testKeeperSettings(dir),
      logger: log.logger,
      socketPath: undefined,
      clock: new FakeClock(),
      openBackend: async (pace) => paced(new FakeBackend({ Events: [['event_id', 'player', 'kind', 'detail', 'at']] }), pace),
      lockWaitMs: 2000,
      journalFile: { wrapHandle: wrap, syncClock },
    });
    try {
      const lines = (event: string) => log.lines().filter((l) => l.event === event);
      hang.on = true;
      const waiting = k.append('Events', [row('ev-1')]);
      await until('the write waits in its fsync', () => hang.waiting);
      assert.deepEqual([k.figures().journalWritable, k.figures().journalSyncStuckSeconds], [true, 0], 'a write a few seconds long is no hung one');
      await syncClock.advance(SYNC_STUCK_MS + 2500);
      const [stuck, ...more] = lines('journal.sync_stuck');
      assert.equal(more.length, 0);
      assert.deepEqual([stuck?.level, stuck?.path, stuck?.what, stuck?.ms], ['warn', join(dir, 'sheets.journal'), 'append', SYNC_STUCK_MS]);
      assert.ok((stuck?.bytes as number) > 0);
      assert.match(String(stuck?.msg), /has not returned for 10 s: the data dir's disk hangs .*New appends are refused at once \(503 not_saved, nothing recorded\) until it returns/);
      assert.deepEqual([k.figures().journalWritable, k.figures().journalSyncStuckSeconds], [false, 12], "health's journal: sync_stuck");
      await assert.rejects(atOnce(k.append('Events', [row('ev-2')])), { code: 'CORRAL_ERR_JOURNAL_UNWRITABLE' });
      await assert.rejects(atOnce(k.append('Events', [row('ev-3')])), { code: 'CORRAL_ERR_JOURNAL_UNWRITABLE' });
      assert.equal(k.figures().journalAppendsRefused, 2);
      assert.deepEqual(lines('journal.write_failed'), [], 'no errno to name, no space to free');
      hang.on = false;
      hang.release();
      await waiting;
      const [back] = lines('journal.sync_recovered');
      assert.deepEqual([back?.level, back?.ms, back?.refused, back?.failed], ['info', SYNC_STUCK_MS + 2500, 2, false]);
      assert.match(String(back?.msg), /returned after 12\.5 s, written: appends are taken again; 2 were refused meanwhile/);
      assert.deepEqual([k.figures().journalWritable, k.figures().journalSyncStuckSeconds], [true, 0], 'writable again as soon as it returned, before any append');
      await k.append('Events', [row('ev-2')]);
      assert.equal(k.figures().journalBacklogRows, 2);
    } finally {
      hang.on = false;
      hang.release();
      await k.close();
      log.close();
    }
  });
});

test('journal.sync_recovered of a hung write that returned an error is a warning naming it; a rewrite and a check are said as such', async () => {
  const log = await captureLogger();
  try {
    const said = new JournalSyncStuckLog(log.logger, '/var/lib/corral/sheets.journal');
    said.stuck({ what: 'rewrite', bytes: 4096, ms: 10_000 });
    said.returned({ what: 'append', bytes: 512, ms: 95_000 }, 7, Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    said.stuck({ what: 'check', bytes: 0, ms: 10_000 });
    const lines = log.lines().filter((l) => typeof l.event === 'string' && l.event.startsWith('journal.sync_'));
    assert.deepEqual(lines.map((l) => [l.event, l.level, l.what]), [['journal.sync_stuck', 'warn', 'rewrite'], ['journal.sync_recovered', 'warn', 'append'], ['journal.sync_stuck', 'warn', 'check']]);
    assert.match(String(lines[0]?.msg), /\(its rewrite \(the file held 4096 bytes\)\) has not returned for 10 s/);
    assert.deepEqual([lines[1]?.failed, lines[1]?.refused], [true, 7]);
    assert.match(String(lines[1]?.msg), /returned after 95 s with an error \(EIO: i\/o error, fdatasync\): the appends it carried were refused; appends are taken again; 7 were refused meanwhile/);
    assert.match(String(lines[2]?.msg), /\(the check of its file before a write\)/);
  } finally {
    log.close();
  }
});

test("a rewrite (a compaction) has a second per 10 MiB of the file on top of SYNC_STUCK_MS before it counts as a hung disk; a group of appends does not", async () => {
  const clock = new FakeClock();
  const watch = new SyncWatch(clock);
  const told: string[] = [];
  watch.listen({ stuck: (w) => told.push(`${w.what} ${w.ms}`), returned: () => undefined });
  watch.begin('rewrite', 100 * 1048576);
  await clock.advance(SYNC_STUCK_MS + 9_999);
  assert.deepEqual(told, [], 'a 100 MiB rewrite 20 s in: slow, not hung');
  assert.equal(watch.refusal('/data/sheets.journal'), undefined, 'appends wait for it, not refused');
  await clock.advance(1);
  assert.deepEqual(told, [`rewrite ${SYNC_STUCK_MS + 10_000}`]);
  watch.end();
  watch.begin('append', 100 * 1048576);
  await clock.advance(SYNC_STUCK_MS);
  assert.deepEqual(told.slice(1), [`append ${SYNC_STUCK_MS}`]);
  watch.end();
});
