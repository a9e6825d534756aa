import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Flusher } from '../../src/sheets/keeper/flusher.js';
import { decodeRecord, encodeRecord, JournalFile, type JournalRecord } from '../../src/sheets/keeper/journal-file.js';
import { FORMAT_KIND } from '../../src/sheets/keeper/journal-format.js';
import { isCutWrite } from '../../src/sheets/keeper/journal-scan.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend, GOOGLE_MAX_REQUEST_BYTES } from '../fixtures/fake-sheets-backend.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const row = (id: string) => [id, 'P001', 'goal', `detail ${id}`, '2024-03-02T15:12:00Z'];

interface Faults {
  /** The next write call writes all but this many bytes and says so; the call after it fails (ENOSPC). */
  tornWrite: number | undefined;
  /** This many truncate calls fail (EIO). */
  truncateFails: number;
  truncates: number;
}

/** A FileHandle whose write can stop part-way then fail, and whose truncate can fail. */
function faultyHandle(faults: Faults): (fh: FileHandle) => FileHandle {
  let failNextWrite = false;
  return (fh) =>
    new Proxy(fh, {
      get(target, prop) {
        if (prop === 'write') {
          return async (buf: Buffer, off: number, len: number) => {
            if (failNextWrite) {
              failNextWrite = false;
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
            }
            if (faults.tornWrite !== undefined && len > faults.tornWrite) {
              const part = len - faults.tornWrite;
              faults.tornWrite = undefined;
              failNextWrite = true;
              return target.write(buf, off, part);
            }
            return target.write(buf, off, len);
          };
        }
        if (prop === 'truncate') {
          return async (len?: number) => {
            faults.truncates++;
            if (faults.truncateFails > 0) {
              faults.truncateFails--;
              throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
            }
            return target.truncate(len);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
}

/**
 * The ids of the records but the file's format declaration (journal-format.ts), which every file
 * the journal begins carries first: what these tests look at is the records around it.
 */
const ids = (records: readonly JournalRecord[]) => records.filter((r) => r.k !== FORMAT_KIND).map((r) => r.id);
/** The ids of the records in the file at `path`, as written (a damaged line's is undefined), but its format declaration. */
const fileIds = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => decodeRecord(l))
    .filter((r) => r?.k !== FORMAT_KIND)
    .map((r) => r?.id);

describe('write journal', () => {
  let dir: string;
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  const open: Journal[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-journal-'));
    clock = new FakeClock();
    backend = new FakeBackend({ Events: [HEADER], Players: [['name', 'code']] });
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const j of open.splice(0)) await j.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openJournal(extra: { compactBytes?: number; retainDoneMs?: number } = {}) {
    const r = await Journal.open({ dir, destination: 'fake sheet', clock, unsureDelayMs: 1000, ...extra });
    open.push(r.journal);
    return r;
  }

  function flusherFor(journal: Journal, writeQuota = new QuotaBucket({ name: 'writes', perMinute: 1000, maxQueue: 10, clock })): Flusher {
    return new Flusher({
      journal,
      backend,
      writeQuota,
      readQuota: new QuotaBucket({ name: 'reads', perMinute: 1000, maxQueue: 10, clock }),
      logger: log.logger,
      intervalMs: 500,
      unsureDelayMs: 1000,
      clock,
      random: () => 0,
    });
  }

  function fileRecords(journal: Journal) {
    return readFileSync(journal.path, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => decodeRecord(l))
      .filter((r) => r?.k !== FORMAT_KIND);
  }

  it('add() resolves once the rows are in the file (fsynced), with group commit under concurrency', async () => {
    const { journal } = await openJournal();
    const before = journal.fsyncs();
    const receipt = await journal.add('Events', [row('e1')]);
    assert.equal(receipt.rows, 1);
    const recs = fileRecords(journal);
    assert.ok(recs.every((r) => r !== undefined), 'every line carries a valid checksum');
    assert.deepEqual(recs.at(-1)?.rows, [row('e1')]);
    assert.equal(journal.fsyncs(), before + 1);

    const many = await Promise.all(Array.from({ length: 100 }, (_, i) => journal.add('Events', [row(`c${i}`)])));
    assert.equal(new Set(many.map((r) => r.id)).size, 100);
    const syncs = journal.fsyncs() - before - 1;
    console.log(`journal: 100 concurrent appends cost ${syncs} fsyncs`);
    assert.ok(syncs <= 3, `grouped: ${syncs} fsyncs for 100 appends`);
    assert.equal(journal.backlogRows(), 101);
  });

  it('replays pending rows after a restart and flushes each exactly once', async () => {
    const first = await openJournal();
    for (let i = 0; i < 5; i++) await first.journal.add('Events', [row(`r${i}`)]);
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);

    const { journal, replayed } = await openJournal();
    assert.equal(replayed.pending, 5);
    assert.equal(replayed.unsure, 0);
    const result = await flusherFor(journal).flushOnce({ wait: true });
    assert.equal(result.sent, 5);
    assert.equal(backend.count('append'), 1, 'one values:append for the range');
    assert.deepEqual(backend.ids('Events'), ['event_id', 'r0', 'r1', 'r2', 'r3', 'r4']);
    assert.equal(journal.backlogRows(), 0);
    assert.equal((await flusherFor(journal).flushOnce({ wait: true })).sent, 0);
  });

  it("splits a backlog too big for one request into appends under Google's 10 MiB limit", async () => {
    const { journal } = await openJournal();
    // 24 rows of about 1 MiB each (21 cells of 25,000 'é', 2 bytes each in UTF-8, within Google's
    // 50,000 characters a cell): one request would be refused.
    const big = Array.from({ length: 21 }, () => 'é'.repeat(25_000));
    for (let i = 0; i < 24; i++) await journal.add('Events', [[`b${i}`, ...big]]);
    const result = await flusherFor(journal).flushOnce({ wait: true });
    assert.equal(result.failedCalls, 0);
    assert.equal(result.sent, 24);
    const appends = backend.calls.filter((c) => c.op === 'append');
    assert.ok(appends.length >= 3, `${appends.length} appends`);
    for (const a of appends) assert.ok((a.bytes ?? Infinity) <= GOOGLE_MAX_REQUEST_BYTES, `an append of ${a.bytes} bytes`);
    assert.deepEqual(backend.ids('Events').slice(1), Array.from({ length: 24 }, (_, i) => `b${i}`));
    assert.equal(journal.backlogRows(), 0);
  });

  it('one values:append per target range per flush', async () => {
    const { journal } = await openJournal();
    await Promise.all([
      journal.add('Events', [row('a')]),
      journal.add('Events', [row('b'), row('c')]),
      journal.add('Players', [['Zoé', 'P099']]),
      journal.add('Events', [row('d')]),
    ]);
    await flusherFor(journal).flushOnce({ wait: true });
    // Sent to each range's first column (appendAnchorOf).
    assert.equal(backend.count('append', 'Events!A:A'), 1);
    assert.equal(backend.count('append', 'Players!A:A'), 1);
    assert.equal(backend.count('append'), 2);
    assert.deepEqual(backend.ids('Events').slice(1).sort(), ['a', 'b', 'c', 'd']);
  });

  it('a torn last line (crash mid-write) is cut off and everything before it kept', async () => {
    const first = await openJournal();
    await first.journal.add('Events', [row('kept')]);
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);
    appendFileSync(first.journal.path, '3f2a9c0d1e7b {"k":"add","id":"x","r":"Events","rows":[["torn');
    const { journal, replayed } = await openJournal();
    assert.ok(replayed.truncatedBytes > 0);
    assert.equal(replayed.pending, 1);
    assert.deepEqual(journal.live().map((e) => e.rows[0]?.[0]), ['kept']);
    assert.ok(fileRecords(journal).every((r) => r !== undefined));
  });

  it('after a crash between send and done, rows Google already has are not sent again', async () => {
    const first = await openJournal();
    await first.journal.add('Events', [row('landed1'), row('landed2')]);
    await first.journal.add('Events', [row('lost')]);
    const [landed, lost] = first.journal.live();
    assert.ok(landed && lost);
    // The keeper sent both, Google applied only the first call, then the process died.
    await first.journal.markSending([landed]);
    await first.journal.markSending([lost]);
    backend.tabs.get('Events')?.push(row('landed1'), row('landed2'));
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);

    const { journal, replayed } = await openJournal();
    assert.equal(replayed.unsure, 2);
    // keeper.drained counts these rows apart: sent, the answer lost, maybe in the sheet already.
    assert.deepEqual([journal.backlogRows(), journal.unsureRows()], [3, 3]);
    const flusher = flusherFor(journal);
    assert.equal((await flusher.flushOnce({ wait: true })).sent, 0, 'unsure entries wait a moment before the read-back');
    await clock.advance(1000);
    const r = await flusher.flushOnce({ wait: true });
    assert.equal(r.found, 2);
    assert.equal(r.sent, 1);
    assert.equal(backend.count('get', 'Events!A:A'), 1, 'one read-back, of the id column');
    assert.deepEqual(backend.ids('Events'), ['event_id', 'landed1', 'landed2', 'lost']);
    assert.deepEqual([journal.backlogRows(), journal.unsureRows()], [0, 0]);
  });

  it('an append sent before a crash is read back SHEETS_UNSURE_DELAY after it was sent, however many starts come between', async () => {
    const first = await openJournal();
    await first.journal.add('Events', [row('landed')]);
    await first.journal.markSending(first.journal.live());
    backend.tabs.get('Events')?.push(row('landed'));
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);
    // Started again 0.6 s after the send, stopped, started again 0.3 s later (each open compacts
    // the file from memory). Timed from each start, the read-back was pushed back at every one:
    // after a master killed mid-stop, keepers that each ran under SHEETS_UNSURE_DELAY left 350
    // rows unverified for 15 minutes, journal_backlog never 0 and journal.backlog_stalled said at
    // each start with no append error before it.
    await clock.advance(600);
    const second = await openJournal();
    assert.equal(second.replayed.unsure, 1);
    await second.journal.close();
    open.splice(open.indexOf(second.journal), 1);
    await clock.advance(300);
    const { journal } = await openJournal();
    const flusher = flusherFor(journal);
    assert.equal((await flusher.flushOnce({ wait: true })).found, 0, 'not yet: 0.9 s since the send');
    await clock.advance(100);
    const r = await flusher.flushOnce({ wait: true });
    assert.deepEqual([r.found, r.sent], [1, 0]);
    assert.deepEqual(backend.ids('Events'), ['event_id', 'landed']);
    assert.equal(journal.backlogRows(), 0);
  });

  it('an append sent long before the start is read back at its first pass', async () => {
    const first = await openJournal();
    await first.journal.add('Events', [row('lost')]);
    await first.journal.markSending(first.journal.live());
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);
    await clock.advance(3_600_000);
    const { journal } = await openJournal();
    const r = await flusherFor(journal).flushOnce({ wait: true });
    assert.deepEqual([r.found, r.sent], [0, 1], 'read back at once, found absent, sent');
    assert.deepEqual(backend.ids('Events'), ['event_id', 'lost']);
  });

  it("applied: 'maybe' (answer lost after Google applied it) never duplicates rows", async () => {
    const { journal } = await openJournal();
    await journal.add('Events', [row('m1'), row('m2')]);
    const flusher = flusherFor(journal);
    backend.failAppends = 'lost-after';
    const r1 = await flusher.flushOnce({ wait: true });
    assert.equal(r1.failedCalls, 1);
    assert.equal(journal.live()[0]?.state, 'unsure');
    assert.deepEqual([journal.backlogRows(), journal.unsureRows()], [2, 2]);
    backend.failAppends = 'none';
    await clock.advance(1000);
    const r2 = await flusher.flushOnce({ wait: true });
    assert.equal(r2.found, 2);
    assert.equal(backend.count('append'), 1, 'not resent');
    assert.deepEqual(backend.ids('Events'), ['event_id', 'm1', 'm2']);
    assert.ok(log.lines().some((l) => l.level === 'warn' && l.applied === 'maybe'));
  });

  it("applied: 'maybe' when Google did not apply it: read back, then resent once", async () => {
    const { journal } = await openJournal();
    await journal.add('Events', [row('t1')]);
    const flusher = flusherFor(journal);
    backend.failAppends = 'lost-before';
    await flusher.flushOnce({ wait: true });
    backend.failAppends = 'none';
    await clock.advance(1000);
    const r = await flusher.flushOnce({ wait: true });
    assert.equal(r.found, 0);
    assert.equal(r.sent, 1);
    assert.deepEqual(backend.ids('Events'), ['event_id', 't1']);
    // Read once more a delay later: the rows are there once, nothing is said, and no more reads.
    const reads = backend.count('get');
    await clock.advance(1000);
    await flusher.flushOnce({ wait: true });
    assert.equal(backend.count('get'), reads + 1);
    assert.equal(log.lines().find((l) => l.event === 'sheets.duplicate_rows'), undefined);
    await clock.advance(1000);
    await flusher.flushOnce({ wait: true });
    assert.equal(backend.count('get'), reads + 1, 'checked once');
  });

  it('the first append applied by Google after its read-back and resend: the rows there twice are said, with their row numbers', async () => {
    const { journal } = await openJournal();
    await journal.add('Events', [row('late1'), row('late2')]);
    await journal.add('Events', [row('fine')]);
    const flusher = flusherFor(journal);
    backend.failAppends = 'lost-before';
    await flusher.flushOnce({ wait: true });
    backend.failAppends = 'none';
    await clock.advance(1000);
    assert.equal((await flusher.flushOnce({ wait: true })).sent, 3, 'read back, absent, resent');
    // Google processes the first request at last.
    backend.tabs.get('Events')?.push(row('late1'), row('late2'));
    assert.deepEqual(backend.ids('Events'), ['event_id', 'late1', 'late2', 'fine', 'late1', 'late2']);
    await clock.advance(1000);
    await flusher.flushOnce({ wait: true });
    const said = log.lines().filter((l) => l.event === 'sheets.duplicate_rows');
    assert.equal(said.length, 1);
    assert.deepEqual([said[0]?.level, said[0]?.code, said[0]?.range, said[0]?.ids, said[0]?.duplicates], [
      'error',
      'CORRAL_ERR_SHEETS_DUPLICATE_ROWS',
      'Events',
      2,
      [{ id: 'late1', rows: [2, 5] }, { id: 'late2', rows: [3, 6] }],
    ]);
    assert.match(String(said[0]?.msg), /^sheets: 2 rows of Events are in the sheet twice \(late1 at rows 2 and 5; late2 at rows 3 and 6\): Google applied an append after corral gave up on it/);
  });

  it('rows waiting for a write token are not journaled as sent: a keeper that dies then replays them as pending', async () => {
    const first = await openJournal();
    await first.journal.add('Events', [row('queued')]);
    const writeQuota = new QuotaBucket({ name: 'writes', perMinute: 1, maxQueue: 10, clock });
    assert.ok(writeQuota.tryAcquire(), 'the minute is spent');
    const flusher = flusherFor(first.journal, writeQuota);
    const pass = flusher.flushOnce({ wait: true });
    await clock.advance(30_000);
    assert.deepEqual(
      fileRecords(first.journal).map((r) => r?.k),
      ['add'],
      'half a minute into the wait, the file holds no send record',
    );
    // The keeper dies here; closing the flusher ends the wait the way the process's end would.
    flusher.close();
    assert.equal((await pass).quotaLimited, true);
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);
    const { replayed } = await openJournal();
    assert.deepEqual({ pending: replayed.pending, unsure: replayed.unsure }, { pending: 1, unsure: 0 });
    assert.equal(backend.count('append'), 0);
  });

  it("applied: 'no' (429) is resent after the backoff without a read-back", async () => {
    const { journal } = await openJournal();
    await journal.add('Events', [row('q1')]);
    const flusher = flusherFor(journal);
    backend.failAppends = 'refused';
    await flusher.flushOnce({ wait: true });
    assert.equal(journal.live()[0]?.state, 'pending');
    backend.failAppends = 'none';
    assert.equal((await flusher.flushOnce({ wait: true })).sent, 0, 'still backing off');
    await clock.advance(1000);
    assert.equal((await flusher.flushOnce({ wait: true })).sent, 1);
    assert.equal(backend.count('get'), 0);
    assert.deepEqual(backend.ids('Events'), ['event_id', 'q1']);
    // A restart now must not resend: the done record is durable.
    await journal.close();
    open.splice(open.indexOf(journal), 1);
    const again = await openJournal();
    assert.equal(again.replayed.pending + again.replayed.unsure, 0);
  });

  it('a retried identical append is recognised; the same id with other content is refused', async () => {
    const { journal } = await openJournal();
    const a = await journal.add('Events', [row('x1'), row('x2')]);
    const b = await journal.add('Events', [row('x1'), row('x2')]);
    assert.equal(b.duplicates, 2);
    assert.equal(b.id, a.id);
    const c = await journal.add('Events', [row('x2'), row('x3')]);
    assert.equal(c.duplicates, 1);
    await assert.rejects(journal.add('Events', [[...row('x1').slice(0, 4), 'other time']]), (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_APPEND_INVALID');
    await flusherFor(journal).flushOnce({ wait: true });
    assert.deepEqual(backend.ids('Events'), ['event_id', 'x1', 'x2', 'x3']);
  });

  it('a concurrent identical retry is acknowledged only once the first copy is fsynced', async () => {
    const { journal } = await openJournal();
    const before = journal.fsyncs();
    const first = journal.add('Events', [row('s1')]);
    const retry = await journal.add('Events', [row('s1')]);
    assert.equal(retry.duplicates, 1);
    assert.equal(journal.fsyncs(), before + 1, 'the first copy was fsynced before the retry was acknowledged');
    assert.ok(fileRecords(journal).some((r) => r?.k === 'add' && JSON.stringify(r.rows) === JSON.stringify([row('s1')])));
    assert.equal((await first).id, retry.id);
  });

  it('a concurrent identical retry fails with the first copy when its write fails', async () => {
    const { journal } = await openJournal();
    // The disk refuses the next write (EIO), as a full or failing disk would.
    const file = (journal as unknown as { file: { append: (...a: unknown[]) => Promise<void> } }).file;
    const realAppend = file.append.bind(file);
    file.append = () => Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    const first = journal.add('Events', [row('f1')]);
    file.append = realAppend;
    const retry = journal.add('Events', [row('f1')]);
    const isJournalError = (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_JOURNAL_UNWRITABLE';
    await assert.rejects(first, isJournalError);
    await assert.rejects(retry, isJournalError, 'a retry of rows that never reached the disk is not acknowledged');
    // A later retry journals the rows for real.
    const again = await journal.add('Events', [row('f1')]);
    assert.equal(again.duplicates, 0);
    assert.equal(journal.backlogRows(), 1);
  });

  it('a compaction whose directory fsync fails leaves appends on the renamed file, durable once the fsync succeeds', async () => {
    let dirSyncFails = false;
    const syncDir = async () => {
      if (dirSyncFails) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    };
    const path = join(dir, 'file.journal');
    const { file } = await JournalFile.open(path, { syncDir });
    try {
      await file.append([{ k: 'add', id: 'a' }]);
      dirSyncFails = true;
      await assert.rejects(file.rewrite(() => [{ k: 'add', id: 'a' }]), /EIO/);
      // The rename happened; until the directory is synced an append is not durable: refused.
      await assert.rejects(file.append([{ k: 'add', id: 'b' }]), /EIO/);
      dirSyncFails = false;
      await file.append([{ k: 'add', id: 'c' }]);
      assert.deepEqual(fileIds(path), ['a', 'c'], 'the append went to the file at the journal path, not the unlinked old one');
    } finally {
      await file.close();
    }
  });

  it('a group torn by a failed write whose truncate fails too: nothing is acknowledged behind the torn bytes until they are cut', async () => {
    const faults: Faults = { tornWrite: undefined, truncateFails: 0, truncates: 0 };
    const path = join(dir, 'file.journal');
    const { file } = await JournalFile.open(path, { wrapHandle: faultyHandle(faults) });
    try {
      await file.append([{ k: 'add', id: 'a1' }]);
      await file.append([{ k: 'add', id: 'a2' }]);
      // The group's first record reaches the file whole, the second only in part, then ENOSPC;
      // the truncate back to before the group fails, and so does its first retry.
      faults.tornWrite = 5;
      faults.truncateFails = 2;
      await assert.rejects(file.append([{ k: 'add', id: 'lost1' }, { k: 'add', id: 'lost2' }]), /ENOSPC/);
      await assert.rejects(file.append([{ k: 'add', id: 'refused' }]), /EIO/, 'not acknowledged: it would land behind the torn bytes');
      assert.equal(faults.truncates, 2);
      await file.append([{ k: 'add', id: 'b1' }]);
      await Promise.all([file.append([{ k: 'add', id: 'b2' }]), file.append([{ k: 'add', id: 'b3' }])]);
      assert.equal(faults.truncates, 3, 'the torn tail is cut once, then writing goes on normally');
      assert.equal(file.bytes(), statSync(path).size);
    } finally {
      await file.close();
    }
    const reopened = await JournalFile.open(path);
    await reopened.file.close();
    assert.deepEqual(ids(reopened.records), ['a1', 'a2', 'b1', 'b2', 'b3'], 'exactly the acknowledged records');
    assert.equal(reopened.truncatedBytes, 0);
    assert.equal(reopened.skippedLines, 0);
  });

  it('a compaction clears a torn tail its truncate could not cut', async () => {
    const faults: Faults = { tornWrite: undefined, truncateFails: 0, truncates: 0 };
    const path = join(dir, 'file.journal');
    const { file } = await JournalFile.open(path, { wrapHandle: faultyHandle(faults) });
    try {
      await file.append([{ k: 'add', id: 'a1' }]);
      faults.tornWrite = 3;
      faults.truncateFails = 1000;
      await assert.rejects(file.append([{ k: 'add', id: 'lost' }]), /ENOSPC/);
      await assert.rejects(file.append([{ k: 'add', id: 'refused' }]), /EIO/);
      // The rewrite replaces the file by rename: the torn bytes go with the old one.
      await file.rewrite(() => [{ k: 'add', id: 'a1' }]);
      const truncates = faults.truncates;
      await file.append([{ k: 'add', id: 'b1' }]);
      assert.equal(faults.truncates, truncates, 'no truncate is retried on the new file');
      assert.equal(file.bytes(), statSync(path).size);
    } finally {
      await file.close();
    }
    const reopened = await JournalFile.open(path);
    await reopened.file.close();
    assert.deepEqual(ids(reopened.records), ['a1', 'b1']);
    assert.equal(reopened.truncatedBytes, 0);
  });

  it('the records of a group whose write failed and could not be cut do not come back at the next start', async () => {
    // The group's first record reaches the file whole, the rest does not (EIO); the cut fails too.
    let failNext = false;
    let torn = false;
    const wrapHandle = (fh: FileHandle): FileHandle =>
      new Proxy(fh, {
        get(target, prop) {
          if (prop === 'write')
            return async (buf: Buffer, off: number, len: number) => {
              if (failNext) {
                failNext = false;
                throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
              }
              if (!torn && buf.includes('"refused-1"', off)) {
                torn = true;
                failNext = true;
                return target.write(buf, off, buf.indexOf(0x0a, off) + 1 - off);
              }
              return target.write(buf, off, len);
            };
          if (prop === 'truncate') return async () => Promise.reject(Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' }));
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    const path = join(dir, 'sheets.journal');
    const { file } = await JournalFile.open(path, { wrapHandle });
    await file.append([{ k: 'add', id: 'acknowledged' }]);
    // Queued while a write is in flight, the two go out as one group.
    const busy = file.append([{ k: 'add', id: 'acknowledged-2' }]);
    const refused = Promise.all([file.append([{ k: 'add', id: 'refused-1' }]), file.append([{ k: 'add', id: 'refused-2' }])]);
    await busy;
    await assert.rejects(refused, /EIO/);
    // The keeper dies before another write could cut the torn group (a crash: close() would not cut it either).
    await file.close();
    assert.deepEqual(fileIds(path), ['acknowledged', 'acknowledged-2', 'refused-1'], 'a whole record of the refused group is in the file');
    const reopened = await JournalFile.open(path);
    await reopened.file.close();
    assert.deepEqual(
      ids(reopened.records),
      ['acknowledged', 'acknowledged-2'],
      'an append whose client was told "nothing was recorded" is replayed and sent; its retry (a new event id) lands twice',
    );
    // Cut as a torn tail is, its bytes copied to the quarantine file first: a write that did not complete.
    const [piece, ...more] = reopened.damaged;
    assert.equal(more.length, 0);
    assert.deepEqual([piece?.kind, piece?.offset, piece?.lines], ['tail', statSync(path).size, 1]);
    assert.ok(piece && isCutWrite(piece), 'no acknowledged record in it');
    assert.equal(reopened.truncatedBytes, piece?.bytes.length);
    assert.ok(reopened.quarantine && readFileSync(reopened.quarantine, 'utf8').includes('"refused-1"'));
  });

  it('each record of a group written at once says how many of the group it and those after it are; a group of one says nothing', async () => {
    const path = join(dir, 'sheets.journal');
    const { file } = await JournalFile.open(path);
    try {
      await file.append([{ k: 'add', id: 'alone' }]);
      // The first goes out at once, alone; the rest are queued behind its write, one group.
      await Promise.all([
        file.append([{ k: 'add', id: 'first' }]),
        file.append([{ k: 'add', id: 'g1' }]),
        file.append([{ k: 'add', id: 'g2' }, { k: 'send', ids: ['x'] }]),
        file.append([{ k: 'done', ids: ['y'] }]),
      ]);
    } finally {
      await file.close();
    }
    const written = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => decodeRecord(l));
    // The format declaration the new file begins with is of no group: written with the first one.
    assert.deepEqual(written.map((r) => [r?.id ?? r?.k, r?.g]), [['format', undefined], ['alone', undefined], ['first', undefined], ['g1', 4], ['g2', 3], ['send', 2], ['done', 1]]);
    const reopened = await JournalFile.open(path);
    await reopened.file.close();
    assert.deepEqual([reopened.records.length, reopened.truncatedBytes, reopened.damaged.length], [7, 0, 0]);
  });

  it('opening cuts only an unfinished group at the end of the file: legacy records, complete groups and groups followed by more are kept', async () => {
    const path = join(dir, 'sheets.journal');
    const rec = (id: string, g?: number) => encodeRecord({ k: 'add', id, r: 'Events', rows: [row(id)], at: 1, ...(g === undefined ? {} : { g }) });
    const opened = async (text: string) => {
      writeFileSync(path, text);
      const o = await JournalFile.open(path);
      await o.file.close();
      return { ids: ids(o.records), cut: o.truncatedBytes, skipped: o.skippedLines, pieces: o.damaged.map((p) => [p.kind, p.offset, isCutWrite(p)]) };
    };
    const legacy = rec('l1') + rec('l2');
    // Files written before the marks: every valid record, as before.
    assert.deepEqual(await opened(legacy), { ids: ['l1', 'l2'], cut: 0, skipped: 0, pieces: [] });
    // Legacy records, then groups: a complete group of three, a group of one.
    assert.deepEqual((await opened(legacy + rec('a', 3) + rec('b', 2) + rec('c', 1) + rec('one'))).ids, ['l1', 'l2', 'a', 'b', 'c', 'one']);
    // A last group that did not reach its last record: cut, whole records and all.
    const unfinished = rec('x', 3) + rec('y', 2);
    const at = Buffer.byteLength(legacy + rec('one'));
    assert.deepEqual(await opened(legacy + rec('one') + unfinished), { ids: ['l1', 'l2', 'one'], cut: Buffer.byteLength(unfinished), skipped: 0, pieces: [['tail', at, true]] });
    assert.equal(statSync(path).size, at);
    // ... with the line its write was cut in.
    const cutLine = rec('z', 1).slice(0, 30);
    assert.deepEqual(await opened(legacy + unfinished + cutLine), { ids: ['l1', 'l2'], cut: Buffer.byteLength(unfinished + cutLine), skipped: 0, pieces: [['tail', Buffer.byteLength(legacy), true]] });
    // A group of two whose first record is all that reached the file.
    assert.deepEqual((await opened(rec('one') + rec('p', 2))).ids, ['one']);
    // An unfinished group that records follow is no write that failed at the end (a corral from
    // before the marks appended behind it, or damage came between): kept, as any valid records.
    assert.deepEqual((await opened(unfinished + rec('after'))).ids, ['x', 'y', 'after']);
    assert.deepEqual((await opened(unfinished + rec('n', 2) + rec('n2', 1))).ids, ['x', 'y', 'n', 'n2']);
    const damagedLine = '\0'.repeat(40) + '\n';
    assert.deepEqual((await opened(rec('x', 3) + damagedLine + rec('z', 1))).ids, ['x', 'z']);
    // Whole damaged lines after it may be its own last records, written whole and damaged since
    // (it may have been acknowledged): kept, the damage said as such (not a cut write).
    assert.deepEqual(await opened(legacy + unfinished + damagedLine), { ids: ['l1', 'l2', 'x', 'y'], cut: damagedLine.length, skipped: 0, pieces: [['tail', Buffer.byteLength(legacy + unfinished), false]] });
    // The mark is covered by the checksum: a record whose `g` was changed is damaged.
    const forged = rec('f', 1).replace('"g":1', '"g":2');
    assert.equal(decodeRecord(forged.trimEnd()), undefined);
  });

  it('opening keeps the valid records behind damaged lines and truncates only a damaged tail', async () => {
    const path = join(dir, 'file.journal');
    const line = (id: string) => encodeRecord({ k: 'add', id, r: 'Events', rows: [row(id)], at: 1 });
    // Valid JSON whose checksum does not match (one character of the record changed).
    const badSum = (id: string) => line(id).replace(`"${id}"`, `"${id}X"`);
    assert.ok(badSum('m1').length > 13 && decodeRecord(badSum('m1').trimEnd()) === undefined);
    // A group torn without its newline, then acknowledged records appended behind it (the defect
    // this guards against: they used to be cut at the next start).
    const tornNoNewline = line('t1').slice(0, 40);
    const zeroes = '\0'.repeat(64) + '\n';
    const damage = [badSum('m1'), tornNoNewline, zeroes, '\n'];
    const tail = badSum('tail1') + line('tail2').slice(0, 30);
    const text = line('a') + damage[0] + line('b') + damage[1] + line('c') + damage[2] + damage[3] + line('d') + tail;
    writeFileSync(path, text);
    const first = await JournalFile.open(path);
    await first.file.close();
    assert.deepEqual(ids(first.records), ['a', 'b', 'c', 'd']);
    // The torn line and the record behind it share a line: the record is recognised after the torn bytes.
    assert.equal(first.skippedLines, 4);
    assert.equal(first.skippedBytes, Buffer.byteLength(damage.join('')));
    assert.equal(first.truncatedBytes, Buffer.byteLength(tail), 'a damaged tail (bad checksum, then a torn line) is cut');
    assert.equal(statSync(path).size, Buffer.byteLength(text) - Buffer.byteLength(tail));

    // The damaged lines stay (only a rewrite may drop them) and the file stays appendable.
    const second = await JournalFile.open(path);
    try {
      assert.deepEqual(ids(second.records), ['a', 'b', 'c', 'd']);
      assert.deepEqual([second.skippedLines, second.skippedBytes, second.truncatedBytes], [4, first.skippedBytes, 0]);
      await second.file.append([{ k: 'add', id: 'e' }]);
      await second.file.rewrite(() => second.records.concat([{ k: 'add', id: 'e' }]));
    } finally {
      await second.file.close();
    }
    const third = await JournalFile.open(path);
    await third.file.close();
    assert.deepEqual(ids(third.records), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual([third.skippedLines, third.skippedBytes, third.truncatedBytes], [0, 0, 0], 'the rewrite left the file clean');

    // A whole record without its newline is a torn write too (never fsynced whole, never acknowledged).
    writeFileSync(path, line('x') + line('y').slice(0, -1));
    const fourth = await JournalFile.open(path);
    await fourth.file.close();
    assert.deepEqual(ids(fourth.records), ['x']);
    assert.equal(fourth.truncatedBytes, Buffer.byteLength(line('y')) - 1);
  });

  it('a damaged line before acknowledged rows: they are kept, and every pending entry is read back before it is sent', async () => {
    const first = await openJournal();
    await first.journal.add('Events', [row('r1')]);
    await first.journal.add('Events', [row('r2')]);
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);
    // A send record for r1 lost to damage: r1 may be in the sheet already.
    const text = readFileSync(first.journal.path, 'utf8');
    const lines = text.split('\n').filter((l) => l !== '' && decodeRecord(l)?.k !== FORMAT_KIND);
    assert.equal(lines.length, 2);
    const damaged = `${lines[0]}\n${'\0'.repeat(40)}\n${lines[1]}\n`;
    writeFileSync(first.journal.path, damaged);
    backend.tabs.get('Events')?.push(row('r1'));

    const { journal, replayed } = await openJournal();
    assert.deepEqual(replayed, { pending: 0, unsure: 2, truncatedBytes: 0, skippedLines: 1, skippedBytes: 41 });
    assert.deepEqual(journal.live().map((e) => e.rows[0]?.[0]), ['r1', 'r2']);
    assert.ok(fileRecords(journal).every((r) => r !== undefined), 'the compaction at open rewrote the file clean');
    const flusher = flusherFor(journal);
    await clock.advance(1000);
    const r = await flusher.flushOnce({ wait: true });
    assert.equal(r.found, 1);
    assert.equal(r.sent, 1);
    assert.deepEqual(backend.ids('Events').slice(1), ['r1', 'r2'], 'r1 not sent twice');
  });

  it('a damaged LAST line (the send record of rows Google has) is cut, and every pending entry is read back before it is sent, not resent blind', async () => {
    const first = await openJournal();
    await first.journal.add('Events', [row('s1'), row('s2')]);
    await first.journal.markSending(first.journal.live());
    // Google applied the append; its answer was lost, then the keeper stopped.
    backend.tabs.get('Events')?.push(row('s1'), row('s2'));
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);
    const text = readFileSync(first.journal.path, 'utf8');
    assert.match(text, /"k":"send"[^\n]*\n$/, 'the send record is the last line');
    // One byte of it damaged, its newline kept: a whole line in the tail, cut at open.
    writeFileSync(first.journal.path, text.replace(/"k":"send"([^\n]*\n)$/, '"k":"Xend"$1'));

    const { journal, replayed, quarantined } = await openJournal();
    assert.equal(quarantined?.mayHoldAcknowledged, true);
    assert.ok(replayed.truncatedBytes > 0, 'the damaged last line was cut');
    assert.deepEqual({ pending: replayed.pending, unsure: replayed.unsure }, { pending: 0, unsure: 1 });
    const flusher = flusherFor(journal);
    await clock.advance(1000);
    const r = await flusher.flushOnce({ wait: true });
    assert.deepEqual({ found: r.found, sent: r.sent }, { found: 2, sent: 0 });
    assert.equal(backend.count('append'), 0, 'nothing resent');
    assert.deepEqual(backend.ids('Events').slice(1), ['s1', 's2'], 'each row once');
    const said = log.lines().filter((l) => l.event === 'sheets.read_back');
    assert.deepEqual(said.map((l) => [l.level, l.range, l.alreadyThere, l.toResend]), [['info', 'Events', 2, 0]]);
  });

  it('a send record cut short by a crash (no newline: never fsynced, so its append never left) leaves the rows pending: sent at once, no read-back', async () => {
    const first = await openJournal();
    await first.journal.add('Events', [row('c1')]);
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);
    const send = encodeRecord({ k: 'send', ids: first.journal.live().map((e) => e.id), at: 1 });
    appendFileSync(first.journal.path, send.slice(0, -10));

    const { journal, replayed, quarantined } = await openJournal();
    assert.equal(quarantined?.mayHoldAcknowledged, false);
    assert.deepEqual({ pending: replayed.pending, unsure: replayed.unsure }, { pending: 1, unsure: 0 });
    const r = await flusherFor(journal).flushOnce({ wait: true });
    assert.equal(r.sent, 1, 'no SHEETS_UNSURE_DELAY wait');
    assert.equal(backend.count('get'), 0, 'no read-back');
    assert.deepEqual(backend.ids('Events').slice(1), ['c1']);
  });

  it('refuses rows without an id, with non-string cells, or with an id twice', async () => {
    const { journal } = await openJournal();
    const bad = async (rows: unknown) =>
      assert.rejects(journal.add('Events', rows), (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_APPEND_INVALID');
    await bad([]);
    await bad([['', 'P001']]);
    await bad([['e1', 3]]);
    await bad([row('dup'), row('dup')]);
    await bad('not rows');
    // Google refuses a whole append for one cell over 50,000 characters: such a row is refused
    // before it is acknowledged, not journaled to be refused at every retry.
    await bad([['e2', 'x'.repeat(50_001)]]);
    assert.equal((await journal.add('Events', [['e3', 'x'.repeat(50_000)]])).rows, 1, 'the limit itself is fine');
    await flusherFor(journal).flushOnce({ wait: true });
    await assert.rejects(journal.add("'unterminated", [row('z')]), (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_APPEND_INVALID');
    assert.equal(journal.backlogRows(), 0);
  });

  it('a row Google refuses does not hold back the rows batched with it: the batch is halved down to it', async () => {
    const { journal } = await openJournal();
    backend.refusedIds.add('bad');
    const ids = ['g1', 'g2', 'g3', 'bad', 'g4', 'g5'];
    await Promise.all(ids.map((id) => journal.add('Events', [row(id)])));
    const result = await flusherFor(journal).flushOnce({ wait: true });
    assert.equal(result.sent, 5);
    // In the order the halves went out: g5 before g4, which shared the refused half longer.
    assert.deepEqual(backend.ids('Events').slice(1), ['g1', 'g2', 'g3', 'g5', 'g4']);
    assert.deepEqual(journal.live().map((e) => e.rows[0]?.[0]), ['bad'], 'the refused row stays journaled');
    // The whole batch, then halves of 3 and 3, then of the refused 3: halves of 2 and 1, then of 2.
    assert.equal(backend.count('append'), 7);
    assert.ok(log.lines().some((l) => /refuses this journaled append on its own/.test(String(l.msg)) && JSON.stringify(l.rowIds) === '["bad"]'));
    // When it comes due again, the rows journaled meanwhile go through as well.
    await journal.add('Events', [row('g6')]);
    await clock.advance(10 * 60_000);
    await flusherFor(journal).flushOnce({ wait: true });
    assert.deepEqual(backend.ids('Events').slice(1), ['g1', 'g2', 'g3', 'g5', 'g4', 'g6']);
  });

  it('an append to a range Google cannot parse (a tab deleted) is not split at all: no row causes that', async () => {
    const { journal } = await openJournal();
    // A tab that does not exist: every request to it is invalid, whatever its rows.
    await Promise.all(['n1', 'n2', 'n3', 'n4'].map((id) => journal.add('Nope', [row(id)])));
    const result = await flusherFor(journal).flushOnce({ wait: true });
    assert.equal(result.sent, 0);
    assert.equal(result.failedCalls, 1);
    assert.equal(backend.count('append', 'Nope!A:A'), 1, 'the batch alone');
    assert.equal(journal.backlogRows(), 4);
  });

  it('an append refused as a whole for no row Google names: its halves, then the first entry of each alone, and no more', async () => {
    const { journal } = await openJournal();
    const ids = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'];
    // Every row refused: as a range that takes none would refuse them.
    for (const id of ids) backend.refusedIds.add(id);
    await Promise.all(ids.map((id) => journal.add('Events', [row(id)])));
    const result = await flusherFor(journal).flushOnce({ wait: true });
    assert.equal(result.sent, 0);
    assert.equal(backend.count('append'), 5, 'the batch, its two halves, one entry of each');
    assert.equal(journal.backlogRows(), 6);
    assert.deepEqual(log.lines().filter((l) => l.event === 'sheets.append_refused_alone'), [], 'no row is blamed: the range may be at fault');
  });

  it('two rows Google refuses, one in each half, hold back neither the rows batched with them nor those journaled after', async () => {
    const { journal } = await openJournal();
    backend.refusedIds.add('bad1');
    backend.refusedIds.add('bad2');
    const ids = ['g1', 'bad1', 'g2', 'g3', 'bad2', 'g4'];
    await Promise.all(ids.map((id) => journal.add('Events', [row(id)])));
    const result = await flusherFor(journal).flushOnce({ wait: true });
    assert.equal(result.sent, 4);
    assert.deepEqual([...backend.ids('Events').slice(1)].sort(), ['g1', 'g2', 'g3', 'g4']);
    assert.deepEqual(journal.live().map((e) => e.rows[0]?.[0]).sort(), ['bad1', 'bad2'], 'the refused rows stay journaled');
    const blamed = log.lines().filter((l) => l.event === 'sheets.append_refused_alone').map((l) => JSON.stringify(l.rowIds));
    assert.deepEqual(blamed.sort(), ['["bad1"]', '["bad2"]']);
    // Due again with a row journaled meanwhile: that row goes through too.
    await journal.add('Events', [row('g5')]);
    await clock.advance(10 * 60_000);
    await flusherFor(journal).flushOnce({ wait: true });
    assert.ok(backend.ids('Events').includes('g5'), 'a row journaled after them is not held back');
    assert.equal(backend.ids('Events').length - 1, 5, 'each good row once');
  });

  it('bad rows first in each half, probed and refused, are not probed again: the good rows go out at the retry, no row journaled meanwhile', async () => {
    const { journal } = await openJournal();
    backend.refusedIds.add('bad1');
    backend.refusedIds.add('bad2');
    // A refused row stays first in its range's batches (the oldest); here the second half starts with one too.
    for (const id of ['bad1', 'g1', 'bad2', 'g2']) await journal.add('Events', [row(id)]);
    await flusherFor(journal).flushOnce({ wait: true });
    assert.equal(backend.count('append'), 5, 'the batch, its halves, bad1 and bad2 alone');
    assert.deepEqual(backend.ids('Events').slice(1), []);
    // Probing bad1 and bad2 again at every retry held g1 and g2 back until another row came.
    await clock.advance(10 * 60_000);
    await flusherFor(journal).flushOnce({ wait: true });
    assert.deepEqual([...backend.ids('Events').slice(1)].sort(), ['g1', 'g2']);
    assert.deepEqual(journal.live().map((e) => e.rows[0]?.[0]).sort(), ['bad1', 'bad2']);
  });

  it('a retry of an acknowledged append is still recognised after two restarts (compaction keeps the retained done entries)', async () => {
    const first = await openJournal();
    await first.journal.add('Events', [row('d1')]);
    await flusherFor(first.journal).flushOnce({ wait: true });
    await first.journal.close();
    open.splice(open.indexOf(first.journal), 1);
    // The next start compacts the file at open; then it goes down again.
    const second = await openJournal();
    await second.journal.close();
    open.splice(open.indexOf(second.journal), 1);
    // The client whose answer the first crash swallowed retries now.
    const { journal } = await openJournal();
    const receipt = await journal.add('Events', [row('d1')]);
    assert.equal(receipt.duplicates, 1);
    await flusherFor(journal).flushOnce({ wait: true });
    assert.deepEqual(backend.ids('Events').slice(1), ['d1'], 'in the sheet once');
  });

  it('the file stays bounded while Google refuses every append (send and nack records are compacted)', async () => {
    const { journal } = await openJournal({ compactBytes: 4096 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => journal.add('Events', [row(`f${i}`)])));
    backend.failAppends = 'refused';
    const flusher = flusherFor(journal);
    let largest = 0;
    for (let pass = 0; pass < 60; pass++) {
      await flusher.flushOnce({ wait: true });
      await clock.advance(10 * 60_000);
      largest = Math.max(largest, statSync(journal.path).size);
    }
    assert.ok(backend.count('append') >= 60, `${backend.count('append')} refused appends`);
    assert.ok(largest < 3 * 4096, `the file stayed under ${3 * 4096} bytes (at most ${largest})`);
    backend.failAppends = 'none';
    await flusher.flushOnce({ wait: true });
    assert.equal(backend.ids('Events').length, 21, 'and every row goes out once Google takes them');
  });

  it('read-your-writes: rows show until an upstream fetch started after they reached Google', async () => {
    const { journal } = await openJournal();
    await journal.add('Events', [row('y1')]);
    const fetchBefore = clock.now();
    assert.deepEqual(journal.rowsFor('Events', fetchBefore), [{ range: 'Events', cells: row('y1') }], 'with the range it was appended to');
    assert.deepEqual(journal.rowsFor('Players', fetchBefore), []);
    await clock.advance(10);
    await flusherFor(journal).flushOnce({ wait: true });
    // A cached value fetched before the flush still needs the row merged in...
    assert.deepEqual(journal.rowsFor('Events', fetchBefore), [{ range: 'Events', cells: row('y1') }]);
    await clock.advance(10);
    // ...a value fetched after it already has it.
    assert.deepEqual(journal.rowsFor('Events', clock.now()), []);
  });

  it('compacts the file once done entries pile up', async () => {
    // Done entries stay in the file while retained (for duplicate detection), 1 s here.
    const { journal } = await openJournal({ compactBytes: 4096, retainDoneMs: 1000 });
    const flusher = flusherFor(journal);
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => journal.add('Events', [row(`k${round}-${i}`)])));
      await flusher.flushOnce({ wait: true });
      await clock.advance(2000);
    }
    assert.equal(backend.ids('Events').length, 101);
    assert.ok(statSync(journal.path).size < 8192, `journal file stays small (${statSync(journal.path).size} bytes)`);
    await journal.add('Events', [row('last')]);
    await journal.close();
    open.splice(open.indexOf(journal), 1);
    const again = await openJournal();
    assert.equal(again.replayed.pending, 1);
  });
});
