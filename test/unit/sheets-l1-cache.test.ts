import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WireRead, WireUnchanged } from '../../src/sheets/keeper/protocol.js';
import { L1Cache } from '../../src/sheets/l1-cache.js';

function wire(range: string, values: string[][], now: number): WireRead {
  return { range, values, fetchedAt: now, expiresAt: now + 60_000, stale: false, staleSeconds: 0, pendingRows: 0, backend: 'google', now };
}

describe('worker L1 cache', () => {
  it('a range bigger than the whole cache is still held, next to small ones, not dropped', () => {
    const l1 = new L1Cache(4096);
    const now = Date.now();
    l1.set('Players', wire('Players', [['a']], now), now);
    const big = Array.from({ length: 200 }, (_, i) => [`row${i}`, 'x'.repeat(50)]);
    l1.set('Events', wire('Events', big, now), now);
    assert.equal(l1.peek('Events')?.read.values.length, 200);
    assert.ok(l1.peek('Players'), 'a small range stays next to it');
    l1.set('Teams', wire('Teams', [['b']], now), now);
    assert.equal(l1.peek('Events')?.read.values.length, 200, 'and is not evicted by the next small one');
  });
  it("counts a copy at what its rows take of the heap, over twice their JSON for short cells, and never over half the budget", () => {
    const now = Date.now();
    const rows = Array.from({ length: 10_000 }, (_, i) => [`ev-${i}`, 'P001', 'goal', `detail ${i}`, '2024-03-02']);
    const json = JSON.stringify(rows).length;
    const l1 = new L1Cache(64 << 20);
    l1.set('Events', wire('Events', rows, now), now);
    // Measured heap (copy-size.ts): 2.1-3.7 times the JSON for short cells, counted higher where
    // V8 shares short strings; the JSON length, counted before, let a worker hold several times
    // its CORRAL_L1_CACHE_MB.
    assert.ok(l1.bytes >= 2 * json, `${l1.bytes} bytes counted for ${json} of JSON`);
    assert.ok(l1.bytes <= 5 * json, `${l1.bytes} bytes counted for ${json} of JSON`);
    const small = new L1Cache(json);
    small.set('Events', wire('Events', rows, now), now);
    assert.equal(small.bytes, Math.floor(json / 2), 'a range over half the budget counts as half, and is held');
    assert.equal(small.peek('Events')?.read.values.length, 10_000);
  });
  it("a refresh answered unchanged keeps the entry's rows (the same arrays) with the answer's times; one about another copy is not taken", () => {
    const l1 = new L1Cache(1 << 20);
    const t0 = Date.now();
    const base = l1.set('Players', { ...wire('Players', [['name'], ['Alice']], t0), copy: 'e.1' }, t0);
    const t1 = t0 + 61_000;
    const same: WireUnchanged = { range: 'Players', copy: 'e.1', unchanged: true, fetchedAt: t1, expiresAt: t1 + 60_000, stale: false, staleSeconds: 0, pendingRows: 0, backend: 'google', now: t1 };
    const kept = l1.setUnchanged('Players', base, same, t1);
    assert.ok(kept);
    assert.equal(kept.read.values, base.read.values, 'the same rows');
    assert.equal(l1.peek('Players'), kept);
    assert.equal(kept.read.fetchedAt, t1);
    assert.equal(kept.holdUntil, t1 + 60_000, 'held until the new expiry');
    assert.equal(kept.read.copy, 'e.1');
    assert.equal('unchanged' in kept.read, false);
    // A stale "unchanged" (the keeper's refresh running) is held a moment, as any stale answer.
    const stale = l1.setUnchanged('Players', kept, { ...same, stale: true, staleSeconds: 2, expiresAt: t1 - 2000 }, t1);
    assert.equal(stale?.read.values, base.read.values);
    assert.ok((stale?.holdUntil ?? 0) <= t1 + 1000);
    // Not the copy named: nothing taken.
    assert.equal(l1.setUnchanged('Players', kept, { ...same, copy: 'e.2' }, t1), undefined);
    const unnamed = l1.set('Events', wire('Events', [['id']], t0), t0);
    assert.equal(l1.setUnchanged('Events', unnamed, { ...same, range: 'Events' }, t1), undefined, 'an entry with no name (an older keeper) is never unchanged');
    // A copy whose tab was expired while its read was on its way is kept, but not held (set()'s rule).
    const version = l1.versionOf('Players');
    l1.expireSheet('Players');
    const late = l1.setUnchanged('Players', kept, same, t1, version);
    assert.equal(late?.read.values, base.read.values);
    assert.equal(late?.holdUntil, 0);
  });
});
