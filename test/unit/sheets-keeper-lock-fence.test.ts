import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { JournalFile } from '../../src/sheets/keeper/journal-file.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { KeeperLockTakenError, LockFence } from '../../src/sheets/keeper/lock-fence.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';

const HEADER = ['event_id', 'player', 'kind', 'detail', 'at'];
const row = (id: string) => [id, 'P001', 'goal', '', '2024-03-02'];

/** Two backends of one sheet: each keeper's calls are counted apart, its rows land in the same tab. */
function oneSheet(): { a: FakeBackend; b: FakeBackend; ids: () => string[] } {
  const a = new FakeBackend({ Events: [HEADER] });
  const b = new FakeBackend();
  b.tabs.set('Events', a.tabs.get('Events') as string[][]);
  return { a, b, ids: () => (a.tabs.get('Events') as string[][]).slice(1).map((r) => r[0] as string) };
}

describe('a keeper whose lock another keeper took', () => {
  let dir: string;
  let log: CapturedLogger;
  const keepers: Keeper[] = [];
  /** The quota's pacing timers are unref'd: this keeps the test's loop alive while a flush waits for one. */
  let alive: NodeJS.Timeout;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-lock-fence-'));
    log = await captureLogger();
    alive = setInterval(() => undefined, 1000);
  });
  afterEach(async () => {
    clearInterval(alive);
    for (const k of keepers.splice(0)) await k.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(backend: FakeBackend, onLockTaken?: (taken: KeeperLockTakenError) => void): Promise<Keeper> {
    const k = await Keeper.start({
      // An unsure append is read back at the next pass (the daemon waits SHEETS_UNSURE_DELAY).
      unsureDelayMs: 0,
      settings: testKeeperSettings(dir),
      logger: log.logger,
      socketPath: undefined,
      openBackend: async (pace) => paced(backend, pace),
      lockWaitMs: 500,
      ...(onLockTaken ? { onLockTaken } : {}),
    });
    keepers.push(k);
    return k;
  }

  it('sends no row and acknowledges no append once it sees the lock taken; the holder sends what it acknowledged, once', async () => {
    const sheet = oneSheet();
    const taken: KeeperLockTakenError[] = [];
    const a = await start(sheet.a, (t) => taken.push(t));
    await a.append('Events', [row('ev-1')]);
    await a.flush();
    assert.deepEqual(sheet.ids(), ['ev-1']);
    // Acknowledged, not yet sent.
    await a.append('Events', [row('ev-2')]);
    // Something removes the lock while A runs, and a second corral's keeper starts on the data dir.
    unlinkSync(join(dir, 'keeper.lock'));
    const b = await start(sheet.b);
    const appendsBefore = sheet.a.count('append');

    // A's next pass asks the lock before its send record: it finds B's line and sends nothing.
    await a.flush();
    assert.equal(sheet.a.count('append'), appendsBefore, 'no append to Google from the fenced keeper');
    assert.equal(taken.length, 1, 'told once');
    assert.equal(taken[0]?.code, 'CORRAL_ERR_KEEPER_UNAVAILABLE');
    // Its appends are refused as unavailable (the app's 503), not acknowledged into a file it no longer owns.
    await assert.rejects(a.append('Events', [row('ev-3')]), (err: Error & { code?: string }) => err instanceof KeeperLockTakenError && err.code === 'CORRAL_ERR_KEEPER_UNAVAILABLE');
    await a.flush();
    assert.equal(sheet.a.count('append'), appendsBefore);
    assert.equal(taken.length, 1);

    // The holder opened the journal with every row A acknowledged, and sends each once.
    await b.flush();
    assert.deepEqual(sheet.ids(), ['ev-1', 'ev-2']);
    await b.flush();
    assert.deepEqual(sheet.ids(), ['ev-1', 'ev-2']);
    // Said as the fence, not as a failed write of the journal.
    assert.deepEqual(
      log.lines().filter((l) => l.level === 'error' || l.level === 'warn').map((l) => l.event),
      ['keeper.lock_taken'],
    );
    const said = log.lines().filter((l) => l.event === 'keeper.lock_taken');
    assert.equal(said.length, 1);
    assert.equal(said[0]?.holder_pid, process.pid);
    assert.equal(said[0]?.code, 'CORRAL_ERR_KEEPER_FILES_REMOVED');
    // Leaving writes nothing back over the holder's journal, nor removes its lock.
    await a.leave();
    await b.append('Events', [row('ev-4')]);
    await b.flush();
    assert.deepEqual(sheet.ids(), ['ev-1', 'ev-2', 'ev-4']);
  });

  it('lets the append in flight finish, then starts none', async () => {
    const sheet = oneSheet();
    const a = await start(sheet.a, () => undefined);
    await a.append('Events', [row('ev-1')]);
    sheet.a.hold();
    const inFlight = a.flush();
    // The send record is written and the call made: it waits at "Google".
    while (sheet.a.count('append') === 0) await new Promise((r) => setImmediate(r));
    await a.append('Events', [row('ev-2')]);
    unlinkSync(join(dir, 'keeper.lock'));
    const b = await start(sheet.b);
    // The next write of A's journal asks the lock: refused, and the flusher is fenced.
    await assert.rejects(a.append('Events', [row('ev-3')]), KeeperLockTakenError);
    const leaving = a.leave();
    sheet.a.release();
    await inFlight;
    await leaving;
    assert.equal(sheet.a.count('append'), 1, 'the call in flight finished; ev-2 was not sent by A');
    assert.deepEqual(sheet.ids(), ['ev-1']);
    // The holder opened the file after A's send record: it reads ev-1 back instead of sending it
    // again, and sends ev-2, which A acknowledged and did not send.
    await b.flush();
    assert.deepEqual(sheet.ids(), ['ev-1', 'ev-2']);
    assert.deepEqual(
      sheet.b.calls.map((c) => [c.op, c.rows]),
      [
        ['get', undefined],
        ['append', 1],
      ],
      'ev-1 read back, ev-2 alone sent',
    );
  });

  it('a fence found is final and said once, whoever finds it', async () => {
    let other: { holderPid: number | undefined } | undefined;
    const fence = new LockFence({ path: '/data/keeper.lock', heldByAnother: async () => other }, log.logger);
    const told: number[] = [];
    fence.onTaken((t) => told.push(t.holderPid ?? -1));
    await fence.check();
    other = { holderPid: 77 };
    await assert.rejects(fence.check(), KeeperLockTakenError);
    fence.fence(78);
    other = undefined;
    await assert.rejects(fence.check(), (err: KeeperLockTakenError) => err.holderPid === 77);
    assert.deepEqual(told, [77]);
    assert.equal(log.lines().filter((l) => l.event === 'keeper.lock_taken').length, 1);
  });
});

