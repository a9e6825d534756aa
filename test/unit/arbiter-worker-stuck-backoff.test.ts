// A serving worker the master kills as stuck (silent past CORRAL_TIMEOUT) counts towards the
// crash-loop backoff, as one that crashes does: an app that blocks its loop soon after every ready
// (a warm-up in a timer, a synchronous call at the first request) had its workers forked again at
// every kill, one every CORRAL_TIMEOUT for good, each a stuck worker's 100 % CPU and stack.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ready, setup, type FakeChild } from '../helpers/arbiter-harness.js';

test('a worker that blocks its loop soon after each ready is killed as stuck and counted as a quick crash: the forks back off', async () => {
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_TIMEOUT: '2' });
  try {
    t.bootAll();
    const loops: number[] = [];
    let waited = 0;
    for (let hang = 1; hang <= 8; hang++) {
      const w = t.children.filter((c) => !c.exited).at(-1)!;
      // Ready, it beats for half a second, then its loop blocks.
      t.run(500, [w]);
      for (let i = 0; i < 40 && w.kills.length === 0; i++) t.run(250);
      assert.deepEqual(w.kills, ['SIGKILL'], `hang ${hang}: killed as stuck`);
      w.exit(null, 'SIGKILL');
      t.arbiter.tick();
      const line = t.log.lines().filter((l) => l.event === 'worker.exit').at(-1);
      assert.equal(line?.reason, 'timeout');
      assert.equal(typeof line?.respawn_in_ms, 'number', JSON.stringify(line));
      assert.match(String(line?.msg), /^worker \d+ exited \(timeout\): it stopped beating 0\.5 s after its ready/);
      loops.push(Number(line?.crash_loop));
      // Its replacement, forked at the kill or once the backoff allows, becomes ready.
      const alive = (c: FakeChild) => !c.exited && c !== w;
      waited = t.children.some(alive) ? 0 : t.untilForked(25);
      ready(t.children.filter(alive).at(-1)!);
      t.arbiter.tick();
    }
    assert.deepEqual(loops, [1, 2, 3, 4, 5, 6, 7, 8], 'each kill a step of the crash loop');
    // The eighth step's wait: half fixed, of a 30 s ceiling (250 ms doubling).
    assert.ok(waited >= 15_000, `the last replacement waited for the backoff: ${waited} ms`);
  } finally {
    t.log.close();
  }
});

test('a worker killed as stuck after a long life eases the crash loop: its replacement is forked at once', async () => {
  const t = await setup({ CORRAL_WORKERS: '1', CORRAL_TIMEOUT: '2' });
  try {
    t.bootAll();
    const w = t.children[0]!;
    t.run(60_000, [w]);
    for (let i = 0; i < 40 && w.kills.length === 0; i++) t.run(250);
    assert.deepEqual(w.kills, ['SIGKILL']);
    t.arbiter.tick();
    assert.equal(t.children.length, 2, 'replaced at once');
    w.exit(null, 'SIGKILL');
    t.arbiter.tick();
    const line = t.log.lines().filter((l) => l.event === 'worker.exit').at(-1);
    assert.deepEqual([line?.reason, line?.crash_loop, line?.respawn_in_ms], ['timeout', 0, 0]);
  } finally {
    t.log.close();
  }
});
