// A drain's flush and the write quota. A keeper that writes all the time spends its minute's
// tokens as they come back, so its bucket is usually empty when a stop drains it; the drain waits
// for the next token when it comes before the deadline, and sends the rows acknowledged since the
// last append. Given up at the first empty bucket, every stop of a busy keeper left them in the
// journal (a stop during a reload that restarted the keeper left 1 to 8 rows of about 120 there).

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, it } from 'node:test';
import { Flusher } from '../../src/sheets/keeper/flusher.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { QUOTA_WINDOW_MS, QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { closeFlusherParts, EVENTS_HEADER, eventRow } from '../fixtures/test-flusher.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/**
 * A flusher whose write bucket allows `writesPerMinute`. 'steady': an event a second for over a
 * minute, each flush sending what waits when a token is free (the bucket then gives one back as
 * often as it is spent); 'burst': the minute's tokens spent at once (none back for a window).
 * Either way the bucket is empty at the end.
 */
async function busyKeeper(writesPerMinute: number, pace: 'steady' | 'burst') {
  const dir = mkdtempSync(join(tmpdir(), 'corral-drain-quota-'));
  const clock = new FakeClock();
  const backend = new FakeBackend({ Events: [EVENTS_HEADER] });
  const log = await captureLogger();
  const journal = (await Journal.open({ dir, destination: 'fake sheet', clock, unsureDelayMs: 1000 })).journal;
  const writeQuota = new QuotaBucket({ name: 'writes', perMinute: writesPerMinute, maxQueue: 16, clock });
  const readQuota = new QuotaBucket({ name: 'reads', perMinute: 10_000, maxQueue: 16, clock });
  // Each call pays its token, as the keeper's backend does (pacing.ts).
  const pacedBackend = paced(backend, async (info, signal) => void (await (info.kind === 'write' ? writeQuota : readQuota).acquire(signal)));
  const flusher = new Flusher({ journal, backend: pacedBackend, writeQuota, readQuota, logger: log.logger, intervalMs: 500, unsureDelayMs: 1000, clock, random: () => 0 });
  cleanups.push(() => closeFlusherParts({ flusher, journal, log, dir }));
  const startedAt = clock.now();
  for (let i = 0; ; i++) {
    await journal.add('Events', [eventRow(`early${i}`)]);
    await flusher.flushOnce({ wait: false });
    if (writeQuota.tokensLeft() === 0 && (pace === 'burst' || clock.now() - startedAt > QUOTA_WINDOW_MS)) break;
    if (pace === 'steady') await clock.advance(1000);
  }
  assert.equal(journal.backlogRows(), 0, 'every early event sent');
  return { clock, backend, journal, flusher, writeQuota };
}

/** Drains until `deadline` ms from now, moving the fake clock along; the rows it left. */
async function drainFor(clock: FakeClock, flusher: Flusher, ms: number): Promise<number> {
  let left: number | undefined;
  const drained = flusher.drain(clock.now() + ms).then((n) => (left = n));
  for (let t = 0; t <= ms && left === undefined; t += 100) await clock.advance(100);
  await drained;
  return left!;
}

it('a drain whose write bucket is empty waits for the token that comes back before its deadline, and sends the rows waiting', async () => {
  const { clock, backend, journal, flusher, writeQuota } = await busyKeeper(10, 'steady');
  const sentBefore = backend.ids('Events').length;
  await journal.add('Events', [eventRow('late1'), eventRow('late2')]);
  assert.equal(writeQuota.tokensLeft(), 0, 'every token of the minute spent');
  const freeIn = writeQuota.msUntilFree();
  assert.ok(freeIn > 0 && freeIn < 5000, `a grant leaves the window within the drain (${freeIn} ms)`);

  const left = await drainFor(clock, flusher, 5000);

  assert.equal(left, 0, 'nothing left in the journal');
  assert.deepEqual(backend.ids('Events').slice(sentBefore), ['late1', 'late2']);
});

it('a drain whose next token comes after its deadline leaves the rows in the journal, and ends without waiting it out', async () => {
  const { clock, backend, journal, flusher, writeQuota } = await busyKeeper(3, 'burst');
  const sentBefore = backend.ids('Events').length;
  await journal.add('Events', [eventRow('late1')]);
  assert.ok(writeQuota.msUntilFree() > 5000, 'no token back before the deadline');

  const startedAt = clock.now();
  const left = await drainFor(clock, flusher, 5000);

  assert.equal(left, 1, 'the row stays journaled for the next start');
  assert.equal(backend.ids('Events').length, sentBefore, 'nothing sent over the quota');
  assert.ok(clock.now() - startedAt < QUOTA_WINDOW_MS, 'the drain did not wait for the token');
});