describe("the journal file's guard", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-journal-guard-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('asks before and after each group: a group that became durable after the lock was taken is not acknowledged, and nothing is written after', async () => {
    const { file } = await JournalFile.open(join(dir, 'sheets.journal'));
    const answers = [true, true, true, false];
    let asked = 0;
    const refusal = new KeeperLockTakenError(join(dir, 'keeper.lock'), 4242);
    file.guardWritesWith(async () => {
      asked++;
      if (answers.shift() === false) throw refusal;
    });
    await file.append([{ k: 'add', id: 'g1' }]);
    assert.equal(asked, 2, 'before and after the write');
    // The lock is taken while the second group is written: it is durable, but not acknowledged.
    let synced = false;
    // Refused as written: the holder may have read it (the client must not be told nothing was saved).
    await assert.rejects(file.append([{ k: 'add', id: 'g2' }], () => (synced = true)), (err) => err instanceof KeeperLockTakenError && err.written && err.holderPid === 4242);
    assert.equal(synced, false, 'not made durable in memory');
    const bytes = file.bytes();
    await assert.rejects(file.append([{ k: 'add', id: 'g3' }]), (err) => err === refusal && !refusal.written);
    await assert.rejects(file.rewrite(() => []), (err) => err === refusal);
    assert.equal(asked, 4, 'refused unasked once refused');
    assert.equal(file.writesRefusedBy(), refusal);
    assert.equal(file.bytes(), bytes);
    await file.close();
  });
});
