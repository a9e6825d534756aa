import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adoptPredecessor, judgeInherited } from '../../src/sheets/keeper/inherited-grants.js';
import { takeAlone } from '../../src/sheets/keeper/own-share.js';
import { newKindState, type KindState } from '../../src/sheets/keeper/quota-kind-state.js';
import { FakeClock } from '../fixtures/fake-clock.js';

describe("a keeper's predecessor's grants and the shared window (inherited-grants.ts)", () => {
  const members = () => {
    let n = 0;
    return () => `k:${++n}`;
  };
  const unwritten = (st: KindState) => st.recent.filter((g) => !g.written).map((g) => g.at);

  it("counts the window its predecessor last read, the other hosts' calls, against its share while Redis is away", () => {
    const clock = new FakeClock();
    const now = clock.now();
    // Limit 10 over 2 keepers; the predecessor read 10 calls of the other host's, 1 s before.
    const st = newKindState('read', 'p', 10, []);
    adoptPredecessor(st, { reading: { since: 1, redisAt: 2, at: now - 1000, counts: [10] }, unshared: [] }, members());
    assert.equal(st.seen.known, true);
    assert.equal(st.seen.answered, false, 'not an answer to this keeper: a later loss is said as a first word, not as a loss');
    const context = { clock, link: { failingForMs: 0 }, keepers: () => 2, nextMember: members() };
    assert.equal(takeAlone(st, context), undefined, 'the share (5) is spent by the calls read');
    // Without the reading (an older ledger), the share is spent alone, as before.
    const blind = newKindState('read', 'p', 10, []);
    adoptPredecessor(blind, undefined, members());
    assert.ok(takeAlone(blind, context));
  });

  it('writes back its grants the window lacked (made alone) whatever the window; its others only when the window is not the one last read', () => {
    const clock = new FakeClock();
    const now = clock.now();
    const made = [now - 30_000, now - 20_000, now - 10_000];
    const st = newKindState('read', 'p', 10, made);
    const next = members();
    adoptPredecessor(st, { reading: { since: 100, redisAt: 500, at: now - 5000, counts: [2] }, unshared: [now - 10_000] }, next);
    assert.deepEqual(unwritten(st), [now - 10_000], 'the one made alone: to be written back, counted once');
    assert.deepEqual(st.inherited, made.slice(0, 2));
    assert.equal(st.inheritedOpen, true, 'said to Redis as held until judged');
    // The same state: the window holds them.
    judgeInherited(st, 900, 100, now, next);
    assert.equal(st.inheritedOpen, false);
    assert.deepEqual(st.inherited, made.slice(0, 2));
    assert.deepEqual(unwritten(st), [now - 10_000]);
    // Redis lost its data: its state began again, after them or not.
    judgeInherited(st, 950, 940, now + 10, next);
    assert.deepEqual(st.inherited, []);
    assert.deepEqual(unwritten(st), made, 'every inherited grant to be written back, under new members');
    assert.equal(new Set(st.recent.map((g) => g.member)).size, 3);
  });

  it('without the state last read (an older ledger): writes back the grants made before the window began again, which Redis cannot hold', () => {
    const clock = new FakeClock();
    const now = clock.now();
    const st = newKindState('read', 'p', 10, [now - 20_000, now - 1000]);
    adoptPredecessor(st, undefined, members());
    // The window's state began 5 s ago (Redis's 10_000 at its 15_000, received now).
    judgeInherited(st, 15_000, 10_000, now, members());
    assert.deepEqual(unwritten(st), [now - 20_000]);
    assert.deepEqual(st.inherited, [now - 1000], 'may be in the window: counted, not written back');
  });
});
