// A range the cache budget pushed out and filled again with the same bytes keeps its copy's name
// and notifies no worker (evicted-copies.ts): two ranges each over half the budget push each other
// out at every refresh, and each refill of a tab that had not changed made every worker download
// and parse it again.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { EvictedCopies } from '../../src/sheets/keeper/evicted-copies.js';
import { ReadTier } from '../../src/sheets/keeper/read-tier.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { FakeBackend } from '../fixtures/fake-sheets-backend.js';

const rows = (prefix: string, filler: string) => Array.from({ length: 200 }, (_, i) => [`${prefix}${i}`, filler.repeat(50)]);

it('an evicted range filled again with the same bytes keeps its copy number and is no change; with other bytes it is one, under a new number', async () => {
  const clock = new FakeClock();
  const log = await captureLogger();
  const backend = new FakeBackend({});
  backend.tabs.set('Players', rows('p', 'x'));
  backend.tabs.set('Events', rows('e', 'y'));
  const changes: string[] = [];
  // Each tab weighs more than half of 16 KiB: the two cannot be held together.
  const tier = new ReadTier({ backend, logger: log.logger, ttlMs: 30_000, maxStaleMs: 600_000, maxBytes: 16_384, clock, onChange: (r) => changes.push(r) });
  try {
    const first = await tier.get('Players');
    const named = tier.copyNumbers.of(first.value.jsonBytes);
    // The export of the events, then the header row: the two big ones fill the budget, and the
    // next state written pushes the least recently used out, the roster.
    await tier.get('Events');
    await tier.get('Events!1:1');
    const again = await tier.get('Players');
    assert.equal(again.via, 'miss', 'the roster was pushed out: filled again from upstream');
    assert.notEqual(again.value.jsonBytes, first.value.jsonBytes, 'new bytes, equal to the old');
    assert.equal(tier.copyNumbers.of(again.value.jsonBytes), named, 'the copy keeps its name: a worker holding it is answered "unchanged"');
    assert.deepEqual(changes, [], 'no worker is told of a change that did not happen');

    // The roster changed while it was out of the cache: a change, under a new name.
    await tier.get('Events');
    await tier.get('Events!1:1');
    backend.tabs.set('Players', rows('q', 'x'));
    const changed = await tier.get('Players');
    assert.equal(changed.via, 'miss');
    assert.notEqual(tier.copyNumbers.of(changed.value.jsonBytes), named);
    assert.deepEqual(changes, ['Players']);
  } finally {
    tier.close();
    log.close();
  }
});

it('remembers a digest, not the bytes, and forgets a range once it is filled again', () => {
  const evicted = new EvictedCopies();
  evicted.remember('Players', Buffer.from('[["a"]]'), 7);
  assert.equal(evicted.take('Players', Buffer.from('[["b"]]')), undefined, 'other bytes of the same length');
  assert.equal(evicted.take('Players', Buffer.from('[["a"]]')), undefined, 'taken once: the range is filled now');
  evicted.remember('Players', Buffer.from('[["a"]]'), 7);
  assert.equal(evicted.take('Players', Buffer.from('[["a"]]')), 7);
  assert.equal(evicted.take('Events', Buffer.from('[["a"]]')), undefined, 'another range');
});
