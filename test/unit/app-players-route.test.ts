// GET /api/players' body: built once per copy of the roster's records, and, when a refresh keeps
// the records (the keeper said the roster was unchanged), only its fetch time and staleness made
// again, not the players' JSON.

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import type { AppDeps } from '../../src/app/deps.js';
import type { RequestInfo } from '../../src/app/router.js';
import { HEAD_APART_BYTES, playersRoute } from '../../src/app/routes/players.js';
import type { SheetRead, SheetRecords } from '../../src/sheets/types.js';

/** The body a call of the route writes, with the held copy `sheet`, and in how many writes. */
function answer(sheet: SheetRecords): { status: number; body: string; length: number } {
  let status = 0;
  let body = '';
  let length = 0;
  const res = {
    writeHead(s: number, headers: Record<string, number>) {
      status = s;
      length = headers['Content-Length'] ?? -1;
      return this;
    },
    write(bytes: Buffer) {
      body += bytes.toString('utf8');
      return true;
    },
    end(bytes: Buffer) {
      body += bytes.toString('utf8');
    },
  } as unknown as ServerResponse;
  const deps = { playersRange: 'Players', cachedRecords: () => sheet } as unknown as AppDeps;
  void playersRoute(deps)({ res } as RequestInfo);
  return { status, body, length };
}

function copyOf(records: SheetRecords['records'], fetchedAt: number, stale: boolean): SheetRecords {
  const read: SheetRead = { range: 'Players', values: [], fetchedAt, stale, staleSeconds: stale ? 3 : 0, pendingRows: 0 };
  return { header: ['name', 'code', 'team'], records, read };
}

/** Runs `fn` counting JSON.stringify calls on arrays (the players' list is one). */
function arraysSerialisedBy(fn: () => void): number {
  const real = JSON.stringify;
  let calls = 0;
  JSON.stringify = ((value: unknown, ...rest: never[]) => {
    if (Array.isArray(value)) calls++;
    return real(value, ...rest);
  }) as typeof JSON.stringify;
  try {
    fn();
  } finally {
    JSON.stringify = real;
  }
  return calls;
}

describe('GET /api/players body', () => {
  const records = Object.freeze([
    Object.freeze({ name: 'Alice', code: 'P001', team: 'Red' }),
    Object.freeze({ name: 'Bob', code: 'P002', team: 'Blue' }),
    Object.freeze({ name: '', code: 'P003', team: 'Red' }),
  ]);
  const t0 = Date.UTC(2024, 0, 1, 12, 0, 0);

  it("a refresh that kept the records (same array, new fetch time or staleness) makes only the body's times again, not the players' JSON", () => {
    const first = answer(copyOf(records, t0, false));
    assert.equal(first.status, 200);
    assert.deepEqual(JSON.parse(first.body), {
      players: [
        { name: 'Alice', team: 'Red' },
        { name: 'Bob', team: 'Blue' },
      ],
      count: 2,
      fetched_at: '2024-01-01T12:00:00.000Z',
      stale: false,
    });
    let stale = { status: 0, body: '', length: 0 };
    assert.equal(
      arraysSerialisedBy(() => (stale = answer(copyOf(records, t0, true)))),
      0,
      'the players are not serialised again',
    );
    assert.deepEqual(JSON.parse(stale.body), { ...JSON.parse(first.body), stale: true });
    let refreshed = { status: 0, body: '', length: 0 };
    assert.equal(arraysSerialisedBy(() => (refreshed = answer(copyOf(records, t0 + 30_000, false)))), 0);
    assert.deepEqual(JSON.parse(refreshed.body), { ...JSON.parse(first.body), fetched_at: '2024-01-01T12:00:30.000Z' });
    // The same answer again is the very body.
    assert.equal(arraysSerialisedBy(() => answer(copyOf(records, t0 + 30_000, false))), 0);
  });

  it('other records (the roster changed) are serialised anew', () => {
    answer(copyOf(records, t0, false));
    const other = Object.freeze([Object.freeze({ name: 'Carol', code: 'P009', team: 'Green' })]);
    let body = '';
    assert.equal(arraysSerialisedBy(() => (body = answer(copyOf(other, t0, false)).body)), 1);
    assert.deepEqual(JSON.parse(body).players, [{ name: 'Carol', team: 'Green' }]);
  });
  it("a large roster's players are sent as they were made, their times after them (never copied again); Content-Length counts both", () => {
    const many = Object.freeze(Array.from({ length: 2000 }, (_, i) => Object.freeze({ name: `Player ${i}`, code: `C${i}`, team: 'x'.repeat(40) })));
    const first = answer(copyOf(many, t0, false));
    assert.ok(first.length > HEAD_APART_BYTES);
    assert.equal(Buffer.byteLength(first.body), first.length);
    const parsed = JSON.parse(first.body) as { players: unknown[]; count: number; fetched_at: string; stale: boolean };
    assert.equal(parsed.count, 2000);
    assert.deepEqual(parsed.players[1], { name: 'Player 1', team: 'x'.repeat(40) });
    let refreshed = { status: 0, body: '', length: 0 };
    assert.equal(arraysSerialisedBy(() => (refreshed = answer(copyOf(many, t0 + 30_000, true)))), 0);
    assert.equal(Buffer.byteLength(refreshed.body), refreshed.length);
    assert.deepEqual(JSON.parse(refreshed.body), { ...parsed, fetched_at: '2024-01-01T12:00:30.000Z', stale: true });
  });
});
