// Files written into CORRAL_DATA_DIR through a temporary name end 0600 even when a temporary file
// of that name is already there with 0644 (left by a crash mid-write, or by an older version):
// open()'s mode only applies to a file it creates.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { openNewPrivateFile, writeNewPrivateFileSync } from '../../src/private-file.js';
import { CACHE_HANDOFF_FILE, saveCacheHandoff } from '../../src/sheets/keeper/cache-handoff.js';
import { encodeRecord, JournalFile } from '../../src/sheets/keeper/journal-file.js';
import { FORMAT_RECORD } from '../../src/sheets/keeper/journal-format.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { QUOTA_LEDGER_FILE, QuotaLedger } from '../../src/sheets/keeper/quota-ledger.js';
import { OfflineBackend } from '../../src/sheets/offline/backend.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';

const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8);

/** A temporary file as an older version left it: readable by everyone, with stale bytes. */
function leftover(path: string): void {
  writeFileSync(path, 'stale bytes of an earlier write, longer than the new text\n');
  chmodSync(path, 0o644);
}

describe('a new private file', () => {
  let dir: string;
  let umask: number;
  before(() => {
    // A shell's usual umask, which leaves 0644 alone.
    umask = process.umask(0o022);
  });
  after(() => process.umask(umask));
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-private-file-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces a 0644 file at its name with a new, empty one of mode 0600', async () => {
    const path = join(dir, 'x.tmp');
    leftover(path);
    const fh = await openNewPrivateFile(path);
    try {
      await fh.writeFile('new\n');
    } finally {
      await fh.close();
    }
    assert.equal(modeOf(path), '600');
    assert.equal(readFileSync(path, 'utf8'), 'new\n');

    const sync = join(dir, 'y.tmp');
    leftover(sync);
    writeNewPrivateFileSync(sync, 'new\n');
    assert.equal(modeOf(sync), '600');
    assert.equal(readFileSync(sync, 'utf8'), 'new\n');
  });

  it('creates one where nothing is, and fails where a directory holds the name, leaving it', async () => {
    writeNewPrivateFileSync(join(dir, 'fresh.tmp'), 'a');
    assert.equal(modeOf(join(dir, 'fresh.tmp')), '600');
    const taken = join(dir, 'taken.tmp');
    mkdirSync(taken);
    await assert.rejects(openNewPrivateFile(taken), /EISDIR|EPERM/);
    assert.throws(() => writeNewPrivateFileSync(taken, 'a'), /EISDIR|EPERM/);
    assert.ok(statSync(taken).isDirectory());
  });

  describe('what the keeper writes into the data dir through one, over a 0644 leftover', () => {
    it('the quota ledger', async () => {
      const log = await captureLogger();
      try {
        const clock = new FakeClock();
        const buckets = {
          reads: new QuotaBucket({ name: 'reads', perMinute: 3, maxQueue: 10, clock }),
          writes: new QuotaBucket({ name: 'writes', perMinute: 3, maxQueue: 10, clock }),
        };
        leftover(join(dir, `${QUOTA_LEDGER_FILE}.tmp`));
        const ledger = QuotaLedger.open(dir, buckets, log.logger);
        assert.ok(buckets.reads.tryAcquire());
        ledger.close();
        assert.equal(modeOf(join(dir, QUOTA_LEDGER_FILE)), '600');
        assert.equal(existsSync(join(dir, `${QUOTA_LEDGER_FILE}.tmp`)), false);
      } finally {
        log.close();
      }
    });

    it('the cache handoff', async () => {
      leftover(join(dir, `${CACHE_HANDOFF_FILE}.tmp`));
      await saveCacheHandoff(dir, 'offline test', [], 1_800_000_000_000);
      assert.equal(modeOf(join(dir, CACHE_HANDOFF_FILE)), '600');
    });

    it("the journal's compaction", async () => {
      const path = join(dir, 'sheets.journal');
      const { file } = await JournalFile.open(path);
      try {
        leftover(`${path}.tmp`);
        await file.rewrite(() => []);
        assert.equal(modeOf(path), '600');
        // Nothing of the leftover: only the format declaration every rewrite begins with.
        assert.equal(readFileSync(path, 'utf8'), encodeRecord(FORMAT_RECORD));
      } finally {
        await file.close();
      }
    });

    it("an offline sheet's tab", async () => {
      const events = join(dir, 'Events.csv');
      writeFileSync(events, 'event_id,player\n', { mode: 0o600 });
      leftover(`${events}.tmp`);
      await new OfflineBackend(dir).appendValues('Events!A:B', [['e1', 'P001']]);
      assert.equal(modeOf(events), '600');
      assert.equal(readFileSync(events, 'utf8'), 'event_id,player\ne1,P001\n');
    });
  });
});
