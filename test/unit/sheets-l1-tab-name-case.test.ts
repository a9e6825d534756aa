// A worker's copies are tied to their tab whatever the case of its name, as Google finds tabs
// (tab-key.ts): the keeper's notice for `Events`, or this worker's own append to `Events`, is about
// the copies it holds of `events!1:1` too.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WireRead } from '../../src/sheets/keeper/protocol.js';
import { L1Cache } from '../../src/sheets/l1-cache.js';

const NOW = 1_000_000;

function wire(range: string): WireRead {
  return { range, values: [['event_id']], fetchedAt: NOW, expiresAt: NOW + 60_000, stale: false, staleSeconds: 0, pendingRows: 0, backend: 'google', now: NOW };
}

function held(): L1Cache {
  const l1 = new L1Cache(1 << 20);
  for (const range of ['events!1:1', 'EVENTS!A:E', 'Players']) l1.set(range, wire(range), NOW);
  return l1;
}

describe('worker L1: a tab whatever the case of its name', () => {
  it("a keeper's notice for Events ends the holds of copies of events and EVENTS, and of no other tab", () => {
    const l1 = held();
    const before = l1.versionOf('events!A:Z');
    l1.expireSheet('Events');
    assert.equal(l1.peek('events!1:1')?.holdUntil, 0, 'the notice for Events is a notice for events');
    assert.equal(l1.peek('events!1:1')?.mayLackRows, true);
    assert.equal(l1.peek('EVENTS!A:E')?.holdUntil, 0);
    assert.equal(l1.peek('Players')?.holdUntil, NOW + 60_000, 'another tab stays held');
    assert.notEqual(l1.versionOf('events!A:Z'), before, 'a read of events begun before the notice is not held');
  });

  it("this worker's own append to Events marks its copies of events as lacking that row", () => {
    const l1 = held();
    const entry = l1.peek('events!1:1')!;
    l1.noteOwnWrite('Events');
    assert.equal(l1.lacksOwnWrite('events!1:1', entry), true, 'read before the append: never served again');
    assert.equal(l1.peek('EVENTS!A:E')?.holdUntil, 0);
    assert.equal(l1.lacksOwnWrite('Players', l1.peek('Players')!), false);
  });
});
