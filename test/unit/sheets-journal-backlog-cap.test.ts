// SHEETS_JOURNAL_MAX_MB: past the cap, appends of new rows are refused before anything is
// journaled or acknowledged (audit F3: an outage grew the journal until the keeper could neither
// hold it in its heap nor replay it within CORRAL_TIMEOUT).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { JournalFullError } from '../../src/errors.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { entryBytes } from '../../src/sheets/keeper/journal-rows.js';
import { encodeRecord } from '../../src/sheets/keeper/journal-scan.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const row = (id: string, detail = 'x'.repeat(100)): string[] => [id, 'P001', 'goal', detail, '2024-03-02'];

describe('the journal backlog cap', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-backlog-cap-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('entryBytes is close to what the add record takes in the file', async () => {
    const { journal } = await Journal.open({ dir, destination: 'fake sheet' });
    try {
      const rows = Array.from({ length: 50 }, (_, i) => row(`ev-${i}`, 'é'.repeat(40)));
      const before = journal.fileBytes();
      await journal.add('Events', rows);
      const written = journal.fileBytes() - before;
      const estimate = entryBytes(rows);
      assert.ok(Math.abs(estimate - written) / written < 0.1, `estimate ${estimate} vs ${written} bytes written`);
      assert.equal(journal.backlogBytes(), estimate);
    } finally {
      await journal.close();
    }
  });

  it('refuses new rows once the backlog reaches the cap, writing nothing, and takes them again once rows reach the sheet', async () => {
    const cap = 3 * entryBytes([row('ev-0')]);
    const { journal } = await Journal.open({ dir, destination: 'fake sheet', maxBacklogBytes: cap });
    try {
      for (let i = 0; i < 3; i++) await journal.add('Events', [row(`ev-${i}`)]);
      assert.equal(journal.backlogBytes(), cap);
      const bytes = journal.fileBytes();
      const refused = await journal.add('Events', [row('ev-3')]).then(
        () => assert.fail('appended past the cap'),
        (err: unknown) => err,
      );
      assert.ok(refused instanceof JournalFullError);
      assert.equal(refused.code, 'CORRAL_ERR_JOURNAL_FULL');
      assert.equal(refused.path, journal.path);
      assert.deepEqual([refused.backlogBytes, refused.maxBytes], [cap, cap]);
      assert.match(refused.message, /SHEETS_JOURNAL_MAX_MB/);
      assert.equal(journal.fileBytes(), bytes, 'nothing journaled for the refused append');
      assert.equal(journal.backlogRows(), 3);
      // A retry of rows already journaled adds nothing and is still answered: they were acknowledged.
      assert.equal((await journal.add('Events', [row('ev-1')])).duplicates, 1);
      // Rows reach the sheet: room again.
      const sent = journal.live().slice(0, 1);
      await journal.markSending(sent);
      await journal.markDone(sent, 'sent');
      assert.equal(journal.backlogBytes(), 2 * entryBytes([row('ev-0')]));
      await journal.add('Events', [row('ev-3')]);
      assert.equal(journal.backlogRows(), 3);
    } finally {
      await journal.close();
    }
  });

  it('takes an append larger than the room left (no append is refused forever), and counts the backlog again after a restart', async () => {
    const one = entryBytes([row('ev-0')]);
    const cap = one + 1;
    let opened = await Journal.open({ dir, destination: 'fake sheet', maxBacklogBytes: cap });
    await opened.journal.add('Events', [row('ev-0')]);
    await opened.journal.add('Events', [row('ev-1'), row('ev-2')]); // under the cap before it: taken
    await assert.rejects(opened.journal.add('Events', [row('ev-3')]), { code: 'CORRAL_ERR_JOURNAL_FULL' });
    const backlog = opened.journal.backlogBytes();
    await opened.journal.close();
    opened = await Journal.open({ dir, destination: 'fake sheet', maxBacklogBytes: cap });
    try {
      assert.equal(opened.journal.backlogBytes(), backlog, 'replayed entries count as they did');
      await assert.rejects(opened.journal.add('Events', [row('ev-3')]), { code: 'CORRAL_ERR_JOURNAL_FULL' });
    } finally {
      await opened.journal.close();
    }
  });

  it('counts rows held for another sheet: they are replayed and held in memory all the same', async () => {
    let opened = await Journal.open({ dir, destination: 'old sheet' });
    await opened.journal.add('Events', [row('ev-0')]);
    await opened.journal.close();
    opened = await Journal.open({ dir, destination: 'new sheet', maxBacklogBytes: entryBytes([row('ev-0')]) });
    try {
      assert.equal(opened.journal.heldRows(), 1);
      await assert.rejects(opened.journal.add('Events', [row('ev-1')]), { code: 'CORRAL_ERR_JOURNAL_FULL' });
    } finally {
      await opened.journal.close();
    }
  });
});

