// A reload that changes a keeper setting restarts the keeper: with the real master, its workers and
// the emulator, the new keeper serves the cache the old one handed over, so the workers the same
// reload starts (no copy of their own) do not wait for Google.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { http } from '../helpers/http.js';
import { startWithEmulator, type ReadAnswer } from '../helpers/sheets-load.js';

test('a reload that restarts the keeper: the new workers answer from the cache the old keeper handed over, journaled rows included, without reading Google', async () => {
  const emu = await startEmulator({ faults: { latencyMs: 800 } });
  const dir = mkdtempSync(join(tmpdir(), 'corral-handoff-'));
  const envFile = join(dir, 'corral.env');
  writeFileSync(envFile, 'SHEET_CACHE_TTL=120\n');
  const c = await startWithEmulator(emu, 2, { CORRAL_ENV_FILE: envFile, SHEETS_FLUSH_INTERVAL_MS: '100' });
  const read = async (range: string) => {
    const r = await http(`${c.url}/read?range=${encodeURIComponent(range)}`, { headers: { connection: 'close' } });
    assert.equal(r.status, 200, r.text);
    return r.json<ReadAnswer & { pendingRows: number }>();
  };
  try {
    const players = await read('Players');
    const events = await read('Events');
    const appended = await http(`${c.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Events', rows: [['ev-handoff', 'P001', 'goal', '', '2026-11-25']] }) });
    assert.equal(appended.status, 201, appended.text);
    for (let i = 0; i < 300 && emu.counters().rowsAppended < 1; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(emu.counters().rowsAppended, 1, 'the row reached the sheet, after the copy of Events was fetched');
    const reads = emu.counters().calls['values.get'] + emu.counters().calls['values.batchGet'];

    writeFileSync(envFile, 'SHEET_CACHE_TTL=121\n');
    const reloadedAt = Date.now();
    c.kill('SIGHUP');
    const restarted = await c.waitForLog((l) => l.event === 'keeper.ready' && l.ttl === 121, 30_000, 'the new keeper');
    const done = await c.waitForLog((l) => l.event === 'reload.done', 30_000, 'reload.done');

    const workersBefore = new Set([players.worker, events.worker]);
    const after = await read('Players');
    assert.ok(!workersBefore.has(after.worker), `answered by a worker the reload started (${after.worker}, generation ${String(done.generation)})`);
    // Fetched before the reload. Each worker moves its keeper's times onto its own clock by the
    // two clocks' difference as read when the answer was sent and when it was taken, which counts
    // the answer's time in transit: one time reads a few ms apart through two keepers and two
    // workers on a quiet box, hundreds on a loaded one (sheets-redis-hosts.test.ts saw 200 ms).
    // What rules out a copy fetched again is Google's call count below.
    assert.deepEqual([after.values, after.stale], [players.values, false]);
    assert.ok(Math.abs(after.fetchedAt - players.fetchedAt) < 1000 && after.fetchedAt < reloadedAt, `the copy fetched before the reload (${after.fetchedAt - players.fetchedAt} ms apart)`);
    const eventsAfter = await read('Events');
    assert.ok(Math.abs(eventsAfter.fetchedAt - events.fetchedAt) < 1000, `the copy of Events fetched before the append (${eventsAfter.fetchedAt - events.fetchedAt} ms apart)`);
    assert.deepEqual(eventsAfter.values.map((r) => r[0]).slice(-1), ['ev-handoff'], 'with the acknowledged row');
    assert.equal(emu.counters().calls['values.get'] + emu.counters().calls['values.batchGet'], reads, 'no read reached Google');
    const restored = await c.waitForLog((l) => l.event === 'sheets.cache_restored', 5000, 'sheets.cache_restored');
    assert.deepEqual([restored.ranges, restored.pid], [2, restarted.pid], 'restored by the new keeper');
  } finally {
    await c.stop();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
