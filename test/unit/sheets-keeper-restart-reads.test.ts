// Reads in flight when a keeper drained for a restart (a reload that changed its settings) closes
// its read tier: the worker asks the next keeper again within the master's restart window
// (keeper-restart-window.ts), as it does for a refused connection, rather than answer the error of
// a fetch the closing keeper aborted itself.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ValueRange } from '../../src/sheets/backend.js';
import { SheetsError } from '../../src/sheets/errors.js';
import { KeeperLink } from '../../src/sheets/keeper-link.js';
import { KeeperRestartWindow } from '../../src/sheets/keeper-restart-window.js';
import { systemClock } from '../../src/sheets/keeper/clock.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

/** Reads that wait until their signal aborts while `hang`, failing then as the Google client does (nothing sent). */
class AbortableBackend extends FakeBackend {
  hang = false;
  asked = 0;
  override async getValues(range: string, signal?: AbortSignal): Promise<ValueRange> {
    this.asked++;
    if (this.hang) {
      await new Promise<void>((_resolve, reject) => {
        const fail = () => reject(new SheetsError('CORRAL_ERR_SHEETS_TIMEOUT', 'getValues was cancelled by the caller before the request was sent', { reason: 'ABORTED', applied: 'no', retryable: false }));
        if (signal?.aborted) fail();
        else signal?.addEventListener('abort', fail, { once: true });
      });
    }
    return super.getValues(range);
  }
}

describe('a read in flight as a keeper drained for a restart closes', () => {
  let dir: string;
  const open: { close(): Promise<void> }[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-restart-reads-'));
  });
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is answered by the next keeper within the restart window, not failed with the aborted fetch', async () => {
    const log = await captureLogger();
    const socketPath = join(dir, 'k.sock');
    const backend = new AbortableBackend({ Cold: [['a', 'b']], Warm: [['w']] });
    const start = () => Keeper.start({ settings: testKeeperSettings(dir), logger: log.logger, socketPath, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
    const first = await start();
    open.push(first);
    // A copy to hand over: the drain writes it between the tier's close and the server's.
    await first.read('Warm');
    const window = new KeeperRestartWindow();
    const link = new KeeperLink({ socketPath, retryDelayMs: 10, restartWindow: window });
    open.push(link);
    // The master's keeper-restarting: the worker's calls that cannot be answered wait for the next keeper.
    window.open(12_000);
    backend.hang = true;
    const read = link.firstFill<{ values?: string[][] }>('/read?range=Cold').then(
      (a) => a,
      (err: unknown) => err as Error,
    );
    while (backend.asked < 2) await new Promise((r) => setTimeout(r, 5));
    await first.drain(systemClock.now() + 3000);
    backend.hang = false;
    const next = await start();
    open.push(next);
    window.close();
    const answer = await read;
    assert.ok(!(answer instanceof Error), `failed: ${(answer as { code?: string }).code} ${(answer as Error).message}`);
    assert.deepEqual(answer.values, [['a', 'b']]);
  });

  it("a read the closing keeper's own fetch fails is its 'unavailable', not Google's error", async () => {
    const log = await captureLogger();
    const backend = new AbortableBackend({ Cold: [['a']] });
    const k = await Keeper.start({ settings: testKeeperSettings(dir), logger: log.logger, socketPath: undefined, openBackend: async (pace) => paced(backend, pace), lockWaitMs: 2000 });
    open.push(k);
    backend.hang = true;
    const read = k.read('Cold');
    read.catch(() => undefined);
    while (backend.asked < 1) await new Promise((r) => setTimeout(r, 5));
    await k.close();
    await assert.rejects(read, { code: 'CORRAL_ERR_KEEPER_UNAVAILABLE' });
  });
});
