// Failed logins per name counted by all the sheet's hosts: the keeper behind its unix socket, with
// a real redis-server (REDIS_URL) and a worker client in front (POST /login). A failure is counted
// and answered with the count and its window's ms left, a correct code only reads it, the window
// starts at the first failure and is not moved by the next ones; Redis killed, frozen or unset,
// the worker gets no count (and decides by its host's own).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { nameHash, SHARED_WAIT_MS } from '../../src/app/login-limit.js';
import { destinationOf } from '../../src/sheets/destination.js';
import { Keeper } from '../../src/sheets/keeper/keeper.js';
import { paced } from '../../src/sheets/keeper/pacing.js';
import { LOGIN_COUNT_WAIT_MS } from '../../src/sheets/keeper/protocol.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import { keeperSocketPath } from '../../src/sheets/keeper/socket-path.js';
import type { SheetsClient } from '../../src/sheets/types.js';
import { createWorkerSheetsClient } from '../../src/sheets/worker-client.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';
import { testKeeperSettings } from '../fixtures/keeper-settings.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

const WINDOW_MS = 900_000;
/** The worker's wait for the shared count where the test is about that wait (Redis frozen): shorter than the keeper's own. */
const WAIT_MS = 100;
/** Elsewhere: a bound alone, which a loaded host must not reach (a first count took over 250 ms). */
const ANSWER_WAIT_MS = 5000;

