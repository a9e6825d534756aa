// The fork budget of a tick (fork-pace.ts): forks until it is spent, one at least; a batch cut
// short goes on at the next tick as the same batch, unless the generation changed or failures
// made the forks probes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FORK_BUDGET_MS, ForkPace } from '../../src/master/fork-pace.js';

function paced(forkMs: number) {
  let clock = 0;
  let batches = 0;
  const pace = new ForkPace(() => clock, FORK_BUDGET_MS);
  const run = (n: number, generation = 1, failing = false) =>
    pace.run(
      n,
      generation,
      failing,
      () => batches++,
      () => (clock += forkMs),
    );
  return { run, batches: () => batches };
}

test('forks until the budget is spent, at least one, and all of them when forks are quick', () => {
  const slow = paced(30);
  assert.equal(slow.run(16), 4, '30 ms forks: 4 in 100 ms');
  const crawling = paced(5000);
  assert.equal(crawling.run(16), 1, 'one fork at least, however long it takes');
  const quick = paced(0.5);
  assert.equal(quick.run(128), 128);
  assert.equal(paced(30).run(0), 0);
});

test('a batch the budget cut short continues at the next tick as the same batch', () => {
  const p = paced(30);
  assert.equal(p.run(16), 4);
  assert.equal(p.run(12), 4);
  assert.equal(p.run(8), 4);
  assert.equal(p.run(4), 4);
  assert.equal(p.batches(), 1, 'one batch for the sixteen');
  assert.equal(p.run(3), 3, 'a later fork (a crash replaced) ...');
  assert.equal(p.batches(), 2, '... is a batch of its own');
});

test('a new generation, or forks after failures (probes), begin a batch of their own', () => {
  const p = paced(30);
  p.run(16, 1);
  p.run(12, 2);
  assert.equal(p.batches(), 2, 'a reload began while the start was still forking');
  p.run(8, 2, true);
  assert.equal(p.batches(), 3, 'a probe after a failed boot');
  p.run(0, 2);
  p.run(8, 2);
  assert.equal(p.batches(), 4, 'nothing due ends the batch');
});