describe('the keeper at the backlog cap', () => {
  let dir: string;
  let log: CapturedLogger;
  let keeper: Keeper | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-backlog-cap-'));
    log = await captureLogger();
  });
  afterEach(async () => {
    await keeper?.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs journal.backlog_full once a minute with the count, shows it in its figures, and says when appends are taken again', async () => {
    const clock = new FakeClock(Date.now());
    const backend = new FakeBackend({ Players: [['name', 'code']] }); // the Events tab is gone: nothing is taken
    const settings = testKeeperSettings(dir, { SHEETS_JOURNAL_MAX_MB: 1 });
    const k = (keeper = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, clock, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 }));
    const big = 'x'.repeat(10_000);
    let i = 0;
    // 1 MiB of 10 KB rows, journaled; then the cap refuses.
    for (; k.figures().journalBacklogBytes as number < 1048576; i++) await k.append('Events', [row(`ev-${i}`, big)]);
    const full = () => log.lines().filter((l) => l.event === 'journal.backlog_full');
    for (let n = 0; n < 3; n++) await assert.rejects(k.append('Events', [row(`ev-x${n}`, big)]), { code: 'CORRAL_ERR_JOURNAL_FULL' });
    assert.equal(full().length, 1, 'said once, not per refusal');
    const [line] = full();
    assert.equal(line?.level, 'error');
    assert.equal(line?.code, 'CORRAL_ERR_JOURNAL_FULL');
    assert.equal(line?.path, join(dir, 'sheets.journal'));
    assert.equal(line?.max_bytes, 1048576);
    assert.equal(line?.backlog_rows, i);
    assert.match(String(line?.msg), /SHEETS_JOURNAL_MAX_MB=1: new appends are refused, not acknowledged/);
    const f = k.figures();
    assert.deepEqual([f.journalFull, f.journalAppendsRefusedFull, f.journalBacklogMaxBytes, f.journalBacklogRows], [true, 3, 1048576, i]);
    await clock.advance(61_000);
    await assert.rejects(k.append('Events', [row('ev-y', big)]), { code: 'CORRAL_ERR_JOURNAL_FULL' });
    assert.deepEqual(full().map((l) => [l.refused, l.refused_total]), [[1, 1], [3, 4]]);
    // The tab is back: the flusher empties the backlog, and appends are journaled again.
    backend.tabs.set('Events', [HEADER]);
    await clock.advance(120_000);
    await k.flush();
    assert.equal(k.figures().journalBacklogBytes, 0);
    // Under the cap again: the figures (health's `journal: full`) say so before any new append.
    assert.equal(k.figures().journalFull, false, 'not full once the backlog is under the cap');
    await k.append('Events', [row('ev-z')]);
    const back = log.lines().filter((l) => l.event === 'journal.backlog_accepting');
    assert.deepEqual(back.map((l) => [l.level, l.refused]), [['info', 4]]);
    assert.equal(k.figures().journalFull, false);
  });

  it('appends journaled after the first refusal, begun before it, do not say the cap is lifted: journal.backlog_accepting comes only from one begun after it', async () => {
    const clock = new FakeClock(Date.now());
    const backend = new FakeBackend({ Players: [['name', 'code']] }); // the Events tab is gone: nothing is taken
    const k = (keeper = await Keeper.start({ settings: testKeeperSettings(dir, { SHEETS_JOURNAL_MAX_MB: 1 }), logger: log.logger, socketPath: undefined, clock, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 }));
    const big = 'x'.repeat(10_000);
    let i = 0;
    for (; (k.figures().journalBacklogBytes as number) < 1048576 - 8 * 10_500; i++) await k.append('Events', [row(`ev-${i}`, big)]);
    // Twenty at once, as workers send them: the first fit, the rest are refused, in any order of finishing.
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, n) => k.append('Events', [row(`ev-burst-${n}`, big)])));
    const refused = outcomes.filter((o) => o.status === 'rejected').length;
    assert.ok(refused > 0 && refused < 20, `${refused} of 20 refused`);
    const events = () => log.lines().filter((l) => typeof l.event === 'string' && l.event.startsWith('journal.backlog_')).map((l) => l.event);
    assert.deepEqual(events(), ['journal.backlog_full'], 'full, and not lifted while it is');
    assert.equal(k.figures().journalFull, true);
    // A refusal later in the minute is counted in the failure going on, not said as a new one.
    await assert.rejects(k.append('Events', [row('ev-later', big)]), { code: 'CORRAL_ERR_JOURNAL_FULL' });
    assert.deepEqual(events(), ['journal.backlog_full']);
    // The tab is back: the backlog drains, and an append begun now says the cap is lifted.
    backend.tabs.set('Events', [HEADER]);
    await clock.advance(120_000);
    await k.flush();
    await k.append('Events', [row('ev-after')]);
    assert.deepEqual(events(), ['journal.backlog_full', 'journal.backlog_accepting']);
    assert.equal(k.figures().journalFull, false);
  });
});

