// Google (and the emulator, and the offline sheet) finds a tab whatever the case of its name, and a
// spreadsheet cannot hold two tabs whose names differ only in case: `events` is the tab Events.
// The keeper ties journaled rows to their tab, and sends them, by one key per tab and per range
// whatever the case (tab-key.ts), so a read spelt in another case than the append shows the rows
// acknowledged for the tab, and the rows of every spelling land in the order they were acknowledged.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import type { KeeperOptions } from '../../src/sheets/keeper/keeper-options.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';
import { startHarness, type Harness } from '../fixtures/sheets/harness.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const row = (id: string): string[] => [id, 'P1', 'goal', '', '2025'];

describe('a tab named in another case than its rows were journaled for', () => {
  let h: Harness;
  let dir: string;
  let log: CapturedLogger;
  const keepers: Keeper[] = [];

  beforeEach(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'corral-tab-case-'));
    log = await captureLogger();
    h.emulator.setSheet(h.emulator.spreadsheetId, 'Events', [HEADER, row('ev-1')]);
  });
  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.close();
    log.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startKeeper(extra: Partial<KeeperOptions> = {}): Promise<Keeper> {
    const backend = h.backend();
    const k = await Keeper.start({ settings: testKeeperSettings(dir), logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000, ...extra });
    keepers.push(k);
    return k;
  }

  const ids = (values: readonly (readonly string[])[]): string[] => values.map((r) => r[0] ?? '');

  it('a read of the tab spelt in another case shows the rows journaled for it, as a read spelt as the append does', async () => {
    const k = await startKeeper();
    await k.append('Events', [row('ev-2')], undefined, HEADER);
    assert.deepEqual(ids((await k.read('Events')).values), ['event_id', 'ev-1', 'ev-2'], 'spelt as the append');
    assert.deepEqual(ids((await k.read('events')).values), ['event_id', 'ev-1', 'ev-2'], 'the same tab at Google: the acknowledged row is there too');
    assert.deepEqual(ids((await k.read('EVENTS!A:E')).values), ['event_id', 'ev-1', 'ev-2'], 'a block of it, in upper case');
  });

  it('rows journaled for Events before a restart: after it a read of events shows them, and a retry of them to events is recognised, not journaled again', async () => {
    const first = await startKeeper();
    await first.append('Events', [row('ev-2')]);
    await first.close();
    keepers.splice(0);
    // The journal's add record keeps the range as written; the keys are made again at replay.
    const k = await startKeeper();
    assert.deepEqual(ids((await k.read('events')).values), ['event_id', 'ev-1', 'ev-2']);
    const retry = await k.append('events', [row('ev-2')]);
    assert.equal(retry.duplicates, 1, 'the row id is already journaled for the tab');
    await k.flush();
    assert.deepEqual(ids(h.emulator.getSheet(h.emulator.spreadsheetId, 'Events') ?? []), ['event_id', 'ev-1', 'ev-2'], 'written once');
  });

  it('rows appended to Events and to events go out as one target, in one append, in the order they were acknowledged', async () => {
    const k = await startKeeper();
    await k.append('Events', [row('ev-2')]);
    await k.append('events', [row('ev-3')]);
    await k.append("'Events'", [row('ev-4')]);
    await k.append('EVENTS', [row('ev-5')]);
    h.emulator.resetCounters();
    const r = await k.flush();
    assert.equal(r.sent, 4);
    assert.equal(h.emulator.counters().calls['values.append'], 1, 'one range, one values:append');
    assert.deepEqual(ids(h.emulator.getSheet(h.emulator.spreadsheetId, 'Events') ?? []), ['event_id', 'ev-1', 'ev-2', 'ev-3', 'ev-4', 'ev-5'], 'in acknowledgment order');
    assert.equal(k.figures().journalBacklogRows, 0);
  });

  it('rows of Events that reached Google are kept past their retention while a copy of EVENTS from before them is still served', async () => {
    const clock = new FakeClock(Date.now());
    const k = await startKeeper({ clock });
    // A copy of the tab, fetched under another spelling (neither the append's nor in lower case)
    // before the rows reach Google.
    assert.deepEqual(ids((await k.read('EVENTS')).values), ['event_id', 'ev-1']);
    await clock.advance(1000);
    await k.append('Events', [row('ev-2')]);
    await k.flush();
    // Past the retention of done rows (10 minutes), with the copy still servable (stale within
    // SHEET_CACHE_MAX_STALE); a later done record trims the journal's done rows.
    await clock.advance(11 * 60_000);
    await k.append('Events', [row('ev-3')]);
    await k.flush();
    const read = await k.read('EVENTS');
    assert.equal(read.stale, true, 'the copy from before ev-2 reached Google is what is served');
    assert.deepEqual(ids(read.values), ['event_id', 'ev-1', 'ev-2', 'ev-3'], 'ev-2 was kept for it');
  });
});
