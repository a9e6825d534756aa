// The host counters' table in shared memory (native/host_counters.c, src/counter-table.ts): it
// counts as the in-process window counters do, exactly across real processes counting at once,
// survives a process killed mid-count, and, full, hands new keys to the master.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COUNTER_TABLE_MAX_LIMIT, createCounterTable, openCounterTable } from '../../src/counter-table.js';
import { createWindowCounters } from '../../src/window-counters.js';
import { createCounterClient } from '../../src/worker/counter-client.js';
import { createSharedCounters } from '../../src/worker/shared-counters.js';
import { waitFor } from '../helpers/corral.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/counter-table-child.js');
const BIG = 1_000_000;

const fds: number[] = [];
function newTable(slots?: number, gauges?: number) {
  const fd = createCounterTable(slots, gauges);
  fds.push(fd);
  return { fd, table: openCounterTable(fd) };
}

interface Child {
  readonly proc: ChildProcess;
  said(text: string): Promise<void>;
  /** What it has printed so far. */
  output(): string;
  readonly exited: Promise<number | null>;
}

/** A real process counting in the table behind `fd` (its fd 3). */
function child(fd: number, args: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, ...args], { stdio: ['pipe', 'pipe', 'inherit', fd] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, exited, output: () => out, said: async (text) => void (await waitFor(() => out.includes(text), 30_000, `child to say ${text}`)) };
}

/** Children in 'hits' mode, started together once every one of them is ready; resolves to their exit codes. */
async function together(children: Child[]): Promise<(number | null)[]> {
  await Promise.all(children.map((c) => c.said('ready')));
  for (const c of children) c.proc.stdin?.write('go\n');
  return Promise.all(children.map((c) => c.exited));
}

after(() => {
  for (const fd of fds) closeSync(fd);
});

