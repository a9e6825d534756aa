// The data dir removed while corral runs and Google fails (an `rm -rf data/`, a cleanup job): the
// keeper's journal then took appends into a deleted file and its socket took no new connection, so
// writes failed 503 with health "ok", and every row acknowledged before was lost at the next start.
// With the real master, the fixture app and the emulator: the keeper puts its journal back from
// memory and binds its socket again, says so, writes are answered 201 again, and after a stop and a
// start every acknowledged row reaches the sheet once Google is back.

import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { startWithEmulator } from '../helpers/sheets-load.js';

const rowOf = (id: string) => [id, 'P001', 'goal', `data dir removed ${id}`, '2024-07-01T12:00:00Z'];

async function append(c: CorralProcess, id: string): Promise<number> {
  return (await http(`${c.url}/append`, { method: 'POST', timeoutMs: 20_000, headers: { connection: 'close' }, body: JSON.stringify({ range: 'Events', rows: [rowOf(id)] }) })).status;
}

// The keeper may put a file back between the removal of the files and of the directory (its check
// or a send record), as it would under an operator's `rm -rf`, which then says "Directory not
// empty". The whole removal is run again, as the operator would, until the directory itself is gone:
// rmSync's own maxRetries only retries the rmdir, never the files put back meanwhile.
function removeWhileInUse(dir: string): void {
  for (let attempt = 1; ; attempt += 1) {
    try {
      rmSync(dir, { recursive: true });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt === 50) throw error;
    }
  }
}

test('the data dir removed while Google fails: journal, socket and lock put back, and every acknowledged row reaches the sheet after a restart', async () => {
  const emu = await startEmulator();
  // Google's 5xx leave appends unsure, read back no sooner than SHEETS_UNSURE_DELAY (60 s by
  // default) after their send: the second corral's wait for them would be that long.
  const env = { SHEETS_FLUSH_INTERVAL_MS: '100', SHEETS_TIMEOUT: '3', CORRAL_GRACEFUL_TIMEOUT: '3', SHEETS_UNSURE_DELAY: '2' };
  const inSheet = () => (emu.getSheet(emu.spreadsheetId, 'Events') ?? []).map((row) => row[0] ?? '').filter((id) => id.startsWith('dr-'));
  let c: CorralProcess | undefined;
  let second: CorralProcess | undefined;
  try {
    c = await startWithEmulator(emu, 2, env);
    const first = c;
    const dataDir = join(first.dir, 'data');
    emu.setFaults({ errorRate: 1 });
    const before = ['dr-before-0', 'dr-before-1', 'dr-before-2'];
    for (const id of before) assert.equal(await append(first, id), 201, id);

    removeWhileInUse(dataDir);
    // The keeper finds its files gone within its check interval, with or without an append.
    const socketLine = await first.waitForLog((l) => l.event === 'keeper.socket_rebound', 10_000, 'keeper.socket_rebound');
    const journalLine = await first.waitForLog((l) => l.event === 'journal.replaced', 10_000, 'journal.replaced');
    assert.deepEqual([journalLine.level, journalLine.what, journalLine.rowsNotInSheet, journalLine.code], ['error', 'deleted', 3, 'CORRAL_ERR_KEEPER_FILES_REMOVED']);
    assert.equal(socketLine.level, 'error');
    assert.ok(existsSync(join(dataDir, 'sheets.journal')), 'the journal is back at its path');
    // And the lock, so that a second corral started on the data dir now would wait for this keeper.
    await first.waitForLog((l) => l.event === 'keeper.lock_restored', 10_000, 'keeper.lock_restored');
    assert.ok(existsSync(join(dataDir, 'keeper.lock')), 'the lock is back at its path');

    // New connections reach the keeper again.
    const after = ['dr-after-0', 'dr-after-1'];
    for (const id of after) assert.equal(await append(first, id), 201, id);

    first.kill('SIGTERM');
    await first.exited;
    const drained = first.events('keeper.drained').at(-1);
    assert.equal(drained?.rowsLeftInJournal, 5, 'every acknowledged row left for the next start');

    // A corral started on the same data dir sends them once Google is back: none lost, none twice.
    emu.setFaults({ errorRate: 0 });
    second = await startWithEmulator(emu, 1, { ...env, CORRAL_DATA_DIR: dataDir });
    const all = [...before, ...after];
    await waitFor(() => inSheet().length >= all.length, 60_000, `all ${all.length} rows in the sheet (${inSheet().length})`);
    assert.deepEqual(inSheet().sort(), all.sort());
  } finally {
    await second?.stop();
    await c?.stop();
    await emu.close();
  }
});
