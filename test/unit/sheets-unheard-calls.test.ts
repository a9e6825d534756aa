// The calls the other hosts may have made after a keeper last heard the shared window and before
// Redis went away (REDIS_URL): counted in its share alone at the others' share's pace, or the
// window's recent pace when faster, never more than the window had room for.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unheardCalls } from '../../src/sheets/keeper/unheard-calls.js';
import { WindowSeen } from '../../src/sheets/keeper/window-seen.js';

/** A reading received at `at` holding `counts[i]` grants aged i seconds. */
function reading(counts: number[], at = 100_000): WindowSeen {
  const seen = new WindowSeen();
  seen.record(50_000, counts, at);
  return seen;
}

describe("the others' calls a keeper did not hear of", () => {
  it('none without a reading, or when Redis went away at the reading', () => {
    assert.deepEqual(unheardCalls({ seen: new WindowSeen(), perMinute: 60, keepers: 3, ownRecent: 0, until: 200_000 }), []);
    assert.deepEqual(unheardCalls({ seen: reading([1]), perMinute: 60, keepers: 3, ownRecent: 0, until: 100_000 }), []);
  });

  it("at the others' share's pace (the limit less this keeper's share, a minute), dated when Redis went away", () => {
    // 60 a minute over 3 keepers: the two others 40 a minute; 6 s unheard: 4.
    assert.deepEqual(unheardCalls({ seen: reading([]), perMinute: 60, keepers: 3, ownRecent: 0, until: 106_000 }), [106_000, 106_000, 106_000, 106_000]);
    assert.equal(unheardCalls({ seen: reading([]), perMinute: 60, keepers: 1, ownRecent: 0, until: 106_000 }).length, 0, 'alone: no others');
  });

  it("at the window's pace over the 10 s before the reading when faster, this keeper's own calls left out", () => {
    // 30 grants in the last 10 s, 10 of them this keeper's: 2 a second; 3 s unheard: 6.
    const seen = reading([10, 10, 10]);
    assert.equal(unheardCalls({ seen, perMinute: 120, keepers: 2, ownRecent: 10, until: 103_000 }).length, 6);
    // Grants older than 10 s are no pace: 60 a minute for the other keeper, 3 in 3 s.
    assert.equal(unheardCalls({ seen: reading([...new Array<number>(10).fill(0), 30]), perMinute: 120, keepers: 2, ownRecent: 0, until: 103_000 }).length, 3);
  });

  it('no more than the window had room for, its grants that left it by then freed', () => {
    // The window full at the reading (60 of 60), 50 of them in its last second: 20 s unheard at
    // that pace would be 100, but only the 10 grants of 50 s before (gone by then) made room.
    const counts = new Array<number>(51).fill(0);
    counts[0] = 50;
    counts[50] = 10;
    assert.equal(unheardCalls({ seen: reading(counts), perMinute: 60, keepers: 3, ownRecent: 0, until: 120_000 }).length, 10);
  });
});
