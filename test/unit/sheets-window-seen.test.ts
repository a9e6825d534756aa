// What a keeper keeps of the shared quota window from Redis's answers (REDIS_URL), for its share
// while Redis is away: every grant dated at the latest it can have been made, and an answer that
// came late never replacing a newer one.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HELD_STEP_MS } from '../../src/sheets/keeper/shared-quota-scripts.js';
import { WindowSeen } from '../../src/sheets/keeper/window-seen.js';

describe('the shared window as last seen', () => {
  it("dates each grant at the latest it can have been made; a late answer does not replace a newer one; a malformed one is ignored", () => {
    const seen = new WindowSeen();
    assert.equal(seen.known, false);
    assert.deepEqual(seen.times(), []);
    // Two grants aged under a second, none aged 1 s, one aged 2 s, at Redis's time 5000.
    seen.record(5000, [2, 0, 1], 100_000);
    assert.equal(seen.known, true);
    assert.deepEqual(seen.times(), [100_000, 100_000, 100_000 - 2 * HELD_STEP_MS]);
    seen.record(4000, [9], 100_500);
    assert.deepEqual(seen.times(), [100_000, 100_000, 100_000 - 2 * HELD_STEP_MS], 'older in Redis: ignored');
    seen.record(6000, [1], 101_000);
    assert.deepEqual(seen.times(), [101_000]);
    seen.record(undefined, undefined, 102_000);
    assert.deepEqual(seen.times(), [101_000], 'an answer without it (an unknown keeper) changes nothing');
  });
});
