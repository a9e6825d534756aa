// A serving keeper the master kills as stuck (silent past CORRAL_TIMEOUT) is restarted with the
// crash backoff, as one that crashed is: one that hangs soon after every start (a Sheets call that
// holds its loop, a data dir on a dead mount) was started again at the next tick, for good.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { beatAll, setup } from '../helpers/arbiter-harness.js';

test('a keeper that hangs soon after each ready and is killed as stuck backs off like one that crashes, and is said so', async () => {
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_TIMEOUT: '5' }, true);
  try {
    t.bootWithKeeper();
    const workers = t.children.filter((c) => c.identity.role === 'worker');
    const waits: number[] = [];
    for (let hang = 1; hang <= 4; hang++) {
      const keeper = t.keepers().at(-1)!;
      // Ready, it beats for a second and then falls silent: the workers beat on.
      t.run(1000, [...workers, keeper]);
      for (let i = 0; i < 40 && keeper.kills.length === 0; i++) t.run(250, workers);
      assert.deepEqual(keeper.kills, ['SIGKILL'], `hang ${hang}: killed as stuck`);
      keeper.exit(null, 'SIGKILL');
      t.arbiter.tick();
      const line = t.log.lines().filter((l) => l.event === 'keeper.exit').at(-1);
      assert.deepEqual([line?.level, line?.reason, line?.code, line?.crash_loop], ['error', 'timeout', 'CORRAL_ERR_WORKER_TIMEOUT', hang], `hang ${hang}: ${JSON.stringify(line)}`);
      assert.match(String(line?.msg), /^keeper 0 \(pid \d+\) was killed as stuck, silent past CORRAL_TIMEOUT from [\d.]+ s after it was ready \(keeper\.timeout\); restarting it in \d+ ms$/);
      // The admin API says when it comes back, as the log line did.
      const wait = t.arbiter.view().keeperRespawnWait();
      assert.deepEqual([wait?.inMs, wait?.crashLoop], [line?.respawn_in_ms, hang]);
      const waited = t.untilForked(25);
      assert.ok(waited >= 125 * 2 ** (hang - 1), `hang ${hang}: the next keeper waited ${waited} ms`);
      waits.push(waited);
      t.keepers().at(-1)!.say({ type: 'ready' });
      t.arbiter.tick();
    }
    assert.ok(waits.at(-1)! > waits[0]!, `the backoff grew: ${JSON.stringify(waits)}`);
  } finally {
    t.log.close();
  }
});

test('a keeper killed as stuck after a long healthy life is restarted after the first step, not at once', async () => {
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_TIMEOUT: '5' }, true);
  try {
    const keeper = t.bootWithKeeper();
    const workers = t.children.filter((c) => c.identity.role === 'worker');
    for (let i = 0; i < 80; i++) {
      t.run(250);
      beatAll(t.children.filter((c) => !c.exited));
    }
    for (let i = 0; i < 40 && keeper.kills.length === 0; i++) t.run(250, workers);
    assert.deepEqual(keeper.kills, ['SIGKILL']);
    keeper.exit(null, 'SIGKILL');
    t.arbiter.tick();
    const line = t.log.lines().filter((l) => l.event === 'keeper.exit').at(-1);
    assert.deepEqual([line?.reason, line?.crash_loop], ['timeout', 0]);
    assert.equal(t.keepers().length, 1, 'not restarted in the tick that reaped it');
    const waited = t.untilForked(25);
    assert.ok(waited >= 125 && waited <= 250 + 25, `the first step's wait: ${waited} ms`);
  } finally {
    t.log.close();
  }
});
