// A keeper stopped (drain, reload, master gone) while an append is in flight to Google, with the
// real Google client against the emulator: our own cancel is said as such, at info, not as a sheet
// to fix at error level; the rows stay journaled and the next keeper reads back before it resends.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { systemClock } from '../../src/sheets/keeper/clock.js';
import { EXIT_MARGIN_MS as MASTER_EXIT_MARGIN_MS } from '../../src/master/drain.js';
import { hurriedDrainDeadline } from '../../src/sheets/keeper/hurried-drain.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';
import { startHarness, type Harness } from '../fixtures/sheets/harness.js';

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('keeper stopped with an append in flight', () => {
  let h: Harness;
  let dir: string;
  let log: CapturedLogger;
  const keepers: Keeper[] = [];

  beforeEach(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'corral-stop-in-flight-'));
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.close();
    log.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(unsureDelayMs: number): Promise<Keeper> {
    const backend = h.backend();
    const k = await Keeper.start({ settings: testKeeperSettings(dir), logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000, unsureDelayMs });
    keepers.push(k);
    return k;
  }

  it('a drain asked for again with less time ends by the shorter deadline, cutting the hung append then (a fast stop after a graceful one)', async () => {
    const k = await start(600_000);
    await k.append('Events', [['hurry-1', 'P001', 'goal', '', '2024-05-01']]);
    h.emulator.setFaults({ hangRate: 1 });
    void k.flush().catch(() => undefined);
    await until(() => h.emulator.counters().calls['values.append'] >= 1, 'the append to reach the emulator');
    const started = Date.now();
    const drained = k.drain(systemClock.now() + 60_000);
    k.hurryDrain(systemClock.now() + 1500);
    k.hurryDrain(systemClock.now() + 30_000);
    assert.equal(await drained, 1, 'the row stays journaled for the next keeper');
    const took = Date.now() - started;
    assert.ok(took < 10_000, `drained ${took} ms after being asked for 1.5 s (not the 60 s asked for first)`);
    assert.ok(log.lines().some((l) => l.event === 'sheets.append_cancelled'), 'the hung append was cut');
  });

  it('a drain hurried by a QUIT after a TERM (the master tells it 0 ms, and kills it 2 s later) still hands its cache over', async () => {
    const k = await start(600_000);
    await k.read('Players');
    await k.append('Events', [['quit-1', 'P001', 'goal', '', '2024-05-01']]);
    h.emulator.setFaults({ hangRate: 1 });
    void k.flush().catch(() => undefined);
    await until(() => h.emulator.counters().calls['values.append'] >= 1, 'the append to reach the emulator');
    const drained = k.drain(systemClock.now() + 60_000);
    // keeper-main.ts's shutdown for the QUIT's drain (gracefulMs 0); the master kills it 2 s later.
    const started = Date.now();
    k.hurryDrain(hurriedDrainDeadline(systemClock.now(), 0));
    assert.equal(await drained, 1, 'the row stays journaled for the next keeper');
    const took = Date.now() - started;
    assert.ok(took < MASTER_EXIT_MARGIN_MS, `drained ${took} ms after the QUIT, past the master's ${MASTER_EXIT_MARGIN_MS} ms`);
    assert.ok(log.lines().some((l) => l.event === 'sheets.cache_handed_over'), 'the cache was handed over to the next keeper');
  });

  it('the drain cancels it: sheets.append_cancelled at info (outcome unknown), no sheets.append_failed; the next keeper reads back, then sends it once', async () => {
    const k = await start(600_000);
    await k.append('Events', [['stop-1', 'P001', 'goal', '', '2024-05-01']]);
    h.emulator.setFaults({ hangRate: 1 });
    void k.flush().catch(() => undefined);
    await until(() => h.emulator.counters().calls['values.append'] >= 1, 'the append to reach the emulator');
    // A stop with 1.5 s of grace: the flush gets 0.5 s, then close() cancels the hung call.
    await k.drain(systemClock.now() + 1500);
    await until(() => log.lines().some((l) => l.event === 'sheets.append_cancelled'), 'sheets.append_cancelled');

    const cancelled = log.lines().filter((l) => l.event === 'sheets.append_cancelled');
    assert.equal(cancelled.length, 1);
    assert.deepEqual(
      { level: cancelled[0]?.level, range: cancelled[0]?.range, rows: cancelled[0]?.rows, applied: cancelled[0]?.applied },
      { level: 'info', range: 'Events', rows: 1, applied: 'maybe' },
    );
    assert.match(String(cancelled[0]?.msg), /cancelled by the keeper stopping.*reads the sheet back before resending/);
    assert.equal((cancelled[0]?.err as { code?: string } | undefined)?.code, 'CORRAL_ERR_SHEETS_TIMEOUT');
    assert.deepEqual(
      log.lines().filter((l) => l.event === 'sheets.append_failed' || l.level === 'error'),
      [],
      'our own cancel is no failure, and no error',
    );

    // The next keeper: the row was journaled as sent, so it is unsure: read back, found absent, sent.
    h.emulator.setFaults({ hangRate: 0 });
    const next = await start(0);
    const before = h.emulator.counters().calls['values.get'] ?? 0;
    await next.flush();
    await next.flush();
    assert.ok((h.emulator.counters().calls['values.get'] ?? 0) > before, 'read back before the resend');
    const ids = (h.emulator.getSheet(h.emulator.spreadsheetId, 'Events') ?? []).map((r) => r[0]);
    assert.equal(ids.filter((id) => id === 'stop-1').length, 1, 'the row once');
  });
});
