// The keeper's data dir: created private, an existing one open to other users said so, and one
// that cannot be made refused as the operator's to fix.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { DataDirWriteError } from '../../src/errors.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

let root: string;
let log: CapturedLogger;
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'corral-datadir-'));
  log = await captureLogger();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function startAndClose(dataDir: string): Promise<void> {
  const backend = new FakeBackend({ Players: [['name', 'code']] });
  const k = await Keeper.start({ settings: testKeeperSettings(dataDir), logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
  await k.close();
}

test('a data dir the keeper creates is private, and nothing is said', async () => {
  const dataDir = join(root, 'new');
  await startAndClose(dataDir);
  assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  assert.deepEqual(log.lines().filter((l) => l.event === 'datadir.open_to_others'), []);
});

test('an existing data dir open to other users keeps its mode, and each start says how to close it', async () => {
  const dataDir = join(root, 'old');
  await startAndClose(join(root, 'old'));
  chmodSync(dataDir, 0o755);
  await startAndClose(dataDir);
  assert.equal(statSync(dataDir).mode & 0o777, 0o755, 'corral does not change an operator\'s modes');
  const said = log.lines().filter((l) => l.event === 'datadir.open_to_others');
  assert.deepEqual(said.map((l) => [l.dataDir, l.mode, l.level]), [[dataDir, '755', 'warn']]);
  assert.match(String(said[0]?.msg), new RegExp(`run chmod -R go= ${dataDir}$`));
});

test('a data dir that cannot be made (a file there, or above it) fails the keeper as a data dir it cannot write: CORRAL_DATA_DIR, the path and the errno, not a bare EEXIST', async () => {
  writeFileSync(join(root, 'file'), '');
  for (const [dataDir, errno] of [[join(root, 'file'), 'EEXIST'], [join(root, 'file', 'data'), 'ENOTDIR']] as const) {
    await assert.rejects(startAndClose(dataDir), (err: unknown) => {
      assert.ok(err instanceof DataDirWriteError, String(err));
      assert.equal(err.code, 'CORRAL_ERR_JOURNAL_UNWRITABLE');
      assert.deepEqual([err.path, err.errno], [dataDir, errno]);
      assert.match(err.message, new RegExp(`^cannot write the data dir \\(CORRAL_DATA_DIR\\) ${dataDir}: ${errno}`));
      return true;
    });
  }
});

test('a journal the keeper cannot open (a directory in its place) fails the start as CORRAL_ERR_JOURNAL_UNWRITABLE naming the journal and the errno, not a bare EISDIR', async () => {
  const dataDir = join(root, 'data');
  mkdirSync(join(dataDir, 'sheets.journal'), { recursive: true });
  await assert.rejects(startAndClose(dataDir), (err: unknown) => {
    assert.ok(err instanceof DataDirWriteError, String(err));
    assert.equal(err.code, 'CORRAL_ERR_JOURNAL_UNWRITABLE');
    const journal = join(dataDir, 'sheets.journal');
    assert.deepEqual([err.path, err.errno], [journal, 'EISDIR']);
    assert.match(err.message, new RegExp(`^cannot write the journal ${journal}: EISDIR`));
    return true;
  });
});
