import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WireRead } from '../../src/sheets/keeper/protocol.js';
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
});