describe("the keeper's failed-login count shared through Redis", { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let dir: string;
  let log: CapturedLogger;
  let keeper: Keeper | undefined;
  let worker: SheetsClient | undefined;
  const key = (name: string) => `${sharedPrefix(new FakeBackend().source)}:login:${nameHash(name)}`;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-logins-'));
    log = await captureLogger();
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await keeper?.close();
    keeper = undefined;
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The keeper (with REDIS_URL unless `redisUrl` is null) and one worker's client. */
  async function start(redisUrl: string | null = server().url): Promise<(name: string, failed: boolean, windowMs?: number, waitMs?: number) => ReturnType<NonNullable<SheetsClient['settleLogin']>>> {
    const settings = testKeeperSettings(dir, { REDIS_URL: redisUrl ?? undefined });
    keeper = await Keeper.start({ settings, logger: log.logger, socketPath: keeperSocketPath(dir), openBackend: async (pace) => paced(Object.assign(new FakeBackend(), { destination: destinationOf({ SHEET_ID: 'fake' }) }), pace), lockWaitMs: 2000 });
    // Asked before the keeper's link reached Redis, a count waits for the connection, and a first
    // settle on a loaded host went past the wait (the waits are what the tests below measure).
    if (redisUrl !== null) await waitFor(() => log.lines().some((l) => l.event === 'redis.connected'), 10_000, "the keeper's redis.connected");
    worker = createWorkerSheetsClient({ ...settings, SHEET_ID: 'fake' }, log.logger, { watch: false, retryDelayMs: 50 });
    const settle = worker.settleLogin?.bind(worker);
    assert.ok(settle, "the worker's client asks the keeper for the shared count");
    return (name, failed, windowMs = WINDOW_MS, waitMs = ANSWER_WAIT_MS) => settle(nameHash(name), failed, windowMs, waitMs);
  }

  it('a failure is counted and answered with the count and its window; a correct code only reads it; names apart; the key holds no name', async () => {
    const settle = await start();
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) counts.push((await settle('Alice', true)).failures);
    assert.deepEqual(counts, [1, 2, 3]);
    const read = await settle('Alice', false);
    assert.equal(read.failures, 3);
    assert.ok(read.msLeft > WINDOW_MS - 5000 && read.msLeft <= WINDOW_MS, `ms left ${read.msLeft}`);
    assert.equal((await settle('  ALICE ', false)).failures, 3, 'the hash of the normalized name');
    assert.equal(server().cli('GET', key('Alice')).trim(), '3', 'a read counted nothing');
    assert.deepEqual(await settle('Bruno', false), { failures: 0, msLeft: 0 }, 'a name without failures');
    assert.equal(server().cli('EXISTS', key('Bruno')).trim(), '0', 'a read writes nothing');
    assert.equal((await settle('Bruno', true)).failures, 1);
    assert.doesNotMatch(server().cli('KEYS', '*'), /alice|bruno/i);
  });

  it("the window starts at the name's first failure: the next failures leave its end where it was, and a count after it starts again", async () => {
    const settle = await start();
    const first = await settle('Alice', true);
    const pttl = Number(server().cli('PTTL', key('Alice')).trim());
    assert.ok(pttl > WINDOW_MS - 5000 && pttl <= WINDOW_MS, `expiry set at the first failure: ${pttl} ms`);
    const startedAt = Date.now();
    // Until Redis's clock has moved on by a few ms (its PTTL is what is compared).
    while (Number(server().cli('PTTL', key('Alice')).trim()) > first.msLeft - 20) await new Promise((r) => setTimeout(r, 5));
    const second = await settle('Alice', true);
    assert.equal(second.failures, 2);
    assert.ok(second.msLeft <= first.msLeft - 20, `the second failure did not move the window's end (${first.msLeft} then ${second.msLeft} ms left, ${Date.now() - startedAt} ms apart)`);

    // Once the window ended, the next failure is the first of a new one. The window is ended by
    // hand (a real 300 ms window could end between two failures on a busy machine).
    assert.equal((await settle('Bruno', true)).failures, 1);
    assert.equal((await settle('Bruno', true)).failures, 2);
    server().cli('PEXPIRE', key('Bruno'), '1');
    while (server().cli('EXISTS', key('Bruno')).trim() !== '0') await new Promise((r) => setTimeout(r, 20));
    const again = await settle('Bruno', true, 300);
    assert.equal(again.failures, 1);
    assert.ok(again.msLeft > 0 && again.msLeft <= 300);
  });

  it('Redis killed: no count (CORRAL_ERR_REDIS), at once; counted again once Redis is back', async () => {
    const settle = await start();
    assert.equal((await settle('Alice', true)).failures, 1);
    await server().kill();
    try {
      // The keeper's link has seen the connection drop.
      await waitFor(() => log.lines().some((l) => l.event === 'redis.unavailable'), 10_000, "the keeper's redis.unavailable");
      // The worker gets the keeper's word (not shared), not its own wait running out.
      await assert.rejects(settle('Alice', true), { code: 'CORRAL_ERR_REDIS' });
      await assert.rejects(settle('Alice', false), { code: 'CORRAL_ERR_REDIS' });
      // At once: the keeper answers from the link's state, with no command to Redis and no
      // timer, so its answer is there before the event loop's next turn (a bound of 500 ms on
      // the worker's round trip said this before, which a loaded machine could miss).
      const direct = keeper!.settleLogin(nameHash('Alice'), true, WINDOW_MS);
      const first = await Promise.race([direct, new Promise<string>((r) => setImmediate(() => r('still waiting')))]);
      assert.ok(typeof first === 'object', `answered without waiting for Redis: ${first}`);
      assert.equal(first.shared, false);
    } finally {
      await server().restart();
    }
    // The keeper reconnects by itself (its backoff reaches a few seconds).
    const deadline = Date.now() + 15_000;
    let count: Awaited<ReturnType<typeof settle>> | undefined;
    while (!count && Date.now() < deadline) {
      count = await settle('Alice', true).catch(() => undefined);
      if (!count) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(count?.failures, 1, 'a new Redis: counted from its first failure');
  });

  it('Redis frozen (no answer): the keeper says so after its own short wait, not after its 1 s command timeout, and the worker\'s wait bounds it all', async () => {
    const settle = await start();
    assert.equal((await settle('Alice', true)).failures, 1);
    server().pause();
    try {
      // The keeper's answer names Redis and its bound (LOGIN_COUNT_WAIT_MS): the worker's log
      // blamed a healthy keeper ("no answer from the keeper"). With a worker waiting longer than
      // that bound, as the app's SHARED_WAIT_MS does, that answer is the one it gets.
      await assert.rejects(settle('Alice', true, WINDOW_MS, ANSWER_WAIT_MS), { code: 'CORRAL_ERR_REDIS', message: new RegExp(`did not answer within ${LOGIN_COUNT_WAIT_MS} ms`) });
      assert.ok(SHARED_WAIT_MS > LOGIN_COUNT_WAIT_MS, 'the app waits for the keeper to say it');
      // A worker waiting less than the keeper gives up on its own, naming its wait.
      const asked = Date.now();
      await assert.rejects(settle('Alice', true, WINDOW_MS, WAIT_MS), { code: 'CORRAL_ERR_KEEPER_UNAVAILABLE', message: new RegExp(`in ${WAIT_MS} ms`) });
      assert.ok(Date.now() - asked >= WAIT_MS - 10, 'gave up after its own wait');
    } finally {
      server().resume();
    }
  });

  it('Redis answering but refusing the keeper (a user that may not run scripts): no count, said as the refusal (CORRAL_ERR_REDIS_REFUSED), not as Redis away', async () => {
    server().cli('ACL', 'SETUSER', 'noscript', 'on', '>noscript-pw', '~*', '+@all', '-eval', '-evalsha', '-script');
    try {
      const settle = await start(`${server().url}?user=noscript&password=noscript-pw`);
      // The first count is refused (NOPERM); from then on the link knows what Redis refuses.
      await assert.rejects(settle('Alice', true));
      await waitFor(() => log.lines().some((l) => l.event === 'redis.misconfigured' && l.refused === 'scripts'), 10_000, 'redis.misconfigured, scripts');
      await assert.rejects(settle('Alice', true), { code: 'CORRAL_ERR_REDIS_REFUSED', message: /refuses the keeper \(scripts: see redis\.misconfigured for the fix\)/ });
    } finally {
      server().cli('ACL', 'DELUSER', 'noscript');
    }
  });

  it('without REDIS_URL the keeper has no shared count to give', async () => {
    const settle = await start(null);
    await assert.rejects(settle('Alice', true), { code: 'CORRAL_ERR_REDIS', message: /REDIS_URL is unset/ });
  });

  it('refuses a request that is no name hash (a key in Redis is made of it)', async () => {
    await start();
    const settle = worker?.settleLogin?.bind(worker);
    assert.ok(settle);
    await assert.rejects(settle('Alice', true, WINDOW_MS, ANSWER_WAIT_MS), { code: 'CORRAL_ERR_COUNTER_INVALID' });
    await assert.rejects(settle(nameHash('Alice'), true, 0, ANSWER_WAIT_MS), { code: 'CORRAL_ERR_COUNTER_INVALID' });
    // The keeper's presence and its quota window, said when it connected, are there; no login key.
    assert.deepEqual(server().cli('KEYS', '*').trim().split('\n').filter((k) => k.includes(':login')), [], 'no login key written');
  });
});
