// The keeper's data dir lock when several keepers start at once. Each contender stands in for a
// separate process (its own pid, all of them alive), so the race runs in one test process.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { acquireKeeperLock, type KeeperLock, type LockSelf } from '../../src/sheets/keeper/lock.js';

const DEAD_PID = 999_999;
/** The real start time comes from reading /proc: async, and its latency varies. */
const jitter = () => new Promise((r) => setTimeout(r, Math.floor(Math.random() * 4)));
const contender = (pid: number): LockSelf => ({
  pid,
  alive: (p) => p !== DEAD_PID,
  startTime: async () => {
    await jitter();
    return undefined;
  },
});

async function race(dir: string, n: number, firstPid: number): Promise<KeeperLock[]> {
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => acquireKeeperLock(dir, 0, undefined, contender(firstPid + i))));
  for (const r of results) {
    if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'CORRAL_ERR_JOURNAL');
  }
  return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}

describe('keeper lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('exactly one of several keepers starting at once wins, round after round', async () => {
    for (let round = 0; round < 30; round++) {
      const winners = await race(dir, 6, 1000 + round * 10);
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} keepers hold the lock`);
      await winners[0]?.release();
    }
    assert.deepEqual(readdirSync(dir), [], 'no lock or temporary file left behind');
  });

  it("exactly one takes over a dead keeper's lock", async () => {
    for (let round = 0; round < 30; round++) {
      writeFileSync(join(dir, 'keeper.lock'), `${DEAD_PID} \n`);
      const winners = await race(dir, 6, 2000 + round * 10);
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} keepers hold the lock`);
      await winners[0]?.release();
    }
  });

  it('a live owner is waited for, then its released lock is taken', async () => {
    const first = await acquireKeeperLock(dir, 0, undefined, contender(3001));
    const waited: number[] = [];
    const second = acquireKeeperLock(dir, 5000, (pid) => waited.push(pid), contender(3002));
    for (const deadline = Date.now() + 5000; waited.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
    await first.release();
    const lock = await second;
    assert.deepEqual(waited, [3001]);
    await lock.release();
  });

  // What a power loss may leave of a lock whose link reached the disk before its content: nothing,
  // NUL bytes, or the start of the line. Every pid here is alive (pid 1 is, on any host): only the
  // form of the line tells that no live keeper wrote it.
  for (const [what, content] of [
    ['empty', ''],
    ['NUL bytes', '\0'.repeat(24)],
    ['cut short', '1'],
    ['cut short after the pid', '4242 1'],
  ] as const) {
    it(`a lock file found ${what} at start is taken over at once, not waited for`, async () => {
      writeFileSync(join(dir, 'keeper.lock'), content);
      const waited: number[] = [];
      const started = Date.now();
      const lock = await acquireKeeperLock(dir, 2000, (pid) => waited.push(pid), contender(5001));
      assert.deepEqual(waited, [], 'no owner waited for');
      assert.ok(Date.now() - started < 1000, `taken in ${Date.now() - started} ms`);
      assert.match(readFileSync(join(dir, 'keeper.lock'), 'utf8'), /^5001 - [0-9a-f]{16}\n$/);
      await lock.release();
      assert.deepEqual(readdirSync(dir), []);
    });
  }

  it('a whole lock line of a live owner is still waited for, then refused', async () => {
    writeFileSync(join(dir, 'keeper.lock'), '4242 - 0123456789abcdef\n');
    const waited: number[] = [];
    await assert.rejects(acquireKeeperLock(dir, 300, (pid) => waited.push(pid), contender(5002)), { code: 'CORRAL_ERR_JOURNAL' });
    assert.deepEqual(waited, [4242]);
  });
});