// binding.gyp builds the addon on x86-64 only; elsewhere the workers count through the master.
describe('host counter table', { skip: process.arch !== 'x64' && 'the host_counters addon is built on x86-64 only' }, () => {
  it('counts hits and peeks as the in-process window counters do', async () => {
    const { table } = newTable(1024);
    const reference = createWindowCounters();
    for (let i = 0; i < 5; i++) {
      const peek = table.count('198.51.100.7', 3, 60, true);
      const refPeek = await reference.peek('198.51.100.7', 3);
      assert.deepEqual([peek?.allowed, peek?.remaining], [refPeek.allowed, refPeek.remaining], `peek before hit ${i + 1}`);
      const hit = table.count('198.51.100.7', 3, 60, false);
      const refHit = await reference.hit('198.51.100.7', 3);
      assert.deepEqual([hit?.allowed, hit?.remaining], [refHit.allowed, refHit.remaining], `hit ${i + 1}`);
      assert.ok(hit && hit.msBeforeReset > 59_000 && hit.msBeforeReset <= 60_000, `msBeforeReset ${hit?.msBeforeReset}`);
    }
    // A key without hits: a hit now would be allowed, and there is no window yet.
    assert.deepEqual(table.count('198.51.100.8', 3, 60, true), { allowed: true, remaining: 3, msBeforeReset: 0 });
  });

  it('keeps a key counted with another limit or window apart', () => {
    const { table } = newTable(1024);
    table.count('k', 2, 60, false);
    table.count('k', 2, 60, false);
    assert.equal(table.count('k', 2, 60, false)?.allowed, false);
    assert.equal(table.count('k', 5, 60, false)?.remaining, 4);
    const long = table.count('k', 2, 900, false);
    assert.equal(long?.remaining, 1);
    assert.ok(long && long.msBeforeReset > 899_000);
  });

  it('a window ends windowSeconds after its first hit, and the next hit starts a new one', async () => {
    const { table } = newTable(1024);
    table.count('k', 2, 1, false);
    table.count('k', 2, 1, false);
    assert.equal(table.count('k', 2, 1, false)?.allowed, false);
    await waitFor(() => table.count('k', 2, 1, true)?.msBeforeReset === 0, 5_000, 'the 1 s window to end');
    assert.deepEqual(table.count('k', 2, 1, true), { allowed: true, remaining: 2, msBeforeReset: 0 });
    const fresh = table.count('k', 2, 1, false);
    assert.equal(fresh?.remaining, 1);
    assert.ok(fresh && fresh.msBeforeReset > 900, `msBeforeReset ${fresh?.msBeforeReset}`);
  });

  it('hits from several processes at once reach the exact total, on one hot key and on keys they all insert at once', async () => {
    const { fd, table } = newTable(4096);
    const fresh = Array.from({ length: 200 }, (_, i) => `2001:db8:${i}::`);
    const keys = ['hot', ...fresh].join(',');
    assert.deepEqual(await together(Array.from({ length: 4 }, () => child(fd, ['hits', '2000', keys]))), [0, 0, 0, 0]);
    // Each child hit every key 2000 times: 4 × 2000 per key, none lost, none counted twice.
    assert.equal(BIG - (table.count('hot', BIG, 60, true)?.remaining ?? 0), 8000);
    for (const key of fresh) assert.equal(BIG - (table.count(key, BIG, 60, true)?.remaining ?? 0), 8000, key);
  });

  it('a process killed while counting leaves the table usable and its hits counted', async () => {
    const { fd, table } = newTable(1024);
    const counting = child(fd, ['forever', 'k']);
    await counting.said('counting');
    await waitFor(() => BIG - (table.count('k', BIG, 60, true)?.remaining ?? 0) > 100_000, 30_000, 'the child to count 100000 hits');
    counting.proc.kill('SIGKILL');
    await counting.exited;
    const before = BIG - (table.count('k', BIG, 60, true)?.remaining ?? 0);
    assert.equal(table.count('k', BIG, 60, false)?.remaining, BIG - before - 1);
    assert.deepEqual(await together([child(fd, ['hits', '1000', 'k,other']), child(fd, ['hits', '1000', 'k,other'])]), [0, 0]);
    assert.equal(BIG - (table.count('k', BIG, 60, true)?.remaining ?? 0), before + 1 + 2000);
    assert.equal(BIG - (table.count('other', BIG, 60, true)?.remaining ?? 0), 2000);
  });

  it('full, it has no room for new keys (to be counted by the master) and keeps counting the keys it holds', () => {
    const { table } = newTable(64);
    assert.equal(table.count('kept', 10, 60, false)?.remaining, 9);
    const answered = Array.from({ length: 100 }, (_, i) => table.count(`key-${i}`, 10, 60, false) !== undefined);
    const firstRefused = answered.indexOf(false);
    assert.ok(firstRefused > 0 && firstRefused < 64, `first key without room: ${firstRefused}`);
    // Once full, every new key goes elsewhere: one that found room later would be counted in two places.
    assert.deepEqual(answered.slice(firstRefused), answered.slice(firstRefused).map(() => false));
    assert.equal(table.count('kept', 10, 60, false)?.remaining, 8);
    assert.equal(table.count('key-0', 10, 60, false)?.remaining, 8);
    // A peek at a key the table does not hold cannot say it has no hits: the master may hold them.
    assert.equal(table.count('never-seen', 10, 60, true), undefined);
  });

  it('the worker counts what the table has no room for, and limits above what it counts, in the master', async () => {
    const { table } = newTable(64);
    for (let i = 0; table.count(`filler-${i}`, 2, 60, false) !== undefined; i++);
    const master = createWindowCounters();
    const counters = createSharedCounters(table, master);
    const hits = [await counters.hit('203.0.113.9', 2), await counters.hit('203.0.113.9', 2), await counters.hit('203.0.113.9', 2)];
    assert.deepEqual(hits.map((h) => h.allowed), [true, true, false]);
    assert.equal((await master.peek('203.0.113.9', 2)).allowed, false);
    const over = COUNTER_TABLE_MAX_LIMIT + 1;
    await counters.hit('filler-0', over);
    assert.equal((await master.peek('filler-0', over)).remaining, over - 1);
    await assert.rejects(counters.hit('k', 2, { windowSeconds: 1.5 }), { code: 'CORRAL_ERR_COUNTER_INVALID' });
  });

  it('a key that is not a string is refused at once with CORRAL_ERR_COUNTER_INVALID, in the table, through the master and in-process alike', async () => {
    const { table } = newTable(64);
    const sent: unknown[] = [];
    const viaMaster = createCounterClient((m) => (sent.push(m), true), { timeoutMs: 60_000 });
    const inTable = createSharedCounters(table, viaMaster);
    const inProcess = createWindowCounters();
    for (const counters of [inTable, viaMaster, inProcess]) {
      for (const key of [12345, undefined, null, { ip: '203.0.113.9' }] as unknown as string[]) {
        // A rejection, never a synchronous throw: `counters.hit(...).catch(...)` must see it.
        let thrown: unknown;
        let answer: Promise<unknown> | undefined;
        try {
          answer = counters.hit(key, 5);
        } catch (err) {
          thrown = err;
        }
        assert.equal(thrown, undefined, `hit(${String(key)}) threw synchronously: ${(thrown as Error | undefined)?.message}`);
        await assert.rejects(answer as Promise<unknown>, { code: 'CORRAL_ERR_COUNTER_INVALID' });
        await assert.rejects(counters.peek(key, 5), { code: 'CORRAL_ERR_COUNTER_INVALID' });
      }
    }
    // Nothing went to the master: a bad key there dropped its whole batch, the other keys with it.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sent, []);
  });

  it('connection gauges: each worker counts in its own, every add answers the host total, and a reset zeroes one', () => {
    const { table } = newTable(64, 8);
    assert.equal(table.gauges, 8);
    assert.deepEqual([table.addConnections(0, 1), table.addConnections(5, 1), table.addConnections(5, 1), table.addConnections(0, -1)], [1, 2, 3, 2]);
    // A worker that exited with two connections open: its gauge is zeroed and the total falls.
    assert.equal(table.resetGauge(5), 2);
    assert.equal(table.addConnections(1, 0), 0);
    assert.throws(() => table.addConnections(8, 1), { code: 'CORRAL_ERR_COUNTER_TABLE' });
    assert.throws(() => createCounterTable(64, 0), { code: 'CORRAL_ERR_COUNTER_TABLE' });
  });

  it('processes taking connections at once under a host cap hold exactly the cap between them, never more', async () => {
    const max = 1000;
    const { fd, table } = newTable(64, 8);
    const fills = Array.from({ length: 4 }, (_, gauge) => child(fd, ['fill', String(gauge), '5000', String(max)]));
    assert.deepEqual(await together(fills), [0, 0, 0, 0]);
    const held = fills.map((c) => Number(/held (\d+)/.exec(c.output())?.[1] ?? NaN));
    // Each kept every connection it took: what they hold, added up, is what the gauges say, and the cap.
    assert.equal(held.reduce((a, b) => a + b, 0), max, `held per process: ${held.join(', ')}`);
    assert.equal(table.addConnections(0, 0), max);
    assert.deepEqual(held.map((_, gauge) => table.resetGauge(gauge)), held);
  });

  it('processes taking and giving back connections around the cap never hold more than it', async () => {
    const max = 50;
    const { fd, table } = newTable(64, 8);
    const churns = Array.from({ length: 4 }, (_, gauge) => child(fd, ['churn', String(gauge), '1500', String(max)]));
    assert.deepEqual(await together(churns), [0, 0, 0, 0]);
    const results = churns.map((c) => /held (\d+) over (\d+)/.exec(c.output())?.slice(1).map(Number) ?? [NaN, NaN]);
    assert.deepEqual(results.map(([, over]) => over), [0, 0, 0, 0], `takes over the cap per process: ${results.map(([, o]) => o).join(', ')}`);
    const held = results.map(([h]) => h ?? NaN);
    assert.ok(held.reduce((a, b) => a + b, 0) <= max);
    assert.deepEqual(held.map((_, gauge) => table.resetGauge(gauge)), held);
  });

  it('room wanted: each refusal is taken once, the count is bounded, and it lapses after its time', async () => {
    const { table } = newTable(64, 8);
    assert.equal(table.takeRoomWanted(), false, 'nothing wanted in a new table');
    assert.deepEqual([table.wantRoom(200, 2), table.wantRoom(200, 2), table.wantRoom(200, 2)], [1, 2, 2], 'at most `max` at once');
    assert.equal(table.roomWanted(), 2);
    assert.deepEqual([table.takeRoomWanted(), table.takeRoomWanted(), table.takeRoomWanted()], [true, true, false]);
    await waitFor(() => table.roomWanted() === 0, 3000, 'the taken count to lapse');

    // A later refusal does not push the end back: the count lapses 2 s after its first, not 3 s
    // (after the second). The table keeps its own clock, so the moments are read, not assumed: a
    // run whose timers a loaded machine held past them proves nothing and is run again.
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
    for (let attempt = 1; ; attempt++) {
      const first = Date.now();
      table.wantRoom(2000, 4);
      await sleep(1000);
      const secondAt = Date.now() - first;
      const counted = table.wantRoom(2000, 4);
      const beforeEnd = table.roomWanted();
      await sleep(first + 2300 - Date.now());
      const checkedAt = Date.now() - first;
      const lapsed = table.roomWanted() === 0;
      if (secondAt < 1900 && checkedAt < secondAt + 2000 - 100) {
        assert.equal(counted, 2, 'the second refusal counted with the first');
        assert.equal(beforeEnd, 2, 'not lapsed before its time');
        assert.ok(lapsed, `lapsed ${checkedAt} ms after the first refusal (the second came at ${secondAt} ms)`);
        break;
      }
      assert.ok(attempt < 3, `timers held too long in 3 runs (last: second refusal at ${secondAt} ms, checked at ${checkedAt} ms)`);
      await waitFor(() => table.roomWanted() === 0, 5000, 'the count to lapse before the next run');
    }
    assert.equal(table.takeRoomWanted(), false, 'a lapsed refusal is not made room for');
    assert.equal(table.wantRoom(1000, 4), 1, 'and counting starts again');
  });

  it('refuses an fd that is not a counter table', () => {
    assert.throws(() => openCounterTable(0), { code: 'CORRAL_ERR_COUNTER_TABLE' });
  });
});