describe('a journal over the cap at start', () => {
  let dir: string;
  let log: CapturedLogger;
  let keeper: Keeper | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-oversized-'));
    log = await captureLogger();
  });
  afterEach(async () => {
    await keeper?.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (maxMb: number) =>
    Keeper.start({ settings: testKeeperSettings(dir, { SHEETS_JOURNAL_MAX_MB: maxMb }), logger: log.logger, socketPath: undefined, clock: new FakeClock(Date.now()), openBackend: async (pace) => paced(new FakeBackend({ Events: [HEADER] }), pace), lockWaitMs: 2000 });

  it('is replayed, never dropped, and said before the replay with its path, its size and the heap and CORRAL_TIMEOUT to start with', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => row(`ev-${i}`, 'x'.repeat(100_000)));
    const path = join(dir, 'sheets.journal');
    writeFileSync(path, rows.map((r, i) => encodeRecord({ k: 'add', id: `e${i}`, r: 'Events', rows: [r], at: 1 })).join(''));
    const k = (keeper = await start(1));
    assert.equal(k.figures().journalBacklogRows, 30, 'every row replayed');
    const [line, ...more] = log.lines().filter((l) => l.event === 'journal.oversized');
    assert.equal(more.length, 0);
    assert.deepEqual([line?.level, line?.code, line?.path, line?.max_bytes], ['warn', 'CORRAL_ERR_JOURNAL_OVERSIZED', path, 1048576]);
    assert.ok((line?.bytes as number) > 2 * 1048576);
    assert.match(String(line?.msg), /is 3 MiB, over SHEETS_JOURNAL_MAX_MB=1: it is replayed all the same \(do not delete it/);
    assert.match(String(line?.msg), /NODE_OPTIONS=--max-old-space-size=\d+ and CORRAL_TIMEOUT=\d+/);
    const replayed = log.lines().findIndex((l) => l.event === 'journal.replayed');
    assert.ok(log.lines().findIndex((l) => l.event === 'journal.oversized') < replayed, 'said before the replay');
  });

  it('says nothing of a journal within the cap', async () => {
    keeper = await start(256);
    await keeper.append('Events', [row('ev-1')]);
    assert.deepEqual(log.lines().filter((l) => l.event === 'journal.oversized'), []);
  });
});

describe('a journal within twice the cap that the heap cannot replay', () => {
  it('is said before the replay, with the heap to start with (journal.oversized): a replay past V8\'s heap limit aborts at every start, with no line of corral\'s', async () => {
    // The default cap (256 MiB) replays in ~1.5 GiB of heap; V8's limit is smaller on a small host
    // or in a container with a memory limit. Only a journal over twice the cap was said: one
    // within it aborted (FATAL ERROR: Reached heap limit, SIGABRT) at every restart, silently.
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const dir = mkdtempSync(join(tmpdir(), 'corral-oversized-heap-'));
    try {
      const path = join(dir, 'sheets.journal');
      writeFileSync(path, Buffer.alloc(32 * 1024 * 1024, 0x20));
      const module = new URL('../../src/sheets/keeper/journal-size-check.js', import.meta.url).href;
      const script = `import(${JSON.stringify(module)}).then(({ reportOversizedJournal }) => reportOversizedJournal({ warn: (o) => console.log(JSON.stringify(o)) }, ${JSON.stringify(path)}, 256 * 1048576))`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=96', '-e', script]);
      const line = JSON.parse(stdout.trim().split('\n')[0] ?? '{}') as Record<string, unknown>;
      assert.deepEqual([line.event, line.code, line.path], ['journal.oversized', 'CORRAL_ERR_JOURNAL_OVERSIZED', path]);
      assert.ok((line.heap_mib_needed as number) > 96);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
