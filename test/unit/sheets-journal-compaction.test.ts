import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Flusher } from '../../src/sheets/keeper/flusher.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testFlusher } from '../fixtures/test-flusher.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const row = (id: string) => [id, 'P001', 'goal', `detail ${id} ${'x'.repeat(200)}`, '2024-03-02T15:12:00Z'];
const COMPACT_BYTES = 4096;

describe('write journal whose compaction fails (disk full, data dir not writable)', () => {
  let dir: string;
  let clock: FakeClock;
  let backend: FakeBackend;
  let log: CapturedLogger;
  let journal: Journal;
  let flusher: Flusher;
  let failures: Array<{ err: Error; bytes: number }>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-compact-'));
    clock = new FakeClock();
    backend = new FakeBackend({ Events: [HEADER] });
    log = await captureLogger();
    failures = [];
    journal = (await Journal.open({ dir, destination: 'the sheet', clock, unsureDelayMs: 1000, compactBytes: COMPACT_BYTES, onCompactionFailed: (err, bytes) => failures.push({ err, bytes }) })).journal;
    flusher = testFlusher(journal, backend, log.logger, clock);
  });
  afterEach(async () => {
    flusher.close();
    await journal.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The rewrite's temporary file cannot be created (a directory holds its name): every compaction fails. */
  const breakCompaction = () => mkdirSync(`${journal.path}.tmp`);
  const mendCompaction = () => rmSync(`${journal.path}.tmp`, { recursive: true });

  it('an append Google took is not reported as a lost done record, and compaction is retried only after more growth', async () => {
    breakCompaction();
    for (let i = 0; i < 60; i++) {
      await journal.add('Events', [row(`c${i}`)]);
      const r = await flusher.flushOnce({ wait: true });
      assert.equal(r.sent, 1);
    }
    assert.equal(journal.backlogRows(), 0);
    const said = log.lines().filter((l) => String(l.msg).includes('done record failed'));
    assert.deepEqual(said, [], 'the done records were written');
    const size = statSync(journal.path).size;
    assert.ok(size > 3 * COMPACT_BYTES, `the file grew to ${size} bytes`);
    // One attempt per compactBytes of growth, not one per flush past the threshold.
    assert.ok(failures.length >= 1 && failures.length <= Math.ceil(size / COMPACT_BYTES), `${failures.length} failed compactions for ${size} bytes`);
    assert.ok(failures.every((f) => f.err instanceof Error && f.bytes > COMPACT_BYTES));
    mendCompaction();
    // Done entries are kept 10 minutes (retries of their appends are recognised), then dropped.
    await clock.advance(11 * 60_000);
    for (let i = 0; i < 30; i++) {
      await journal.add('Events', [row(`m${i}`)]);
      await flusher.flushOnce({ wait: true });
    }
    assert.ok(statSync(journal.path).size < size, 'once the rewrite can be written, the file shrinks again');
    assert.equal(backend.ids('Events').length, 91);
  });

  it('a read-back settles the entries it finds absent even when the compaction after it fails', async () => {
    // Enough history that the read-back's records pass the compaction threshold.
    for (let i = 0; i < 20; i++) await journal.add('Events', [row(`h${i}`)]);
    await flusher.flushOnce({ wait: true });
    await journal.add('Events', [row('landed')]);
    await journal.add('Events', [row('lost')]);
    // The first lands and its answer is lost; the other never reaches Google.
    backend.failAppends = 'lost-after';
    await flusher.flushOnce({ wait: true });
    backend.tabs.get('Events')?.pop();
    backend.failAppends = 'none';
    assert.deepEqual(journal.live().map((e) => e.state), ['unsure', 'unsure']);
    breakCompaction();
    // Rows journaled meanwhile take the file past the next compaction threshold.
    for (let i = 0; i < 40; i++) await journal.add('Events', [row(`p${i}`)]);
    await clock.advance(2000);
    const r = await flusher.flushOnce({ wait: true });
    assert.equal(r.found + r.sent, 42, 'the read-back found one row, and the pass went on to send the absent one and the new rows');
    assert.equal(journal.backlogRows(), 0);
    assert.equal(failures.length, 1, 'the compaction after the read-back was tried, and failed');
    const ids = backend.ids('Events').slice(1);
    assert.equal(new Set(ids).size, ids.length, 'no row twice');
    assert.equal(ids.length, 62);
  });
});
