// A reload that edits CORRAL_DATA_DIR must not strand writes already answered 201. It used to
// drain the keeper for 5 s and start a new one on the new dir: rows Google had not taken by then
// stayed in the old journal, which no corral on the new dir ever sends (audit: 30 of 30 lost while
// Google failed), and the old keeper said they were "kept for the next start". The reload now
// keeps the running dir (config.restart_needed, restart_needed) and applies the rest; a stop with
// rows left names the journal and the dir, and a corral started on that dir sends them.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { startWithEmulator } from '../helpers/sheets-load.js';

const rowOf = (id: string) => [id, 'P001', 'goal', `reload data dir ${id}`, '2024-07-01T12:00:00Z'];

async function append(c: CorralProcess, id: string): Promise<number> {
  const r = await http(`${c.url}/append`, { method: 'POST', timeoutMs: 20_000, body: JSON.stringify({ range: 'Events', rows: [rowOf(id)] }) });
  return r.status;
}

test('a reload that edits CORRAL_DATA_DIR while Google fails keeps the running dir: every row answered 201 reaches the sheet once Google is back, and a stop with rows left names the journal that a corral on that dir sends', async () => {
  const emu = await startEmulator();
  const root = mkdtempSync(join(tmpdir(), 'corral-reload-datadir-'));
  const [dirA, dirB] = [join(root, 'dataA'), join(root, 'dataB')];
  const envFile = join(root, 'corral.env');
  writeFileSync(envFile, `CORRAL_DATA_DIR=${dirA}\n`);
  const env = { CORRAL_ENV_FILE: envFile, SHEETS_FLUSH_INTERVAL_MS: '100', SHEETS_TIMEOUT: '3', SHEETS_UNSURE_DELAY: '3', CORRAL_GRACEFUL_TIMEOUT: '3' };
  const inSheet = () => (emu.getSheet(emu.spreadsheetId, 'Events') ?? []).map((row) => row[0] ?? '').filter((id) => id.startsWith('dd-'));
  let c: CorralProcess | undefined;
  let second: CorralProcess | undefined;
  try {
    c = await startOnFileDataDir(emu, env);
    const first = c;
    emu.setFaults({ errorRate: 1 });
    const before = Array.from({ length: 20 }, (_, i) => `dd-before-${i}`);
    for (const id of before) assert.equal(await append(first, id), 201, id);

    writeFileSync(envFile, `CORRAL_DATA_DIR=${dirB}\nSHEET_CACHE_TTL=7\n`);
    first.kill('SIGHUP');
    await first.waitForLog((l) => l.event === 'reload.done', 60_000, 'reload.done');
    const said = first.events('config.restart_needed').filter((l) => l.setting === 'CORRAL_DATA_DIR');
    assert.deepEqual(said.map((l) => [l.level, l.running, l.configured]), [['warn', dirA, dirB]]);
    assert.match(String(said[0]?.msg), new RegExp(`journal \\(${join(dirA, 'sheets.journal')}\\) holds the writes acknowledged`));
    // The keeper restarted for the TTL, on the running dir.
    const restart = first.events('keeper.restart');
    assert.deepEqual(restart.map((l) => l.changed), [['SHEET_CACHE_TTL']]);
    const drainedAtReload = first.events('keeper.drained');
    assert.equal(drainedAtReload.length, 1);
    assert.deepEqual([drainedAtReload[0]?.level, drainedAtReload[0]?.journal, drainedAtReload[0]?.leaving], ['info', join(dirA, 'sheets.journal'), false]);
    assert.ok(!existsSync(join(dirB, 'sheets.journal')), 'nothing journaled in the new dir');

    // Writes after the reload still go to the running dir's journal.
    const after = Array.from({ length: 5 }, (_, i) => `dd-after-${i}`);
    for (const id of after) assert.equal(await append(first, id), 201, id);

    emu.setFaults({ errorRate: 0 });
    await waitFor(() => inSheet().length >= before.length + after.length, 60_000, `all ${before.length + after.length} rows in the sheet (${inSheet().length})`);
    assert.deepEqual(inSheet().sort(), [...before, ...after].sort(), 'every acknowledged row once');
    assert.ok(!existsSync(join(dirB, 'sheets.journal')));

    // Google down again, rows acknowledged, the master stopped: the keeper says where they stay.
    emu.setFaults({ errorRate: 1 });
    const atStop = ['dd-stop-0', 'dd-stop-1', 'dd-stop-2'];
    for (const id of atStop) assert.equal(await append(first, id), 201, id);
    first.kill('SIGTERM');
    await first.exited;
    const kept = first.events('keeper.drained').at(-1);
    assert.deepEqual([kept?.level, kept?.rowsLeftInJournal, kept?.journal, kept?.dataDir, kept?.leaving], ['warn', 3, join(dirA, 'sheets.journal'), dirA, true]);
    assert.match(String(kept?.msg), new RegExp(`only a corral started with CORRAL_DATA_DIR=${dirA} sends them`));

    // And so it does, once Google is back.
    emu.setFaults({ errorRate: 0 });
    writeFileSync(envFile, `CORRAL_DATA_DIR=${dirA}\n`);
    second = await startOnFileDataDir(emu, env);
    await waitFor(() => inSheet().length >= before.length + after.length + atStop.length, 60_000, `the rows kept at the stop in the sheet (${inSheet().length})`);
    assert.deepEqual(inSheet().sort(), [...before, ...after, ...atStop].sort());
  } finally {
    await c?.stop();
    await second?.stop();
    await emu.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** The data dir comes from the file, so that a reload reads its edit (the environment would win). */
function startOnFileDataDir(emu: Awaited<ReturnType<typeof startEmulator>>, env: Record<string, string>): Promise<CorralProcess> {
  return startWithEmulator(emu, 2, env, { unset: ['CORRAL_DATA_DIR'] });
}
