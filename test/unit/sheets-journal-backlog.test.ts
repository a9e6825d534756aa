import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sheetsFiguresOf } from '../../src/master/admin/sheets-figures.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { child } from '../fixtures/fake-admin-view.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];

describe('journal backlog as the operator sees it', () => {
  let dir: string;
  let log: CapturedLogger;
  let keeper: Keeper | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-backlog-'));
    log = await captureLogger();
  });
  afterEach(async () => {
    await keeper?.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the age of the oldest row Google does not have yet tells rows stuck behind a failing append from a busy minute', async () => {
    const clock = new FakeClock(Date.now());
    const backend = new FakeBackend({ Players: [['name', 'code']] }); // the Events tab is gone
    const settings = testKeeperSettings(dir, { CORRAL_L1_CACHE_MB: 8, CORRAL_IDEMPOTENCY_KEYS: 1000 });
    const k = (keeper = await Keeper.start({ settings, logger: log.logger, socketPath: undefined, clock, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 }));
    assert.equal(k.figures().journalOldestRowSeconds, 0, 'nothing journaled');
    await k.append('Events', [['ev-1', 'P001', 'goal', '', '2024-03-02']]);
    await k.flush();
    await clock.advance(300_000);
    await k.append('Events', [['ev-2', 'P001', 'goal', '', '2024-03-02']]);
    await k.flush();
    assert.equal(k.figures().journalBacklogRows, 2);
    assert.equal(k.figures().journalOldestRowSeconds, 300);
    const stats = sheetsFiguresOf([child(0, 10, 'ready', { extra: k.figures() }, 'keeper')]);
    assert.deepEqual({ rows: stats.journal_backlog, oldest: stats.journal_oldest_seconds }, { rows: 2, oldest: 300 });
    backend.tabs.set('Events', [HEADER]); // the tab is back
    await clock.advance(60_000);
    await k.flush();
    assert.equal(k.figures().journalBacklogRows, 0);
    assert.equal(k.figures().journalOldestRowSeconds, 0);
  });
});
