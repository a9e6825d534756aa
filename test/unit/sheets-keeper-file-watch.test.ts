// The keeper's check of its own files (file-watch.ts): what it says, and how often.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { acquireKeeperLock } from '../../src/sheets/keeper/lock.js';
import { watchKeeperFiles } from '../../src/sheets/keeper/file-watch.js';
import { LockFence } from '../../src/sheets/keeper/lock-fence.js';
import type { Journal } from '../../src/sheets/keeper/journal.js';
import type { KeeperLock, LockCheck } from '../../src/sheets/keeper/lock.js';
import type { KeeperServer } from '../../src/sheets/keeper/server.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';

/** Resolves once `n` checks ran (each asks the journal first). */
function counting() {
  let checks = 0;
  const waiters: Array<[number, () => void]> = [];
  return {
    tick() {
      checks++;
      for (const [n, resolve] of waiters.splice(0)) if (checks >= n) resolve();
      else waiters.push([n, resolve]);
    },
    after: (n: number) => new Promise<void>((resolve) => (checks >= n ? resolve() : waiters.push([n, resolve]))),
  };
}

describe('keeper file watch', () => {
  let log: CapturedLogger;
  /** The watch's timer is unref'd (it must not hold a keeper open): this holds the test's loop. */
  let alive: NodeJS.Timeout;
  beforeEach(async () => {
    log = await captureLogger();
    alive = setInterval(() => undefined, 1000);
  });
  afterEach(() => {
    clearInterval(alive);
    log.close();
  });

  it('says a socket bound again each time, a failing check once per run of failures, and its end', async () => {
    const c = counting();
    const socketAnswers: Array<'rebound' | 'foreign' | undefined | Error> = ['rebound', undefined, new Error('EACCES'), new Error('EACCES'), 'foreign', 'foreign', undefined];
    const journal = { verifyFile: async () => c.tick() } as unknown as Journal;
    const server = {
      relistenIfRemoved: async () => {
        const next = socketAnswers.shift();
        if (next instanceof Error) throw next;
        return next;
      },
    } as unknown as KeeperServer;
    const stop = watchKeeperFiles({ journal, server, socketPath: '/data/keeper.sock', logger: log.logger }, 10);
    await c.after(8);
    stop();
    const events = log.lines().map((l) => [l.event, l.level]);
    assert.deepEqual(events, [
      ['keeper.socket_rebound', 'error'],
      ['keeper.file_check_failed', 'warn'],
      // The check that works again finds the socket held by another file: both said, once.
      ['keeper.socket_taken', 'error'],
      ['keeper.file_check_recovered', 'info'],
    ]);
  });

  it('says a lock written again each time; a lock another keeper took fences the keeper, once, and ends the checks', async () => {
    const c = counting();
    const checks: LockCheck[] = [{ state: 'restored' }, undefined, { state: 'taken', holderPid: 77 }, { state: 'taken', holderPid: 78 }, undefined];
    const journal = { verifyFile: async () => c.tick() } as unknown as Journal;
    const lock = { path: '/data/keeper.lock', verify: async () => checks.shift(), heldByAnother: async () => undefined, release: async () => undefined } as KeeperLock;
    const fence = new LockFence(lock, log.logger);
    const fenced: Array<number | undefined> = [];
    fence.onTaken((t) => fenced.push(t.holderPid));
    const stop = watchKeeperFiles({ journal, server: undefined, socketPath: undefined, logger: log.logger, lock, fence }, 10);
    await c.after(3);
    // The checks after the fence do not run: the journal is asked no more.
    await new Promise((r) => setTimeout(r, 60));
    stop();
    assert.deepEqual(fenced, [77]);
    assert.equal(checks.length, 2, 'no check after the one that found the lock taken');
    assert.deepEqual(
      log.lines().map((l) => [l.event, l.level, l.holder_pid]),
      [
        ['keeper.lock_restored', 'error', undefined],
        ['keeper.lock_taken', 'error', 77],
      ],
    );
  });

  it("a journal check refused by the fence is no failed check", async () => {
    const c = counting();
    const lock = { path: '/data/keeper.lock', verify: async () => undefined, heldByAnother: async () => ({ holderPid: 77 }), release: async () => undefined } as KeeperLock;
    const fence = new LockFence(lock, log.logger);
    // The journal asks the lock before its check's write (journal-file.ts) and finds it taken.
    const journal = { verifyFile: async () => (c.tick(), fence.check()) } as unknown as Journal;
    const stop = watchKeeperFiles({ journal, server: undefined, socketPath: undefined, logger: log.logger, lock, fence }, 10);
    await c.after(1);
    await new Promise((r) => setTimeout(r, 60));
    stop();
    assert.deepEqual(log.lines().map((l) => l.event), ['keeper.lock_taken']);
  });

  it('says nothing of a check that fails once it was stopped (the journal closed under it)', async () => {
    const c = counting();
    let release: () => void = () => undefined;
    const journal = {
      verifyFile: () =>
        new Promise<void>((_resolve, reject) => {
          c.tick();
          release = () => reject(new Error('journal closed'));
        }),
    } as unknown as Journal;
    const stop = watchKeeperFiles({ journal, server: undefined, socketPath: undefined, logger: log.logger }, 10);
    await c.after(1);
    stop();
    release();
    // The rejection, the check's catch and finally run as microtasks before the next macrotask.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log.lines(), []);
  });

  it("a check in flight when the keeper closes does not write back the lock the close released, nor say it was removed", async () => {
    // The journal's check waits behind its writes (a slow fsync at the drain's end): the keeper's
    // close stops the watch, closes, and releases its lock meanwhile. The check then went on to
    // the lock, found it gone, wrote it again and said keeper.lock_restored (error: "removed while
    // it ran ... find what removes files there"), leaving the exited keeper's lock behind.
    const dir = mkdtempSync(join(tmpdir(), 'corral-watch-lock-'));
    try {
      const lock = await acquireKeeperLock(dir, 1000);
      const c = counting();
      let release: () => void = () => undefined;
      const journal = {
        verifyFile: () =>
          new Promise<void>((resolve) => {
            c.tick();
            release = resolve;
          }),
      } as unknown as Journal;
      const stop = watchKeeperFiles({ journal, server: undefined, socketPath: undefined, logger: log.logger, lock }, 10);
      await c.after(1);
      stop();
      await lock.release();
      release();
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(log.lines().map((l) => l.event), []);
      assert.equal(existsSync(join(dir, 'keeper.lock')), false, 'the released lock stays released');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
